import { afterEach, describe, expect, it, vi } from 'vitest';
import { call, expectNoLeak, frozen, JOB, startHarness, submitted } from './helpers';
import type { Harness } from './helpers';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const WAIT = { timeout: 10_000, interval: 5 };

function noLeaks(harness: Harness, ...texts: string[]): void {
  expectNoLeak([...harness.logs, ...texts].join('\n'), [harness.secret]);
  // No full access token either: every token the app used was minted by this emulator, and a JWT has two dots.
  for (const line of harness.logs) expect(line).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
}

describe('job routes against the emulator', () => {
  it('submits a job (202 + our own status URL) and polls it: pending, running, succeeded', async () => {
    h = await startHarness({ jobDurationMs: 3000, clock: frozen() });
    const sent = await call(`${h.url}/jobs`, { body: JOB });
    expect(sent.status).toBe(202);
    const jobId = sent.body['jobId'] as string;
    expect(jobId).toMatch(/^[\w-]+$/);
    expect(sent.body['status']).toBe('pending');
    expect(sent.body['statusUrl']).toBe(`${h.url}/jobs/${jobId}`);
    expect(sent.headers.get('location')).toBe(`${h.url}/jobs/${jobId}`);

    const poll = async (status: string): Promise<Record<string, unknown>> => {
      const r = await call(sent.body['statusUrl'] as string);
      expect(r.status).toBe(200);
      expect(r.body['status']).toBe(status);
      expect(r.headers.get('retry-after')).toBe(status === 'succeeded' ? null : '1');
      return r.body;
    };
    await poll('pending');
    h.emu.advance(1000); // a third of the job's duration: it runs
    await poll('running');
    h.emu.advance(1999);
    await poll('running');
    h.emu.advance(1);
    const last = await poll('succeeded');
    expect(last).toMatchObject({ jobId, status: 'succeeded', result: { input: JOB } });
    // One token for the whole conversation: the provider caches it.
    expect(h.emu.stats.tokensMinted).toBe(1);
    noLeaks(h, JSON.stringify(last));
  });

  it('POST /jobs/run submits, waits and returns the result', async () => {
    h = await startHarness({ jobDurationMs: 200, clock: frozen() });
    const res = call(`${h.url}/jobs/run`, { body: JOB });
    await submitted(h);
    const polls = h.emu.stats.apiRequests;
    await vi.waitFor(() => expect(h!.emu.stats.apiRequests).toBeGreaterThan(polls + 1), WAIT); // it polls a pending job
    h.emu.advance(200);
    expect((await res).status).toBe(200);
    expect((await res).body).toMatchObject({ status: 'succeeded', result: { input: JOB } });
    expect(h.logs.join('\n')).toContain('job finished');
    noLeaks(h);
  });

  it('POST /jobs/run answers 504 problem+json with the status URL when the job outlives its deadline', async () => {
    // The emulator's time stands still: the job never finishes, whatever the app's own deadline timer does.
    h = await startHarness({ jobDurationMs: 60_000, clock: frozen() }, { JOB_RUN_TIMEOUT_MS: 200 });
    const res = await call(`${h.url}/jobs/run`, { body: JOB });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 504, code: 'JOB_TIMEOUT', instance: '/jobs/run', jobStatus: 'pending' });
    expect(res.body['statusUrl']).toBe(`${h.url}/jobs/${String(res.body['jobId'])}`);
  });

  it('finishes a poll loop while tokens expire under it (2 s tokens, 5 s job)', async () => {
    // One clock for the emulator and the app's provider, moved 75 ms per poll the emulator sees: less than the
    // 100 ms of life (5 % of 2 s) the provider keeps in hand, so no token can expire on its way.
    let now = Date.now();
    const clock = (): number => now;
    h = await startHarness({ tokenLifetimeSeconds: 2, jobDurationMs: 5000, clock }, { JOB_POLL_INTERVAL_MS: 5, ims: { clock } });
    const res = call(`${h.url}/jobs/run`, { body: JOB });
    let settled = false;
    void res.then(
      () => (settled = true),
      () => (settled = true),
    );
    const start = now;
    while (!settled && now - start < 10_000) {
      const seen = h.emu.stats.apiRequests;
      await vi.waitFor(() => expect(settled || h!.emu.stats.apiRequests > seen).toBe(true), WAIT);
      now += 75;
    }
    expect((await res).status).toBe(200);
    expect((await res).body).toMatchObject({ status: 'succeeded', result: { input: JOB } });
    // Fresh tokens were taken along the way and no API call was refused for an expired token.
    expect(h.emu.stats.tokensMinted).toBeGreaterThanOrEqual(3);
    expect(h.emu.stats.apiUnauthorized).toBe(0);
    noLeaks(h);
  });

  it('recovers from revoked tokens in the middle of a poll loop (401 -> fresh token -> retry)', async () => {
    h = await startHarness({ jobDurationMs: 2000, clock: frozen() }, { JOB_POLL_INTERVAL_MS: 50 });
    const pending = call(`${h.url}/jobs/run`, { body: JOB });
    await submitted(h); // a token is in use
    h.emu.revokeTokens();
    h.emu.advance(2000); // the next poll finds the job done, once it has a fresh token
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body['status']).toBe('succeeded');
    expect(h.emu.stats.apiUnauthorized).toBeGreaterThanOrEqual(1);
    expect(h.emu.stats.tokensMinted).toBe(2);
  });

  it('validates input: 400 problem+json naming the field, and 400 for broken JSON', async () => {
    h = await startHarness();
    const empty = await call(`${h.url}/jobs`, { body: { prompt: '' } });
    expect(empty.status).toBe(400);
    expect(empty.headers.get('content-type')).toBe('application/problem+json');
    expect(empty.body).toMatchObject({ code: 'INVALID_INPUT', errors: [{ field: 'prompt' }] });
    const broken = await call(`${h.url}/jobs`, { body: '{"prompt":' });
    expect(broken.status).toBe(400);
    expect(broken.body['code']).toBe('INVALID_JSON');
    const badId = await call(`${h.url}/jobs/${encodeURIComponent('../../whoami')}`);
    expect(badId.status).toBe(400);
    expect(badId.body['code']).toBe('INVALID_JOB_ID');
    // Nothing reached Adobe (or IMS) for invalid input.
    expect(h.emu.stats.apiRequests).toBe(0);
    expect(h.emu.stats.tokenRequests).toBe(0);
  });

  it('a form-encoded or text body: 415 asking for JSON, not a validation error', async () => {
    h = await startHarness();
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'prompt=a+lighthouse'],
      ['text/plain', 'a lighthouse'],
    ] as const) {
      const res = await call(`${h.url}/jobs`, { body, headers: { 'content-type': type } });
      expect(res.status, type).toBe(415);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
      expect(res.body['detail']).toContain('application/json');
    }
    expect(h.emu.stats.apiRequests).toBe(0);
  });

  it('answers 404 problem+json for an unknown job and an unknown route', async () => {
    h = await startHarness();
    const job = await call(`${h.url}/jobs/does-not-exist`);
    expect(job.status).toBe(404);
    expect(job.body).toMatchObject({ code: 'JOB_NOT_FOUND', status: 404, instance: '/jobs/does-not-exist' });
    const route = await call(`${h.url}/nope?x=1`);
    expect(route.status).toBe(404);
    expect(route.body).toMatchObject({ code: 'NOT_FOUND', instance: '/nope' });
  });

  it('serves /readyz (imsHealth) and /whoami without showing the token', async () => {
    h = await startHarness();
    const health = await call(`${h.url}/readyz`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', scopes: ['openid', 'AdobeID', 'firefly_api'] });
    expect(health.body['expiresIn']).toBeGreaterThan(80_000);
    const who = await call(`${h.url}/whoami`);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ clientId: h.clientId, scopes: ['openid', 'AdobeID', 'firefly_api'], authServer: 'ims-na1' });
    noLeaks(h, JSON.stringify([health.body, who.body]));
    expect(JSON.stringify(who.body)).not.toMatch(/eyJ/);
  });
});

describe('IMS and Adobe API failures', () => {
  it('IMS answering 503: problem+json 503 from the routes and /readyz (not /livez), then recovery after clearFaults()', async () => {
    h = await startHarness();
    h.emu.fault({ kind: 'status', status: 503, times: Infinity });
    const job = await call(`${h.url}/jobs`, { body: JOB });
    expect(job.status).toBe(503);
    expect(job.headers.get('content-type')).toBe('application/problem+json');
    expect(job.body).toMatchObject({ status: 503, code: 'IMS_SERVER_ERROR', instance: '/jobs' });
    const health = await call(`${h.url}/readyz`);
    expect(health.status).toBe(503);
    // Liveness does not depend on IMS: an IMS outage must not make an orchestrator restart the pod.
    expect((await call(`${h.url}/livez`)).status).toBe(200);
    expect(health.body).toMatchObject({ status: 'unavailable', code: 'IMS_SERVER_ERROR' });
    expect(h.emu.stats.apiRequests).toBe(0);

    h.emu.clearFaults();
    const again = await call(`${h.url}/jobs`, { body: JOB });
    expect(again.status).toBe(202);
    expect((await call(`${h.url}/readyz`)).status).toBe(200);
    noLeaks(h, JSON.stringify([job.body, health.body]));
  });

  it('IMS throttling (429 + Retry-After): 503 problem+json with Retry-After, then recovery', async () => {
    h = await startHarness();
    h.emu.fault({ kind: 'status', status: 429, retryAfter: 7, times: Infinity });
    const res = await call(`${h.url}/jobs/run`, { body: JOB });
    expect(res.status).toBe(503);
    expect(res.body['code']).toBe('IMS_RATE_LIMITED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    h.emu.clearFaults();
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);
  });

  it('a wrong client secret: 502 problem+json that leaks neither secret nor client id, logged with the request id', async () => {
    const wrong = 'p8e-this-is-not-the-secret';
    h = await startHarness({}, { ims: { clientSecret: wrong } });
    const res = await call(`${h.url}/jobs`, { body: JOB, headers: { 'x-request-id': 'req-wrong-secret' } });
    expect(res.headers.get('x-request-id')).toBe('req-wrong-secret');
    const logged = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['reqId'] === 'req-wrong-secret');
    expect(logged.some((l) => l['level'] === 50 && String(l['msg']).includes('IMS_INVALID_CLIENT'))).toBe(true);
    expect(res.status).toBe(502);
    expect(res.body['code']).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(JSON.stringify(res.body), [wrong, h.secret, h.clientId]);
    expectNoLeak(h.logs.join('\n'), [wrong, h.secret]);
  });

  it('the Adobe API failing: 503 when it is busy, 502 when it errors, and back to normal afterwards', async () => {
    h = await startHarness();
    h.emu.fault({ target: 'api', kind: 'status', status: 503, retryAfter: 3 });
    const busy = await call(`${h.url}/jobs`, { body: JOB });
    expect(busy.status).toBe(503);
    expect(busy.body).toMatchObject({ code: 'ADOBE_API_UNAVAILABLE', upstreamStatus: 503 });
    expect(busy.headers.get('retry-after')).toBe('3');
    h.emu.fault({ target: 'api', kind: 'status', status: 500 });
    const broken = await call(`${h.url}/jobs`, { body: JOB });
    expect(broken.status).toBe(502);
    expect(broken.body['code']).toBe('ADOBE_API_ERROR');
    // A 5xx answer is logged at error level with its request id.
    const id = broken.headers.get('x-request-id');
    expect(id).toMatch(/^[\w-]{8,}$/);
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['reqId'] === id);
    expect(lines.some((l) => l['level'] === 50 && l['code'] === 'ADOBE_API_ERROR')).toBe(true);
    h.emu.fault({ target: 'api', kind: 'reset' });
    const reset = await call(`${h.url}/jobs`, { body: JOB });
    expect(reset.status).toBe(502);
    expect(reset.body['code']).toBe('ADOBE_API_UNREACHABLE');
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);
  });
});

/**
 * METRICS=prometheus: Prometheus scrapes the token metrics at /metrics while the emulator injects
 * failures, and the counters move as an operator's alert rules (README, "Metrics") expect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startMetrics } from '../src/metrics';
import type { Metrics } from '../src/metrics';
import { call, cleanEnv, DEV, expectNoLeak, JOB, runMain, startHarness } from './helpers';
import type { Child, Harness } from './helpers';

let h: Harness | undefined;
let metrics: Metrics | undefined;
let child: Child | undefined;
afterEach(async () => {
  await h?.stop();
  await metrics?.close();
  if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  h = metrics = child = undefined;
});

/** One scrape: `name{labels} value` lines → value, for the series whose labels include every `labels` pair. */
async function scrape(url: string): Promise<{ text: string; value(name: string, labels?: Record<string, string>): number | undefined }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  return {
    text,
    value(name, labels = {}) {
      let sum: number | undefined;
      for (const line of text.split('\n')) {
        const m = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
      }
      return sum;
    },
  };
}

describe('METRICS=prometheus', () => {
  it('counts failed and successful mints, cache hits and 401 invalidations by verdict as the emulator fails', async () => {
    const m = (metrics = (await startMetrics({ METRICS: 'prometheus', METRICS_PORT: '0' }))!);
    h = await startHarness({ jobDurationMs: 0 });
    const cred = { ims_token_client_id: h.clientId, ims_token_scopes: 'AdobeID,firefly_api,openid' };

    // 1. IMS answers 503 from the start: the mint fails after its retries, the route answers 503, no token is held.
    h.emu.fault({ kind: 'status', status: 503, times: Infinity });
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(503);
    let s = await scrape(m.url);
    expect(s.value('ims_token_mints_total', { ...cred, ims_token_outcome: 'failure', error_type: 'IMS_SERVER_ERROR' })).toBe(1);
    expect(s.value('ims_token_ims_request_duration_count', { ...cred, http_response_status_code: '503' })).toBeGreaterThanOrEqual(2);
    expect(s.value('ims_token_token_remaining_life', cred)).toBeUndefined();

    // 2. IMS recovers: one mint, then cached tokens; the gauges show the token and the secret in use.
    h.emu.clearFaults();
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);
    s = await scrape(m.url);
    expect(s.value('ims_token_mints_total', { ...cred, ims_token_outcome: 'success' })).toBe(1);
    expect(s.value('ims_token_mint_duration_count', cred)).toBe(2);
    expect(s.value('ims_token_get_token_calls_total', { ...cred, ims_token_cache_result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ims_token_token_remaining_life', cred)).toBeGreaterThan(86_000);
    expect(s.value('ims_token_token_lifetime', cred)).toBe(86_399);
    expect(s.value('ims_token_secret_index', cred)).toBe(0);

    // 3. Adobe revokes the token: the API's 401 invalidates it (verdict refresh), one mint replaces it.
    h.emu.revokeTokens(h.clientId);
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);
    s = await scrape(m.url);
    expect(s.value('ims_token_invalidations_total', { ...cred, ims_token_invalidation_verdict: 'refresh' })).toBe(1);
    expect(s.value('ims_token_mints_total', { ...cred, ims_token_outcome: 'success', ims_token_mint_reason: 'invalidated' })).toBe(1);

    // 4. 401s again at once: a fresh token did not cure them, so core refuses to mint (the 401 spike the alert watches).
    h.emu.revokeTokens(h.clientId);
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(502);
    s = await scrape(m.url);
    expect(s.value('ims_token_invalidations_total', { ...cred, ims_token_invalidation_verdict: 'refuse' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ims_token_mints_total', { ...cred, ims_token_outcome: 'success' })).toBe(2);
    expectNoLeak(s.text, [h.secret]);
    expect(s.text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });

  it('a background refresh failing while the token still serves: the series of the two token-life alerts', async () => {
    const m = (metrics = (await startMetrics({ METRICS: 'prometheus', METRICS_PORT: '0' }))!);
    let now = Date.now();
    const clock = (): number => now;
    h = await startHarness(
      { jobDurationMs: 0, clock, tokenLifetimeSeconds: 1000 },
      { ims: { clock, minRemainingMs: 5_000, refreshWindowMs: 200_000, maxRetries: 0 } },
    );
    const cred = { ims_token_client_id: h.clientId, ims_token_scopes: 'AdobeID,firefly_api,openid' };
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202);

    now += 910_000; // 90 s of a 1000 s token left: inside the refresh window, below 10 % of its life
    h.emu.fault({ kind: 'status', status: 503, times: Infinity });
    expect((await call(`${h.url}/jobs`, { body: JOB })).status).toBe(202); // the current token still serves
    await expect.poll(async () => (await scrape(m.url)).value('ims_token_refresh_failures_total', cred)).toBeGreaterThanOrEqual(1);
    const s = await scrape(m.url);
    expect(s.value('ims_token_refresh_failures_total', { ...cred, error_type: 'IMS_SERVER_ERROR' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ims_token_token_remaining_life', cred)! / s.value('ims_token_token_lifetime', cred)!).toBeCloseTo(0.09, 3);
    expect(
      s.value('ims_token_mints_total', { ...cred, ims_token_outcome: 'failure', ims_token_mint_reason: 'refresh-ahead' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('unset: no endpoint and nothing loaded; a wrong value is a config error naming the variable', async () => {
    expect(await startMetrics({})).toBeUndefined();
    await expect(startMetrics({ METRICS: 'statsd' })).rejects.toMatchObject({ problems: [{ variable: 'METRICS' }] });
    await expect(startMetrics({ METRICS: 'prometheus', METRICS_PORT: 'x' })).rejects.toMatchObject({
      problems: [{ variable: 'METRICS_PORT' }],
    });
  });

  it('the built app (npm run dev: against the emulator) logs the metrics URL at start and serves /metrics there', async () => {
    child = runMain(cleanEnv({ PORT: '0', METRICS: 'prometheus', METRICS_PORT: '0' }), DEV);
    const [, url] = await child.waitFor(/"metrics":"(http:\/\/[^"]+)"/);
    const s = await scrape(url!);
    expect(s.text).toContain('# TYPE ims_token_get_token_calls_total counter');
  });
});

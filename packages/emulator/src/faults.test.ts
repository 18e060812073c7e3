import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator } from './index';
import type { Emulator } from './index';
import { mint, tokenRequest, UUID } from './test/helpers';

const FORM = { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET, scope: 'openid' };

function post(emu: Emulator, signal?: AbortSignal): Promise<Response> {
  return fetch(`${emu.url}/ims/token/v3`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(FORM).toString(),
    signal,
  });
}

describe('fault injection', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.stop();
  });
  beforeEach(() => {
    emu.clearFaults();
    emu.resetStats();
  });

  it('status: Adobe-shaped error JSON, once, then normal', async () => {
    emu.fault({ kind: 'status', status: 503 });
    const r = await tokenRequest(emu, FORM);
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: 'server_error', error_description: expect.any(String) });
    expect(r.headers.get('x-debug-id')).toMatch(UUID);
    expect((await tokenRequest(emu, FORM)).status).toBe(200);
    expect(emu.stats).toMatchObject({ faultsApplied: 1, tokenRequests: 2, tokensMinted: 1, tokenErrors: 0 });
  });

  it('status 429 with Retry-After (seconds or date)', async () => {
    emu.fault({ kind: 'status', status: 429, retryAfter: 2 });
    const date = new Date(emu.now() + 5000).toUTCString();
    emu.fault({ kind: 'status', status: 429, retryAfter: date });
    const a = await tokenRequest(emu, FORM);
    expect(a.status).toBe(429);
    expect(a.body['error']).toBe('too_many_requests');
    expect(a.headers.get('retry-after')).toBe('2');
    const b = await tokenRequest(emu, FORM);
    expect(b.headers.get('retry-after')).toBe(date);
  });

  it('times: N and Infinity', async () => {
    emu.fault({ kind: 'status', status: 500, times: 2 });
    expect((await tokenRequest(emu, FORM)).status).toBe(500);
    expect((await tokenRequest(emu, FORM)).status).toBe(500);
    expect((await tokenRequest(emu, FORM)).status).toBe(200);
    emu.fault({ kind: 'status', status: 502, times: Infinity });
    for (let i = 0; i < 5; i++) expect((await tokenRequest(emu, FORM)).status).toBe(502);
    emu.clearFaults();
    expect((await tokenRequest(emu, FORM)).status).toBe(200);
  });

  it('probability: a rule applies to about that share of matching requests, the same ones for the same seed', async () => {
    const run = async (): Promise<number[]> => {
      emu.clearFaults();
      emu.fault({ kind: 'status', status: 503, times: Infinity, probability: 0.3, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 200; i++) statuses.push((await tokenRequest(emu, FORM)).status);
      return statuses;
    };
    const a = await run();
    const failed = a.filter((s) => s === 503).length;
    expect(failed).toBeGreaterThan(40); // 200 × 0.3 = 60; 40..80 is more than 3 standard deviations (≈ 6.5) either way
    expect(failed).toBeLessThan(80);
    expect(a.filter((s) => s !== 503).every((s) => s === 200)).toBe(true); // a skipped request is handled normally
    expect(await run()).toEqual(a); // same seed, same requests fail
  });

  it('probability: a skipped request goes on to the next rule; times counts applications', async () => {
    emu.fault({ kind: 'status', status: 503, times: 3, probability: 0.5, seed: 7 });
    emu.fault({ kind: 'status', status: 429, retryAfter: 1, times: Infinity });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await tokenRequest(emu, FORM)).status);
    expect(statuses.filter((s) => s === 503)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(27);
    expect(emu.stats.faultsApplied).toBe(30);
  });

  it('probability over the control API, and invalid values', async () => {
    const res = await fetch(`${emu.url}/__emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'reset', times: 'Infinity', probability: 1, seed: 1 }),
    });
    expect(res.status).toBe(201);
    await expect(post(emu)).rejects.toThrow();
    const bad = await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ kind: 'reset', probability: 2 }) });
    expect(bad.status).toBe(400);
    expect(() => emu.fault({ kind: 'status', probability: 0 })).toThrow(RangeError);
    expect(() => emu.fault({ kind: 'status', probability: Number.NaN })).toThrow(RangeError);
    expect(() => emu.fault({ kind: 'status', probability: 0.5, seed: 1.5 })).toThrow(TypeError);
  });

  it('targets: token faults leave the API alone, api/secrets/any', async () => {
    const token = await mint(emu);
    const headers = { authorization: `Bearer ${token}`, 'x-api-key': DEFAULT_CLIENT_ID };
    emu.fault({ kind: 'status', status: 500 });
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers })).status).toBe(200);
    expect((await tokenRequest(emu, FORM)).status).toBe(500);
    emu.fault({ kind: 'status', status: 503, target: 'api' });
    expect((await tokenRequest(emu, FORM)).status).toBe(200);
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers })).status).toBe(503);
    emu.fault({ kind: 'status', status: 500, target: 'secrets' });
    expect((await fetch(`${emu.url}/console/organizations/x/credentials/y/secrets`, { headers })).status).toBe(500);
    emu.fault({ kind: 'status', status: 418, target: 'any', times: 2 });
    expect((await fetch(`${emu.url}/__emulator/stats`)).status).toBe(200);
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers })).status).toBe(418);
    expect((await tokenRequest(emu, FORM)).status).toBe(418);
  });

  it('latency: holds the answer back, then answers normally', async () => {
    // Latency is real time (it is about the network), so the test says what it means without timing it: a request
    // held for a minute has not answered while a later one has, and a short hold still ends in a normal answer.
    const slow = await startEmulator();
    slow.fault({ kind: 'latency', latencyMs: 60_000 });
    const outcome = post(slow).then(
      () => 'answered',
      () => 'dropped',
    );
    expect((await tokenRequest(slow, FORM)).status).toBe(200);
    expect(await Promise.race([outcome, Promise.resolve('still held')])).toBe('still held');
    expect(slow.stats).toMatchObject({ tokenRequests: 2, tokensMinted: 1, faultsApplied: 1 });
    await slow.stop(); // ends the held request and its timer
    expect(await outcome).toBe('dropped');

    emu.fault({ kind: 'latency', latencyMs: 5 });
    const r = await tokenRequest(emu, FORM);
    expect(r.status).toBe(200);
    expect(emu.stats).toMatchObject({ tokensMinted: 1, faultsApplied: 1 });
  });

  it('reset: drops the connection', async () => {
    emu.fault({ kind: 'reset' });
    await expect(post(emu)).rejects.toThrow();
    expect((await post(emu)).status).toBe(200);
  });

  it('reset-mid-body: headers then half a body', async () => {
    emu.fault({ kind: 'reset-mid-body' });
    const res = await post(emu);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('hang: never answers (the client times out)', async () => {
    emu.fault({ kind: 'hang' });
    await expect(post(emu, AbortSignal.timeout(200))).rejects.toThrow(/timeout|aborted/i);
  });

  it('malformed: 200 with invalid JSON', async () => {
    emu.fault({ kind: 'malformed' });
    const res = await post(emu);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json;charset=utf-8');
    const text = await res.text();
    expect(text).toBe('{"access_token": "abc');
    expect(() => JSON.parse(text)).toThrow();
  });

  it('html: an HTML error page', async () => {
    emu.fault({ kind: 'html' });
    emu.fault({ kind: 'html', status: 504 });
    const a = await post(emu);
    expect(a.status).toBe(502);
    expect(a.headers.get('content-type')).toBe('text/html');
    expect(await a.text()).toContain('<html>');
    expect((await post(emu)).status).toBe(504);
  });

  it('response: exact status, body and headers', async () => {
    emu.fault({ kind: 'response', status: 200, body: { access_token: 'x', token_type: 'bearer' }, headers: { 'x-extra': '1' } });
    emu.fault({ kind: 'response', status: 200, body: '{"expires_in":"soon"}' });
    emu.fault({ kind: 'response', status: 429, retryAfter: 1, body: { error: 'too_many_requests' } });
    const a = await post(emu);
    expect(await a.json()).toEqual({ access_token: 'x', token_type: 'bearer' });
    expect(a.headers.get('x-extra')).toBe('1');
    expect(await (await post(emu)).text()).toBe('{"expires_in":"soon"}');
    const c = await post(emu);
    expect(c.status).toBe(429);
    expect(c.headers.get('retry-after')).toBe('1');
    expect(emu.stats.faultsApplied).toBe(3);
  });

  it('gateway kinds: the Adobe API gateway and Firefly answers, on the sample API by default', async () => {
    const token = await mint(emu);
    const headers = { authorization: `Bearer ${token}`, 'x-api-key': DEFAULT_CLIENT_ID };
    const whoami = (): Promise<Response> => fetch(`${emu.url}/api/v1/whoami`, { headers });
    emu.fault({ kind: 'token-invalid' });
    emu.fault({ kind: 'api-key-invalid' });
    emu.fault({ kind: 'access-error' });
    emu.fault({ kind: 'backpressure-limited', retryAfter: 3 });
    expect((await tokenRequest(emu, FORM)).status).toBe(200); // the token endpoint is not their target

    const a = await whoami();
    expect(a.status).toBe(401);
    expect(await a.json()).toEqual({ error_code: '401013', message: 'Oauth token is not valid' });
    const b = await whoami();
    expect(b.status).toBe(403);
    expect(await b.json()).toEqual({ error_code: '403003', message: 'Api Key is invalid' });
    const c = await whoami();
    expect(c.status).toBe(403);
    expect(await c.json()).toEqual({ error_code: 'access_error', message: expect.any(String) });
    const d = await whoami();
    expect(d.status).toBe(429);
    expect(d.headers.get('retry-after')).toBe('3');
    expect(await d.json()).toEqual({ error_code: 'backpressure_limited', message: expect.any(String) });
    expect((await whoami()).status).toBe(200);
    expect(emu.stats).toMatchObject({ faultsApplied: 4, apiUnauthorized: 1 });
  });

  it('rejects invalid rules', () => {
    expect(() => emu.fault({ kind: 'nope' as never })).toThrow(TypeError);
    expect(() => emu.fault({ kind: 'status', times: 0 })).toThrow(RangeError);
    expect(() => emu.fault({ kind: 'latency' })).toThrow(TypeError);
  });
});

describe('stop()', () => {
  it('closes hung and keep-alive connections', async () => {
    let arrived!: () => void;
    const hanging = new Promise<void>((resolve) => (arrived = resolve));
    const emu = await startEmulator({ logger: (line) => line.endsWith('fault=hang') && arrived() });
    emu.fault({ kind: 'hang', times: Infinity });
    const { port } = emu;
    const hung = new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/ims/token/v3' }, () => resolve('answered'));
      req.on('error', (err) => resolve(`error: ${err.message}`));
      req.end('grant_type=client_credentials');
    });
    await hanging; // the request is in, held by the fault
    await emu.stop(); // resolves although a request is still open (a hung stop() would time the test out)
    expect(await hung).toMatch(/^error/);
    await emu.stop(); // idempotent
    await expect(fetch(`${emu.url}/__emulator/stats`)).rejects.toThrow();
  });
});

import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImsFetch } from './index';
import type { ImsFetch } from './index';
import { expectNoLeak, recordingDispatcher, renderings, setup, startRecorder } from './test/helpers';
import type { Env, Recorder } from './test/helpers';

let env: Env;
let allowed: Recorder; // a plain server on 127.0.0.1, a host the tests allow
let other: Recorder; // "some other host": 127.0.0.2, never allowed
let provider: TokenProvider;
let imsFetch: ImsFetch;
const agent = new Agent();

beforeAll(async () => {
  env = await setup();
  allowed = await startRecorder('127.0.0.1');
  other = await startRecorder('127.0.0.2');
});

afterAll(async () => {
  await Promise.all([env.cleanup(), allowed.stop(), other.stop(), agent.close()]);
});

beforeEach(() => {
  allowed.seen.length = 0;
  other.seen.length = 0;
  env.emu.clearFaults();
  provider = env.make();
  imsFetch = createImsFetch({ provider, allowedHosts: ['127.0.0.1'] });
});

describe('createImsFetch: which requests get credentials', () => {
  it('authorizes a call to an allowed host (the emulator API accepts it)', async () => {
    const res = await imsFetch(`${env.emu.url}/api/v1/whoami`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ clientId: env.clientId });
  });

  it('sends nothing to a host that is not allowed', async () => {
    const res = await imsFetch(`${other.url}/data`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(other.seen[0]!.headers.authorization).toBeUndefined();
    expect(other.seen[0]!.headers['x-api-key']).toBeUndefined();
    expect(other.seen[0]!.headers.accept).toBe('application/json');
    expect(provider.status().counters.misses).toBe(0); // never asked for a token
  });

  it('uses *.adobe.io by default, over HTTPS only', async () => {
    // A transport that plays api.adobe.io over TLS by sending to the emulator: it tests the decision, not TLS.
    const toEmulator = { dispatch: (opts, handler) => agent.dispatch({ ...opts, origin: env.emu.url }, handler) } as Dispatcher;
    const f = createImsFetch({ provider, dispatcher: toEmulator });
    const res = await f('https://api.adobe.io/api/v1/whoami');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ clientId: env.clientId });
  });

  it('matches hosts case-insensitively, ignores a trailing dot, keeps wildcards to subdomains, IP literals exact', async () => {
    const rec = recordingDispatcher();
    const f = createImsFetch({
      provider,
      dispatcher: rec as unknown as Dispatcher,
      allowedHosts: ['*.adobe.io', 'api.example.com', '10.1.2.3', '[::1]', 'localhost'],
    });
    const yes = [
      'https://x.adobe.io/a',
      'https://a.b.adobe.io/a',
      'https://X.Adobe.IO/a',
      'https://x.adobe.io./a',
      'https://api.example.com:8443/a',
      'https://API.EXAMPLE.COM./a',
      'https://10.1.2.3/a',
      'https://[::1]:8443/a',
      'http://[::1]:8080/a',
      'http://localhost:3000/a',
    ];
    const no = [
      'https://adobe.io/a',
      'https://evil-adobe.io/a',
      'https://x.adobe.io.evil.com/a',
      'https://xadobe.io/a',
      'https://sub.api.example.com/a',
      'https://10.1.2.4/a',
      'https://[::2]/a',
      'http://x.adobe.io/a', // plain http to a non-loopback host
      'http://api.example.com/a',
      'http://127.0.0.1/a', // loopback, but not named in the list
      'https://evil.com\\@x.adobe.io/a', // the host is evil.com
      'https://evil.com#@x.adobe.io',
      'https://evil.com?.adobe.io',
      'https://evil.com/.x.adobe.io',
    ];
    for (const u of yes) {
      expect((await f(u)).status, u).toBe(200);
      const h = rec.calls.at(-1)!.headers;
      expect(h['authorization'], u).toMatch(/^Bearer \S+$/);
      expect(h['x-api-key'], u).toBe(env.clientId);
    }
    for (const u of no) {
      expect((await f(u)).status, u).toBe(200);
      const h = rec.calls.at(-1)!.headers;
      expect([h['authorization'], h['x-api-key']], u).toEqual([undefined, undefined]);
    }
    // What fetch itself refuses never reaches a transport: userinfo, other schemes, relative URLs.
    const calls = rec.calls.length;
    for (const u of ['https://x.adobe.io@evil.com/a', 'wss://x.adobe.io/a', '/relative/x.adobe.io'])
      await expect(f(u), u).rejects.toThrow(TypeError);
    expect(rec.calls).toHaveLength(calls);
    await f(new URL('https://y.adobe.io/from-a-url-object'));
    await f(new Request('https://z.adobe.io/from-a-request', { headers: { accept: 'x' } }));
    expect(rec.calls.at(-2)!.headers['authorization']).toMatch(/^Bearer /);
    expect(rec.calls.at(-1)!.headers['authorization']).toMatch(/^Bearer /);
    expect(rec.calls.at(-1)!.headers['accept']).toBe('x');
  });

  it('never sends credentials over plain http to a non-loopback name, even when it is listed', async () => {
    const rec = recordingDispatcher();
    const f = createImsFetch({ provider, dispatcher: rec as unknown as Dispatcher, allowedHosts: ['api.example.test', '*.adobe.io'] });
    await f('http://api.example.test/a');
    await f('http://firefly-api.adobe.io/a');
    for (const c of rec.calls) expect([c.headers['authorization'], c.headers['x-api-key']]).toEqual([undefined, undefined]);
  });

  it('keeps a caller-set Authorization (and adds only x-api-key), in any header form and case', async () => {
    await imsFetch(`${allowed.url}/a`, { headers: { Authorization: 'Bearer mine' } });
    await imsFetch(`${allowed.url}/b`, { headers: new Headers({ authorization: 'Bearer mine', 'X-Api-Key': 'my-key' }) });
    await imsFetch(`${allowed.url}/c`, { headers: [['AUTHORIZATION', 'Bearer mine']] });
    expect(allowed.seen.map((s) => [s.headers.authorization, s.headers['x-api-key']])).toEqual([
      ['Bearer mine', env.clientId],
      ['Bearer mine', 'my-key'],
      ['Bearer mine', env.clientId],
    ]);
    expect(provider.status().counters.misses).toBe(0);
  });

  it('keeps a caller-set x-api-key and adds the token', async () => {
    await imsFetch(`${allowed.url}/a`, { headers: { 'x-api-key': 'my-key', accept: 'text/plain' } });
    const h = allowed.seen[0]!.headers;
    expect(h['x-api-key']).toBe('my-key');
    expect(h.authorization).toMatch(/^Bearer /);
    expect(h.accept).toBe('text/plain');
  });

  it('accepts a Request and does not change the caller objects', async () => {
    const headers = { 'content-type': 'text/plain' };
    const req = new Request(`${env.emu.url}/api/v1/echo`, { method: 'POST', body: 'hello', headers });
    const res = await imsFetch(req);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ bytes: 5 });
    expect(headers).toEqual({ 'content-type': 'text/plain' });
    expect(req.headers.get('authorization')).toBeNull();
  });
});

describe('createImsFetch: redirects', () => {
  const via = (status: number, to: string): string => `${allowed.url}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

  it('drops Authorization and x-api-key when a 302 leads to another host', async () => {
    const res = await imsFetch(via(302, `${other.url}/landing`), { headers: { 'x-trace': '1' } });
    expect(res.status).toBe(200);
    expect(res.url === '' || res.url.startsWith(other.url)).toBe(true);
    expect(allowed.seen[0]!.headers.authorization).toMatch(/^Bearer /); // the allowed host got them
    const landed = other.seen[0]!;
    expect(landed.path).toBe('/landing');
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers['x-api-key']).toBeUndefined();
    expect(landed.headers['x-trace']).toBe('1');
  });

  it('drops a caller-set Authorization too when leaving the allowed hosts', async () => {
    await imsFetch(via(307, `${other.url}/landing`), { headers: { authorization: 'Bearer mine', 'x-api-key': 'mine' } });
    expect(other.seen[0]!.headers.authorization).toBeUndefined();
    expect(other.seen[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('does not put credentials back once a chain has left the allowed hosts', async () => {
    const back = `${allowed.url}/back`;
    await imsFetch(via(302, `${other.url}/redirect?status=302&to=${encodeURIComponent(back)}`));
    const last = allowed.seen.at(-1)!;
    expect(last.path).toBe('/back');
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers['x-api-key']).toBeUndefined();
  });

  it('keeps credentials on a redirect within the allowed hosts', async () => {
    const res = await imsFetch(via(302, `${env.emu.url}/api/v1/whoami`));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ clientId: env.clientId });
  });

  it('follows fetch method rules: 303 → GET, 301/302 POST → GET, 307/308 keep method and body', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      other.seen.length = 0;
      const res = await imsFetch(via(status, `${other.url}/landing`), {
        method: 'POST',
        body: 'payload',
        headers: { 'content-type': 'text/plain' },
      });
      expect(res.status, String(status)).toBe(200);
      const s = other.seen[0]!;
      const keeps = status === 307 || status === 308;
      expect([s.method, s.body, s.headers['content-type']], String(status)).toEqual(
        keeps ? ['POST', 'payload', 'text/plain'] : ['GET', '', undefined],
      );
    }
  });

  it('refuses to follow a 307 with a stream body (fetch semantics), without sending it elsewhere', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'));
        c.close();
      },
    });
    await expect(imsFetch(via(307, `${other.url}/landing`), { method: 'POST', body, duplex: 'half' } as RequestInit)).rejects.toThrow(
      TypeError,
    );
    expect(other.seen).toHaveLength(0);
  });

  it("honours redirect: 'manual' and 'error'", async () => {
    const manual = await imsFetch(via(302, `${other.url}/landing`), { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe(`${other.url}/landing`);
    await expect(imsFetch(via(302, `${other.url}/landing`), { redirect: 'error' })).rejects.toThrow(TypeError);
    expect(other.seen).toHaveLength(0);
  });

  it('gives up after 20 redirects', async () => {
    await expect(imsFetch(`${allowed.url}/loop`)).rejects.toThrow(TypeError);
    expect(allowed.seen).toHaveLength(21);
  });
});

describe('createImsFetch: 401 and token errors', () => {
  it('on a 401 invalidates that token, mints one new token and retries once', async () => {
    const first = await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const res = await imsFetch(`${env.emu.url}/api/v1/whoami`);
    expect(res.status).toBe(200);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
    expect((await provider.getToken()).accessToken).not.toBe(first.accessToken);
  });

  it('retries replayable bodies: string, bytes, URLSearchParams, FormData', async () => {
    const form = new FormData();
    form.set('field', 'value');
    const bodies: [NonNullable<RequestInit['body']>, number][] = [
      ['hello', 5],
      [new Uint8Array([1, 2, 3]), 3],
      [new URLSearchParams({ a: '1' }), 3],
      [form, -1],
    ];
    for (const [body, bytes] of bodies) {
      // A client of its own per revocation: core's 401 policy treats a second revocation within 10 min as no cure.
      const { provider: own, clientId } = env.isolated();
      await own.getToken();
      env.emu.revokeTokens(clientId);
      const res = await createImsFetch({ provider: own, allowedHosts: ['127.0.0.1'] })(`${env.emu.url}/api/v1/echo`, {
        method: 'POST',
        body,
      });
      expect(res.status).toBe(200);
      if (bytes >= 0) expect(await res.json()).toMatchObject({ bytes });
    }
  });

  it('does not retry a stream body: the 401 comes back, the token is dropped, the next call uses a fresh one', async () => {
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'));
        c.close();
      },
    });
    const res = await imsFetch(`${env.emu.url}/api/v1/echo`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(401);
    expect(env.emu.stats.tokensMinted).toBe(minted);
    expect(provider.status().tokenPreview).toBeUndefined(); // the refused token was dropped …
    const apiCalls = env.emu.stats.apiRequests;
    expect((await imsFetch(`${env.emu.url}/api/v1/whoami`)).status).toBe(200);
    expect(env.emu.stats.apiRequests).toBe(apiCalls + 1); // … so the next call goes out with a fresh one at once
  });

  it('retries only once: a second 401 is returned', async () => {
    await provider.getToken();
    env.emu.fault({ target: 'api', kind: 'response', status: 401, body: { error_code: '401013' }, times: 2 });
    const minted = env.emu.stats.tokensMinted;
    const res = await imsFetch(`${env.emu.url}/api/v1/whoami`);
    expect(res.status).toBe(401);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });

  it('turns a burst of 100 401s for one token into exactly one new token', async () => {
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const unauthorized = env.emu.stats.apiUnauthorized;
    const results = await Promise.all(Array.from({ length: 100 }, () => imsFetch(`${env.emu.url}/api/v1/whoami`).then((r) => r.status)));
    expect(results.every((s) => s === 200)).toBe(true);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
    expect(env.emu.stats.apiUnauthorized - unauthorized).toBe(100);
  });

  it('rejects with the ImsTokenError of core when no token can be had, and leaks nothing', async () => {
    const bad = env.make({ clientSecret: 'wrong-secret-value-123' });
    const f = createImsFetch({ provider: bad, allowedHosts: ['127.0.0.1'] });
    const err = await f(`${env.emu.url}/api/v1/whoami`).catch((e: unknown) => e);
    expect(ImsTokenError.is(err)).toBe(true);
    expect((err as ImsTokenError).code).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(renderings(err), ['wrong-secret-value-123', env.secret]);
  });

  it('no secret or token in any error it produces', async () => {
    const token = (await provider.getToken()).accessToken;
    const errors: unknown[] = [];
    const catchIt = (p: Promise<unknown>): Promise<unknown> => p.catch((e: unknown) => errors.push(e));
    await catchIt(imsFetch(`${allowed.url}/loop`));
    await catchIt(imsFetch(`${allowed.url}/redirect?status=302&to=${encodeURIComponent(other.url)}`, { redirect: 'error' }));
    await catchIt(imsFetch(`${allowed.url}/redirect?status=302&to=${encodeURIComponent('ftp://x')}`));
    await catchIt(imsFetch('http://127.0.0.1:1/closed'));
    await catchIt(
      createImsFetch({ provider: env.make({ clientSecret: 'another-wrong-secret' }), allowedHosts: ['127.0.0.1'] })(
        `${env.emu.url}/api/v1/whoami`,
      ),
    );
    expect(errors).toHaveLength(5);
    for (const e of errors) expectNoLeak(renderings(e), [token, env.secret, 'another-wrong-secret']);
  });

  it('stops waiting for a token when the caller aborts', async () => {
    const slow = env.make();
    env.emu.fault({ target: 'token', kind: 'latency', latencyMs: 1_500 });
    const f = createImsFetch({ provider: slow, allowedHosts: ['127.0.0.1'] });
    const ac = new AbortController();
    const p = f(`${env.emu.url}/api/v1/whoami`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(slow.status().state).toBe('fetching'); // it did not wait for IMS
  });
});

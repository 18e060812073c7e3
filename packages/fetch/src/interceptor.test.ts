import { Readable } from 'node:stream';
import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { Agent, getGlobalDispatcher, interceptors, request, setGlobalDispatcher, fetch as undiciFetch } from 'undici';
import type { Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsInterceptor } from './index';
import { expectNoLeak, renderings, setup, startRecorder } from './test/helpers';
import type { Env, Recorder } from './test/helpers';

let env: Env;
let allowed: Recorder;
let other: Recorder;
let provider: TokenProvider;
const agents: Agent[] = [];

beforeAll(async () => {
  env = await setup();
  allowed = await startRecorder('127.0.0.1');
  other = await startRecorder('127.0.0.2');
});

afterAll(async () => {
  await Promise.all([env.cleanup(), allowed.stop(), other.stop(), ...agents.map((a) => a.close())]);
});

beforeEach(() => {
  allowed.seen.length = 0;
  other.seen.length = 0;
  env.emu.clearFaults();
  provider = env.make();
});

function agentWith(...chain: Dispatcher.DispatcherComposeInterceptor[]): Dispatcher {
  const agent = new Agent();
  agents.push(agent);
  return agent.compose(...chain);
}

describe('imsInterceptor with undici request()', () => {
  it('authorizes requests to an allowed host', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    const res = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ clientId: env.clientId });
  });

  it('leaves other hosts alone', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    const res = await request(`${other.url}/x`, { dispatcher, headers: { accept: 'text/plain' } });
    await res.body.dump();
    expect(other.seen[0]!.headers.authorization).toBeUndefined();
    expect(other.seen[0]!.headers['x-api-key']).toBeUndefined();
    expect(other.seen[0]!.headers.accept).toBe('text/plain');
    expect(provider.status().counters.misses).toBe(0);
  });

  it('uses *.adobe.io over HTTPS by default', async () => {
    // An inner interceptor plays https://api.adobe.io by sending to the emulator: it tests the decision, not TLS.
    const toEmulator: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
      dispatch({ ...opts, origin: String(opts.origin) === 'https://api.adobe.io' ? env.emu.url : opts.origin }, handler);
    const dispatcher = agentWith(toEmulator, imsInterceptor({ provider }));
    const res = await request('https://api.adobe.io/api/v1/whoami', { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ clientId: env.clientId });
    const plain = await request(`${allowed.url}/x`, { dispatcher }); // 127.0.0.1 is not in the default list
    await plain.body.dump();
    expect(allowed.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('keeps a caller-set Authorization and x-api-key', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    await (await request(`${allowed.url}/a`, { dispatcher, headers: { Authorization: 'Bearer mine' } })).body.dump();
    await (await request(`${allowed.url}/b`, { dispatcher, headers: ['authorization', 'Bearer mine', 'x-api-key', 'k'] })).body.dump();
    await (await request(`${allowed.url}/c`, { dispatcher, headers: { 'X-Api-Key': 'k' } })).body.dump();
    expect(allowed.seen.map((s) => [s.headers.authorization?.slice(0, 11), s.headers['x-api-key']])).toEqual([
      ['Bearer mine', env.clientId],
      ['Bearer mine', 'k'],
      ['Bearer eyJh', 'k'],
    ]);
  });

  it("runs a handler that speaks both of undici's handler APIs (compose's WrapHandler) in its first one, headers as they came", async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    const calls: string[] = [];
    let raw: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const handler = {
        onConnect: (): void => void calls.push('connect'),
        onHeaders: (status: number, headers: Buffer[]): boolean => {
          calls.push(`headers ${status}`);
          raw = headers;
          return true;
        },
        onData: (): boolean => true,
        onComplete: (): void => {
          calls.push('complete');
          resolve();
        },
        onError: reject,
        // the second API: never called when the first one is there
        onRequestStart: (): void => reject(new Error('onRequestStart')),
        onResponseStart: (): void => reject(new Error('onResponseStart')),
        onResponseData: (): void => reject(new Error('onResponseData')),
        onResponseEnd: (): void => reject(new Error('onResponseEnd')),
        onResponseError: (_c: unknown, err: Error): void => reject(err),
      };
      dispatcher.dispatch({ origin: allowed.url, path: '/both', method: 'GET' }, handler as unknown as Dispatcher.DispatchHandler);
    });
    expect(calls).toEqual(['connect', 'headers 200', 'complete']);
    expect(raw.every((h) => Buffer.isBuffer(h))).toBe(true); // undici's raw form, not a record turned back into one
    expect(allowed.seen[0]!.headers.authorization?.startsWith('Bearer ')).toBe(true);
  });

  it('on a 401 invalidates that token, mints one new token and retries once', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const res = await request(`${env.emu.url}/api/v1/echo`, { dispatcher, method: 'POST', body: Buffer.from('hello') });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ bytes: 5 });
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });

  it('passes the 401 through for a stream body (dropping its token), and after a second 401', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const streamed = await request(`${env.emu.url}/api/v1/echo`, { dispatcher, method: 'POST', body: Readable.from(['a', 'b']) });
    expect(streamed.statusCode).toBe(401);
    await streamed.body.dump();
    expect(env.emu.stats.tokensMinted).toBe(minted);
    expect(provider.status().tokenPreview).toBeUndefined(); // not replayed, but the refused token is dropped

    env.emu.fault({ target: 'api', kind: 'response', status: 401, body: { error_code: '401013' }, times: 2 });
    const twice = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher });
    expect(twice.statusCode).toBe(401);
    await twice.body.dump();
  });

  it('turns a burst of 100 401s for one token into exactly one new token', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const statuses = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });

  it('delivers a token failure to the handler as the ImsTokenError itself', async () => {
    const bad = env.make({ clientSecret: 'wrong-secret-value-456' });
    const dispatcher = agentWith(imsInterceptor({ provider: bad, allowedHosts: ['127.0.0.1'] }));
    const err = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher }).catch((e: unknown) => e);
    expect(ImsTokenError.is(err)).toBe(true);
    expect((err as ImsTokenError).code).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(renderings(err), ['wrong-secret-value-456', env.secret]);
  });

  it('stops waiting for a token when the request is aborted', async () => {
    const slow = env.make();
    env.emu.fault({ target: 'token', kind: 'latency', latencyMs: 1_500 });
    const dispatcher = agentWith(imsInterceptor({ provider: slow, allowedHosts: ['127.0.0.1'] }));
    const ac = new AbortController();
    const p = request(`${env.emu.url}/api/v1/whoami`, { dispatcher, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const err = await p.catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(slow.status().state).toBe('fetching'); // it did not wait for IMS
  });

  it("never lets undici's redirect interceptor carry credentials to another host", async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }), interceptors.redirect({ maxRedirections: 5 }));
    for (const status of [302, 307]) {
      const to = encodeURIComponent(`${other.url}/landing`);
      const res = await request(`${allowed.url}/redirect?status=${status}&to=${to}`, { dispatcher });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    expect(allowed.seen.map((s) => s.headers.authorization?.startsWith('Bearer '))).toEqual([true, true]);
    expect(other.seen.map((s) => [s.path, s.headers.authorization, s.headers['x-api-key']])).toEqual([
      ['/landing', undefined, undefined],
      ['/landing', undefined, undefined],
    ]);
  });

  it('fails closed when interceptors.redirect() runs below it: the hop off the allowed hosts is never sent', async () => {
    // compose(redirect, ims): ims is the outer one, so redirects would be followed below it, out of its sight.
    const dispatcher = agentWith(interceptors.redirect({ maxRedirections: 5 }), imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
    const to = encodeURIComponent(`${other.url}/landing`);
    const err = await request(`${allowed.url}/redirect?status=302&to=${to}`, { dispatcher }).catch((e: unknown) => e);
    expect(ImsTokenError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'IMS_CONFIG', message: expect.stringContaining('maxRedirections') });
    expect(other.seen).toHaveLength(0);
    expect(allowed.seen).toHaveLength(1);
  });

  it('follows redirects itself with maxRedirections: credentials leave with the first hop off the allowed hosts for good', async () => {
    const dispatcher = agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'], maxRedirections: 5 }));
    const back = encodeURIComponent(`${allowed.url}/back`);
    const to = encodeURIComponent(`${other.url}/redirect?status=302&to=${back}`);
    const res = await request(`${allowed.url}/redirect?status=307&to=${to}`, { dispatcher, headers: { 'x-api-key': 'mine' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(allowed.seen.map((s) => [s.path, s.headers.authorization?.startsWith('Bearer '), s.headers['x-api-key']])).toEqual([
      ['/redirect', true, 'mine'],
      ['/back', undefined, undefined],
    ]);
    expect(other.seen.map((s) => [s.headers.authorization, s.headers['x-api-key']])).toEqual([[undefined, undefined]]);
  });

  it('rejects bad options with IMS_CONFIG naming the option', () => {
    for (const allowedHosts of ['x', [], [''], ['*'], ['*.com'], ['http://x.adobe.io']]) {
      expect(() => imsInterceptor({ provider, allowedHosts: allowedHosts as string[] })).toThrow(
        expect.objectContaining({ code: 'IMS_CONFIG', message: expect.stringContaining('allowedHosts') }),
      );
    }
    expect(() => imsInterceptor({ provider: {} } as never)).toThrow(
      expect.objectContaining({ code: 'IMS_CONFIG', message: expect.stringContaining('provider') }),
    );
  });
});

describe('imsInterceptor as the global dispatcher', () => {
  let previous: Dispatcher;
  beforeEach(() => {
    previous = getGlobalDispatcher();
  });
  afterEach(() => {
    setGlobalDispatcher(previous);
  });

  it("authorizes Node's global fetch() and undici's fetch(), and only for allowed hosts", async () => {
    setGlobalDispatcher(agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] })));
    for (const f of [globalThis.fetch, undiciFetch as unknown as typeof fetch]) {
      const res = await f(`${env.emu.url}/api/v1/whoami`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ clientId: env.clientId });
      await (await f(`${other.url}/x`)).text();
    }
    expect(other.seen).toHaveLength(2);
    for (const s of other.seen) expect([s.headers.authorization, s.headers['x-api-key']]).toEqual([undefined, undefined]);
  });

  it('lets fetch() follow a redirect off the allowed hosts without the credentials', async () => {
    setGlobalDispatcher(agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] })));
    const res = await fetch(`${allowed.url}/redirect?status=307&to=${encodeURIComponent(`${other.url}/landing`)}`, {
      method: 'POST',
      body: 'x',
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(allowed.seen[0]!.headers.authorization).toMatch(/^Bearer /);
    expect([other.seen[0]!.headers.authorization, other.seen[0]!.headers['x-api-key']]).toEqual([undefined, undefined]);
  });

  it('retries a GET after a 401 for fetch() too', async () => {
    setGlobalDispatcher(agentWith(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] })));
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const res = await fetch(`${env.emu.url}/api/v1/whoami`);
    expect(res.status).toBe(200);
    await res.text();
  });

  it('makes fetch() reject with the ImsTokenError as its cause', async () => {
    setGlobalDispatcher(agentWith(imsInterceptor({ provider: env.make({ clientSecret: 'nope-nope-nope' }), allowedHosts: ['127.0.0.1'] })));
    const err = (await fetch(`${env.emu.url}/api/v1/whoami`).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TypeError);
    expect(ImsTokenError.is(err.cause)).toBe(true);
    expect((err.cause as ImsTokenError).code).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(renderings(err), ['nope-nope-nope', env.secret]);
  });
});

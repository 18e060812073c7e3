import { Readable } from 'node:stream';
import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { Agent, Dispatcher, getGlobalDispatcher, request, setGlobalDispatcher, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImsDispatcher } from './index';
import { expectNoLeak, renderings, setup, startRecorder } from './test/helpers';
import type { Env, Recorder } from './test/helpers';

let env: Env;
let allowed: Recorder; // 127.0.0.1: allowed in these tests
let other: Recorder; // 127.0.0.2: never allowed
let provider: TokenProvider;
let agent: Agent;

beforeAll(async () => {
  env = await setup();
  allowed = await startRecorder('127.0.0.1');
  other = await startRecorder('127.0.0.2');
  agent = new Agent();
});

afterAll(async () => {
  await Promise.all([env.cleanup(), allowed.stop(), other.stop(), agent.close()]);
});

beforeEach(() => {
  allowed.seen.length = 0;
  other.seen.length = 0;
  env.emu.clearFaults();
  provider = env.make();
});

const ims = (extra: Partial<Parameters<typeof createImsDispatcher>[0]> = {}): Dispatcher =>
  createImsDispatcher({ provider, allowedHosts: ['127.0.0.1'], dispatcher: agent, ...extra });

async function status(url: string, opts: Parameters<typeof request>[1]): Promise<number> {
  const res = await request(url, opts);
  await res.body.dump();
  return res.statusCode;
}

describe('createImsDispatcher with undici request()', () => {
  it('is an undici Dispatcher that authorizes requests to an allowed host', async () => {
    const dispatcher = ims();
    expect(dispatcher).toBeInstanceOf(Dispatcher);
    const res = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ clientId: env.clientId });
    const viaMethod = await dispatcher.request({ origin: env.emu.url, path: '/api/v1/whoami', method: 'GET' });
    expect(viaMethod.statusCode).toBe(200);
    await viaMethod.body.dump();
  });

  it('leaves other hosts alone and asks for no token', async () => {
    expect(await status(`${other.url}/x`, { dispatcher: ims(), headers: { accept: 'text/plain' } })).toBe(200);
    expect([other.seen[0]!.headers.authorization, other.seen[0]!.headers['x-api-key'], other.seen[0]!.headers.accept]).toEqual([
      undefined,
      undefined,
      'text/plain',
    ]);
    expect(provider.status().counters.misses).toBe(0);
  });

  it('judges every request on its own origin when one dispatcher alternates between an allowed host and another', async () => {
    const dispatcher = ims();
    const urls = [allowed.url, other.url, other.url, allowed.url, allowed.url, other.url];
    for (const url of urls) expect(await status(`${url}/x`, { dispatcher })).toBe(200);
    await Promise.all(urls.map((url) => status(`${url}/y`, { dispatcher })));
    expect(allowed.seen.map((s) => [s.headers.authorization?.slice(0, 11), s.headers['x-api-key']])).toEqual(
      Array.from({ length: 6 }, () => ['Bearer eyJh', env.clientId]),
    );
    expect(other.seen.map((s) => [s.headers.authorization, s.headers['x-api-key']])).toEqual(
      Array.from({ length: 6 }, () => [undefined, undefined]),
    );
  });

  it('keeps a caller-set Authorization (adding only x-api-key, asking for no token) and a caller-set x-api-key', async () => {
    const dispatcher = ims();
    await status(`${allowed.url}/a`, { dispatcher, headers: { Authorization: 'Bearer mine' } });
    await status(`${allowed.url}/b`, { dispatcher, headers: ['authorization', 'Bearer mine', 'X-API-KEY', 'k'] });
    expect(provider.status().counters.misses).toBe(0);
    await status(`${allowed.url}/c`, { dispatcher, headers: { 'x-api-key': 'k' } });
    expect(allowed.seen.map((s) => [s.headers.authorization?.slice(0, 11), s.headers['x-api-key']])).toEqual([
      ['Bearer mine', env.clientId],
      ['Bearer mine', 'k'],
      ['Bearer eyJh', 'k'],
    ]);
  });

  it('replays a 401 once for the bodies request() can send again: none, string, Buffer', async () => {
    for (const body of [undefined, 'hello', Buffer.from('hello')]) {
      // A client of its own per revocation: core's 401 policy treats a second revocation within 10 min as no cure.
      const { provider: own, clientId } = env.isolated();
      const dispatcher = ims({ provider: own });
      await own.getToken();
      env.emu.revokeTokens(clientId);
      const minted = env.emu.stats.tokensMinted;
      const res = await request(`${env.emu.url}/api/v1/${body === undefined ? 'whoami' : 'echo'}`, {
        dispatcher,
        method: body === undefined ? 'GET' : 'POST',
        body,
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject(body === undefined ? { clientId } : { bytes: 5 });
      expect(env.emu.stats.tokensMinted).toBe(minted + 1);
    }
  });

  it('passes the 401 of a stream body on but drops its token; a second 401 is passed on too', async () => {
    const dispatcher = ims();
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    expect(await status(`${env.emu.url}/api/v1/echo`, { dispatcher, method: 'POST', body: Readable.from(['a', 'b']) })).toBe(401);
    expect(env.emu.stats.tokensMinted).toBe(minted);
    expect(provider.status().tokenPreview).toBeUndefined();

    env.emu.fault({ target: 'api', kind: 'response', status: 401, body: { error_code: '401013' }, times: 2 });
    expect(await status(`${env.emu.url}/api/v1/whoami`, { dispatcher })).toBe(401);
  });

  it('turns 100 concurrent 401s for one token into exactly one new token', async () => {
    const dispatcher = ims();
    await provider.getToken();
    env.emu.revokeTokens(env.clientId);
    const minted = env.emu.stats.tokensMinted;
    const statuses = await Promise.all(Array.from({ length: 100 }, () => status(`${env.emu.url}/api/v1/whoami`, { dispatcher })));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });

  it('rejects request() with the ImsTokenError of core when no token can be had, and leaks nothing', async () => {
    const dispatcher = ims({ provider: env.make({ clientSecret: 'wrong-secret-dispatcher' }) });
    const err = await request(`${env.emu.url}/api/v1/whoami`, { dispatcher }).catch((e: unknown) => e);
    expect(ImsTokenError.is(err)).toBe(true);
    expect((err as ImsTokenError).code).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(renderings(err), ['wrong-secret-dispatcher', env.secret]);
  });

  it('stops waiting for a token when the request is aborted', async () => {
    const slow = env.make();
    env.emu.fault({ target: 'token', kind: 'latency', latencyMs: 1_500 });
    const ac = new AbortController();
    const p = request(`${env.emu.url}/api/v1/whoami`, { dispatcher: ims({ provider: slow }), signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    expect(await p.catch((e: unknown) => e)).toMatchObject({ name: 'AbortError' });
    expect(slow.status().state).toBe('fetching');
  });

  it('composes: an interceptor on top of it sees the request before the credentials are added', async () => {
    const seen: unknown[] = [];
    const dispatcher = ims().compose((dispatch) => (opts, handler) => {
      seen.push(opts.headers);
      return dispatch({ ...opts, headers: { ...(opts.headers as object), 'x-trace': '1' } }, handler);
    });
    expect(await status(`${allowed.url}/a`, { dispatcher })).toBe(200);
    expect(allowed.seen[0]!.headers['x-trace']).toBe('1');
    expect(allowed.seen[0]!.headers.authorization).toMatch(/^Bearer /);
    expect(JSON.stringify(seen)).not.toContain('Bearer');
  });

  it('rejects bad options with IMS_CONFIG naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ provider: {} }, 'provider'],
      [{ provider, allowedHosts: ['*'] }, 'allowedHosts[0]'],
      [{ provider, dispatcher: {} }, 'dispatcher'],
      [{ provider, maxRedirections: -1 }, 'maxRedirections'],
    ];
    for (const [options, field] of cases) {
      expect(() => createImsDispatcher(options as never)).toThrow(expect.objectContaining({ code: 'IMS_CONFIG', field }));
    }
  });
});

describe('createImsDispatcher with fetch() and as the global dispatcher', () => {
  let previous: Dispatcher;
  beforeEach(() => {
    previous = getGlobalDispatcher();
  });
  afterEach(() => setGlobalDispatcher(previous));

  it("authorizes undici's fetch({ dispatcher }) and Node's fetch({ dispatcher })", async () => {
    const dispatcher = ims();
    for (const f of [undiciFetch as unknown as typeof fetch, globalThis.fetch]) {
      const res = await f(`${env.emu.url}/api/v1/whoami`, { dispatcher } as unknown as RequestInit);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ clientId: env.clientId });
    }
  });

  it('wraps the global dispatcher of the moment it is created when no dispatcher is given', async () => {
    setGlobalDispatcher(agent);
    const dispatcher = createImsDispatcher({ provider, allowedHosts: ['127.0.0.1'] });
    setGlobalDispatcher(dispatcher); // no loop: it keeps the agent it wrapped
    const res = await fetch(`${env.emu.url}/api/v1/whoami`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ clientId: env.clientId });
  });

  it('close() closes a dispatcher you passed, never the global one', async () => {
    const own = new Agent();
    await createImsDispatcher({ provider, allowedHosts: ['127.0.0.1'], dispatcher: own }).close();
    expect(own.closed).toBe(true);
    setGlobalDispatcher(agent);
    await createImsDispatcher({ provider, allowedHosts: ['127.0.0.1'] }).close();
    expect(agent.closed).toBe(false);
  });
});

describe('createImsDispatcher following redirects (maxRedirections)', () => {
  const via = (status: number, to: string, from = allowed.url): string => `${from}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

  it('passes a 3xx on when maxRedirections is not set, as undici does', async () => {
    expect(await status(via(302, `${other.url}/landing`), { dispatcher: ims() })).toBe(302);
    expect(other.seen).toHaveLength(0);
  });

  it('drops ours and the caller-set credentials as soon as a hop leaves the allowed hosts, and never puts them back', async () => {
    const dispatcher = ims({ maxRedirections: 5 });
    const back = `${allowed.url}/back`;
    expect(await status(via(302, via(302, back, other.url)), { dispatcher, headers: { 'x-api-key': 'mine', 'x-trace': '1' } })).toBe(200);
    expect(allowed.seen.map((s) => [s.path, s.headers.authorization?.startsWith('Bearer '), s.headers['x-api-key']])).toEqual([
      ['/redirect', true, 'mine'],
      ['/back', undefined, undefined],
    ]);
    expect(other.seen.map((s) => [s.headers.authorization, s.headers['x-api-key'], s.headers['x-trace']])).toEqual([
      [undefined, undefined, '1'],
    ]);
  });

  it('keeps credentials on hops within the allowed hosts', async () => {
    const res = await request(via(307, `${env.emu.url}/api/v1/whoami`), { dispatcher: ims({ maxRedirections: 5 }) });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ clientId: env.clientId });
  });

  it('takes a per-request maxRedirections, and follows fetch method rules: 303 → GET, 307 keeps method and body', async () => {
    const dispatcher = ims();
    // undici 7 dropped maxRedirections from request()'s types (its redirect interceptor reads it); it still reaches us.
    const follow2 = { maxRedirections: 2 } as object;
    expect(await status(via(303, `${other.url}/a`), { dispatcher, method: 'POST', body: 'payload', ...follow2 })).toBe(200);
    expect(await status(via(307, `${other.url}/b`), { dispatcher, method: 'POST', body: 'payload', ...follow2 })).toBe(200);
    expect(other.seen.map((s) => [s.path, s.method, s.body])).toEqual([
      ['/a', 'GET', ''],
      ['/b', 'POST', 'payload'],
    ]);
  });

  it('passes on a 307 it cannot follow with a stream body, and stops after maxRedirections', async () => {
    const dispatcher = ims({ maxRedirections: 3 });
    expect(await status(via(307, `${other.url}/x`), { dispatcher, method: 'POST', body: Readable.from(['s']) })).toBe(307);
    expect(other.seen).toHaveLength(0);
    expect(await status(`${allowed.url}/loop`, { dispatcher })).toBe(302);
    expect(allowed.seen.filter((s) => s.path === '/loop')).toHaveLength(4);
  });
});

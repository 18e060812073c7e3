import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenProvider } from '@ims-token/core';
import type { TokenProvider, TokenProviderOptions } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';

export { expectNoLeak, renderings } from '@ims-token/test-kit';

export interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A plain HTTP server that records every request. Routes:
 * `/redirect?status=302&to=<url>` answers a redirect; `/loop` redirects to itself forever; `/status?code=401`
 * answers that status;
 * anything else answers 200 `{ path, method, body }`.
 */
export interface Recorder {
  url: string;
  seen: Seen[];
  stop(): Promise<void>;
}

export async function startRecorder(host: string): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', path: u.pathname, headers: req.headers, body });
      if (u.pathname === '/redirect') {
        res.writeHead(Number(u.searchParams.get('status') ?? 302), { location: u.searchParams.get('to') ?? '/' });
        res.end('moved');
        return;
      }
      if (u.pathname === '/status') {
        res.writeHead(Number(u.searchParams.get('code') ?? 200), { 'content-type': 'text/plain' });
        res.end('status');
        return;
      }
      if (u.pathname === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: u.pathname, method: req.method, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Env {
  emu: Emulator;
  clientId: string;
  secret: string;
  /** A provider against the emulator (closed by cleanup). */
  make(overrides?: Partial<TokenProviderOptions>): TokenProvider;
  /**
   * A provider for a client of its own, so that revoking its tokens (`emu.revokeTokens(clientId)`) touches no
   * other provider: core's 401 policy rightly treats a second revocation within 10 minutes as no cure.
   */
  isolated(overrides?: Partial<TokenProviderOptions>): { provider: TokenProvider; clientId: string };
  cleanup(): Promise<void>;
}

export async function setup(): Promise<Env> {
  const emu = await startEmulator();
  const client = emu.addClient();
  const providers: TokenProvider[] = [];
  return {
    emu,
    clientId: client.clientId,
    secret: client.clientSecret,
    make(overrides = {}) {
      const p = createTokenProvider({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        scopes: ['openid', 'AdobeID'],
        imsUrl: emu.url,
        retryBaseDelayMs: 1,
        ...overrides,
      });
      providers.push(p);
      return p;
    },
    isolated(overrides = {}) {
      const own = emu.addClient();
      const p = createTokenProvider({
        clientId: own.clientId,
        clientSecret: own.clientSecret,
        scopes: ['openid', 'AdobeID'],
        imsUrl: emu.url,
        retryBaseDelayMs: 1,
        ...overrides,
      });
      providers.push(p);
      return { provider: p, clientId: own.clientId };
    },
    async cleanup() {
      await Promise.all(providers.map((p) => p.close()));
      await emu.stop();
    },
  };
}

/** One request a {@link RecordingDispatcher} was asked to send. */
export interface Dispatched {
  url: string;
  method: string;
  headers: Record<string, string>;
}

/**
 * A fake undici transport (not our code): records what it is asked to send and answers 200 `ok` through the
 * handler (legacy or new handler API), without any network. `status` picks the answer per request.
 */
export interface RecordingDispatcher {
  calls: Dispatched[];
  dispatch(opts: { origin?: unknown; path: string; method: string; headers?: unknown }, handler: object): boolean;
}

function flatHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === null || h === undefined) return out;
  const add = (k: unknown, v: unknown): void => {
    out[String(k).toLowerCase()] = String(v);
  };
  if (Array.isArray(h)) {
    if (h.length > 0 && Array.isArray(h[0])) for (const [k, v] of h as [unknown, unknown][]) add(k, v);
    else for (let i = 0; i < h.length; i += 2) add(h[i], h[i + 1]);
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of h as Iterable<[unknown, unknown]>) add(k, v);
  } else for (const [k, v] of Object.entries(h as object)) add(k, v);
  return out;
}

export function recordingDispatcher(status: (d: Dispatched) => number = () => 200): RecordingDispatcher {
  const calls: Dispatched[] = [];
  return {
    calls,
    dispatch(opts, handler) {
      const d: Dispatched = { url: String(opts.origin) + opts.path, method: opts.method, headers: flatHeaders(opts.headers) };
      calls.push(d);
      const code = status(d);
      const h = handler as Record<string, (...args: unknown[]) => unknown>;
      queueMicrotask(() => {
        if (typeof h['onRequestStart'] === 'function') {
          const controller = { abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null };
          h['onRequestStart'](controller, {});
          h['onResponseStart']!(controller, code, { 'content-length': '2' }, 'OK');
          h['onResponseData']!(controller, Buffer.from('ok'));
          h['onResponseEnd']!(controller, {});
        } else {
          h['onConnect']!(() => {}, {});
          h['onHeaders']!(code, [Buffer.from('content-length'), Buffer.from('2')], () => {}, 'OK');
          h['onData']!(Buffer.from('ok'));
          h['onComplete']!([]);
        }
      });
      return true;
    },
  };
}

/** A clock for a provider (`clock` option) that the test moves by hand. */
export function manualClock(): { now: () => number; tick(ms: number): void } {
  let t = Date.now();
  return {
    now: () => t,
    tick(ms) {
      t += ms;
    },
  };
}

/** How a 401 attack is sent: one call after another, 50 at a time, or one always-401 call per good call. */
export type AttackMode = 'alone' | 'concurrent' | 'interleaved';

/** The emulator's sample-API routes an attack uses: one that always answers 401, one that checks the token. */
export type AttackPath = 'always-401' | 'whoami';

/**
 * 1,000 calls to the emulator's `/api/v1/always-401` over 10 s of the provider's clock, sent through an adapter
 * by `send` (which resolves the status), in one of three modes; in `interleaved` mode another 1,000 calls to
 * `/api/v1/whoami` go between them and must all succeed. The provider has its first token already; IMS throttles the client (429) as soon as
 * it minted 2 more (3 in all), as Adobe would.
 */
export async function attack(
  env: Env,
  clock: { tick(ms: number): void },
  mode: AttackMode,
  send: (path: AttackPath) => Promise<number>,
): Promise<{ mints: number }> {
  const before = env.emu.stats.tokensMinted;
  let throttled = false;
  const call = async (path: AttackPath): Promise<number> => {
    const status = await send(path);
    if (!throttled && env.emu.stats.tokensMinted - before >= 2) {
      throttled = true;
      env.emu.fault({ target: 'token', kind: 'status', status: 429, retryAfter: 60, times: Infinity });
    }
    return status;
  };
  if (mode === 'concurrent') {
    for (let batch = 0; batch < 20; batch++) {
      const statuses = await Promise.all(Array.from({ length: 50 }, () => call('always-401')));
      if (statuses.some((s) => s !== 401)) throw new Error(`an always-401 call answered ${statuses.find((s) => s !== 401)}`);
      clock.tick(500);
    }
  } else {
    for (let i = 0; i < 1000; i++) {
      if (mode === 'interleaved') {
        const ok = await call('whoami');
        if (ok !== 200) throw new Error(`good call ${i} answered ${ok}`);
      }
      const status = await call('always-401');
      if (status !== 401) throw new Error(`always-401 call ${i} answered ${status}`);
      clock.tick(10);
    }
  }
  return { mints: env.emu.stats.tokensMinted - before };
}

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

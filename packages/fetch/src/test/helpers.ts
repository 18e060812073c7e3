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
 * `/redirect?status=302&to=<url>` answers a redirect; `/loop` redirects to itself forever;
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

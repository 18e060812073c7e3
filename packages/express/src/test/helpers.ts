import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenProvider } from '@ims-token/core';
import type { TokenProvider, TokenProviderOptions } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import express from 'express';
import express4 from 'express4';
import type { Express } from 'express';

/** The two Express majors every suite runs against. */
export const EXPRESSES: [string, typeof express][] = [
  ['express 5', express],
  ['express 4', express4],
];

/** A full IMS access token (a JWT) anywhere in a text. */
const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

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
  /** Every response body text seen by `call()`, and every log line: scanned for the secret and tokens. */
  seen: string[];
  /** fetch() that records the response body text (not for large binary bodies). */
  call(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; text: string; json: () => any }>;
  /** Starts an Express app on 127.0.0.1:0 (closed by cleanup). */
  serve(app: Express): Promise<string>;
  /** Throws if the secret or any full token appears in what was seen. */
  expectNoLeaks(): void;
  cleanup(): Promise<void>;
}

export async function setup(options: EmulatorOptions = {}): Promise<Env> {
  const emu = await startEmulator(options);
  const client = emu.addClient();
  const providers: TokenProvider[] = [];
  const servers: Server[] = [];
  const seen: string[] = [];
  return {
    emu,
    clientId: client.clientId,
    secret: client.clientSecret,
    seen,
    make(overrides = {}) {
      const p = createTokenProvider({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        scopes: ['openid', 'AdobeID'],
        imsUrl: emu.url,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 10,
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
        retryMaxDelayMs: 10,
        ...overrides,
      });
      providers.push(p);
      return { provider: p, clientId: own.clientId };
    },
    async call(url, init) {
      const res = await fetch(url, init);
      const text = await res.text();
      seen.push(text, JSON.stringify([...res.headers]));
      return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
    },
    async serve(app) {
      const server = createServer(app);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    expectNoLeaks() {
      const all = seen.join('\n');
      if (all.includes(client.clientSecret)) throw new Error('a response or log showed the client secret');
      const m = JWT.exec(all);
      if (m) throw new Error(`a response or log showed a full token (${m[0].slice(0, 6)}…)`);
    },
    async cleanup() {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await Promise.all(providers.map((p) => p.close()));
      await emu.stop();
    },
  };
}

/** A plain upstream server (for what the emulator cannot show): records requests, their bodies and its TCP connections. */
export interface Upstream {
  url: string;
  requests: { method: string; path: string; headers: IncomingHttpHeaders; body: Promise<Buffer>; closedEarly: Promise<boolean> }[];
  /** TCP connections accepted so far. */
  connections: number;
  stop(): Promise<void>;
}

/** `hang: true` never answers; otherwise answers 200 `ok`, or `status` when given. */
export async function startUpstream(hang: boolean, status = 200): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  const server = createServer((req, res) => {
    const closedEarly = new Promise<boolean>((resolve) => res.once('close', () => resolve(!res.writableFinished)));
    const chunks: Buffer[] = [];
    const body = new Promise<Buffer>((resolve) => {
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => resolve(Buffer.concat(chunks)));
      req.once('close', () => resolve(Buffer.concat(chunks)));
    });
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, closedEarly });
    if (!hang) void body.then(() => res.writeHead(status).end('ok'));
  });
  const up: Upstream = {
    url: '',
    requests,
    connections: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => void up.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

/** A pino-like logger that keeps its lines. */
export function recordingLogger(lines: string[]): { error(obj: object, msg?: string): void } {
  return { error: (obj, msg) => void lines.push(JSON.stringify({ ...obj, msg })) };
}

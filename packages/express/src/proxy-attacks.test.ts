import { request as httpRequest } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { TokenProvider } from '@ims-token/core';
import type { Express, RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsErrorHandler, imsProxy } from './index';
import type { ImsProxyOptions } from './index';
import { EXPRESSES, setup, startUpstream } from './test/helpers';
import type { Env, Upstream } from './test/helpers';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A raw HTTP request, as an attacker sends it: fetch would normalise the path. `stallAfter` writes only that
 * many bytes of the body and then keeps the connection open without sending more.
 */
function raw(
  url: string,
  path: string,
  init: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string; stallAfter?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    if (init.stallAfter !== undefined && body) req.write(body.subarray(0, init.stallAfter));
    else req.end(body);
  });
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe.each(EXPRESSES)('imsProxy against hostile and unlucky clients (%s)', (_name, express) => {
  let env: Env;
  let provider: TokenProvider;
  let up: Upstream;
  beforeAll(async () => {
    env = await setup();
    provider = env.make();
    up = await startUpstream(false);
  });
  beforeEach(() => {
    up.requests.length = 0;
  });
  afterAll(async () => {
    env.expectNoLeaks();
    await up.stop();
    await env.cleanup();
  });

  /** `/adobe` → `<upstream>/api/v1` (or `target`). */
  async function serve(options: Partial<ImsProxyOptions> = {}, configure?: (app: Express) => void): Promise<string> {
    const a = express();
    configure?.(a);
    a.use('/adobe', imsProxy({ provider, target: `${up.url}/api/v1`, ...options }));
    a.use(imsErrorHandler());
    return env.serve(a);
  }

  describe('path traversal', () => {
    const attacks = [
      '/adobe/..%2f..%2fims/token/v3',
      '/adobe/%2e%2e%2f%2e%2e%2fims/token/v3',
      '/adobe/..;/..;/ims/token/v3',
      '/adobe/%5c..%5c..%5cims/token/v3',
      '/adobe/x/..%5c..%5cims',
      '/adobe/%2e%2e/%2e%2e/ims/token/v3',
      '/adobe/.%2e/x',
      '/adobe/%2E%2E/x',
      '/adobe/x/%2e/y',
      '/adobe/x%2fy',
      '/adobe/x%5Cy',
      '/adobe/x;jsessionid=1',
      '/adobe/x/../whoami',
      '/adobe/./whoami',
    ];
    it.each(attacks)('%s → 400 problem+json, the API is never called', async (path) => {
      const url = await serve();
      const res = await raw(url, path);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(res.text)).toMatchObject({ status: 400, title: 'Bad Request' });
      expect(up.requests).toHaveLength(0);
    });

    it('still forwards ordinary paths, encoded characters and a query that looks like traversal', async () => {
      const url = await serve();
      for (const path of ['/adobe/whoami', '/adobe/a%20b/c', '/adobe/x?next=..%2f..%2f&y=a;b', '/adobe/v3..beta/x', '/adobe/.well-known']) {
        expect((await raw(url, path)).status, path).toBe(200);
      }
      expect(up.requests.map((r) => r.path)).toEqual([
        '/api/v1/whoami',
        '/api/v1/a%20b/c',
        '/api/v1/x?next=..%2f..%2f&y=a;b',
        '/api/v1/v3..beta/x',
        '/api/v1/.well-known',
      ]);
    });
  });

  describe('bodies that a parser already read', () => {
    it('re-sends a form read by express.urlencoded() (it used to hang forever)', async () => {
      const url = await serve({}, (a) => a.use(express.urlencoded({ extended: false })));
      const res = await fetch(`${url}/adobe/form`, {
        method: 'POST',
        body: new URLSearchParams({ a: '1', b: 'x y', c: 'é&=' }),
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(200);
      const sent = up.requests.at(-1)!;
      const body = (await sent.body).toString();
      expect(Object.fromEntries(new URLSearchParams(body))).toEqual({ a: '1', b: 'x y', c: 'é&=' });
      expect(sent.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      expect(sent.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    });

    it('answers 500 naming the parser when express.urlencoded({ extended: true }) made a nested object', async () => {
      const url = await serve({}, (a) => a.use(express.urlencoded({ extended: true })));
      const res = await fetch(`${url}/adobe/form`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a[b]=1&a[c]=2',
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(((await res.json()) as { detail: string }).detail).toContain('express.urlencoded');
      expect(up.requests).toHaveLength(0);
    });

    it('re-sends a gzip JSON body read by express.json() as plain JSON, without content-encoding', async () => {
      const url = await serve({}, (a) => a.use(express.json()));
      const json = JSON.stringify({ prompt: 'a lighthouse', n: 2 });
      const res = await raw(url, '/adobe/images', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(json),
      });
      expect(res.status).toBe(200);
      const sent = up.requests.at(-1)!;
      expect((await sent.body).toString()).toBe(json);
      expect(sent.headers['content-encoding']).toBeUndefined();
      expect(sent.headers['content-length']).toBe(String(Buffer.byteLength(json)));
    });

    it('re-sends text read by express.text() in its charset', async () => {
      const url = await serve({}, (a) => a.use(express.text({ type: 'text/*' })));
      const res = await raw(url, '/adobe/t', {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=latin1' },
        body: Buffer.from('café', 'latin1'),
      });
      expect(res.status).toBe(200);
      expect((await up.requests.at(-1)!.body).toString('latin1')).toBe('café');
    });

    it('answers 408 when a client stops sending the body it announced', async () => {
      const url = await serve({ timeoutMs: 300 });
      const res = await Promise.race([
        raw(url, '/adobe/slow', { method: 'POST', headers: { 'content-length': '100' }, body: 'x'.repeat(100), stallAfter: 10 }),
        new Promise<RawAnswer>((r) => setTimeout(() => r({ status: 0, headers: {}, text: 'no answer' }), 10_000)),
      ]);
      expect(res.status).toBe(408);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(up.requests).toHaveLength(0);
    });
  });

  describe('a hanging API and many clients', () => {
    it('opens at most maxSockets upstream sockets, queues maxQueue and answers the rest 503 at once', async () => {
      const hang = await startUpstream(true);
      const ac = new AbortController();
      try {
        const url = await serve({ target: hang.url, maxSockets: 8, maxQueue: 16 });
        const busy: RawAnswer[] = [];
        const calls = Array.from({ length: 1000 }, () =>
          fetch(`${url}/adobe/x`, { signal: ac.signal }).then(
            async (r) => {
              if (r.status === 503) busy.push({ status: r.status, headers: Object.fromEntries(r.headers), text: await r.text() });
            },
            () => undefined,
          ),
        );
        await until(() => busy.length + hang.requests.length >= 1000 - 16, 20_000);
        expect(hang.connections).toBeLessThanOrEqual(8);
        expect(hang.requests.length).toBeLessThanOrEqual(8);
        expect(busy).toHaveLength(1000 - 8 - 16);
        expect(busy[0]!.headers['content-type']).toBe('application/problem+json');
        expect(busy[0]!.headers['retry-after']).toBeDefined();
        ac.abort();
        await Promise.all(calls);
      } finally {
        ac.abort();
        await hang.stop();
      }
    });

    it('bounds upstream sockets by default too (1,000 clients)', async () => {
      const hang = await startUpstream(true);
      const ac = new AbortController();
      let received = 0;
      try {
        const url = await serve({ target: hang.url }, (a) =>
          a.use(((_req, _res, next) => {
            received++;
            next();
          }) as RequestHandler),
        );
        const calls = Array.from({ length: 1000 }, () => fetch(`${url}/adobe/x`, { signal: ac.signal }).catch(() => undefined));
        await until(() => received === 1000 && hang.connections >= 64, 20_000);
        await new Promise((r) => setTimeout(r, 200)); // not the emulator's: a while for a 65th socket that must not open
        expect(received).toBe(1000);
        expect(hang.connections).toBe(64);
        ac.abort();
        await Promise.all(calls);
      } finally {
        ac.abort();
        await hang.stop();
      }
    });

    it('a queued request whose client leaves is never sent', async () => {
      const hang = await startUpstream(true);
      try {
        const url = await serve({ target: hang.url, maxSockets: 1 });
        const first = new AbortController();
        const second = new AbortController();
        const a = fetch(`${url}/adobe/first`, { signal: first.signal }).catch(() => 'aborted');
        await until(() => hang.requests.length === 1, 10_000);
        const b = fetch(`${url}/adobe/second`, { signal: second.signal }).catch(() => 'aborted');
        await new Promise((r) => setTimeout(r, 100)); // not the emulator's: lets the second request reach the proxy's queue
        second.abort();
        expect(await b).toBe('aborted');
        first.abort(); // frees the one socket: the queued request must not go out now
        expect(await a).toBe('aborted');
        await new Promise((r) => setTimeout(r, 200)); // not the emulator's: a while for the queued request that must never go out
        expect(hang.requests.map((r) => r.path)).toEqual(['/first']);
      } finally {
        await hang.stop();
      }
    });
  });

  it('validates maxSockets and maxQueue with IMS_CONFIG naming the field', () => {
    for (const [field, value] of [
      ['maxSockets', 0],
      ['maxSockets', 1.5],
      ['maxQueue', -1],
    ] as const) {
      expect(() => imsProxy({ provider, target: 'https://firefly-api.adobe.io/v3', [field]: value })).toThrow(
        expect.objectContaining({ code: 'IMS_CONFIG', field }),
      );
    }
  });
});

import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import type { TokenProvider } from '@ims-token/core';
import type { Express, RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsErrorHandler, imsProxy } from './index';
import type { ImsProxyOptions } from './index';
import { EXPRESSES, setup, startUpstream } from './test/helpers';
import type { Env } from './test/helpers';

const MB = 1024 * 1024;
const BIG = 50 * MB;

/** Four distinct 64 KiB chunks, reused so the client side makes no garbage of its own. */
const CHUNKS = [0, 1, 2, 3].map((v) => Buffer.alloc(64 * 1024, v * 61 + 7));

/** `total` bytes, hashed as they are generated (nothing kept). */
function generated(total: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let i = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const chunk = CHUNKS[i++ % CHUNKS.length]!.subarray(0, Math.min(64 * 1024, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/**
 * Samples the peak RSS growth of this process while `work` runs. It collects garbage at every sample
 * (the suite runs with --expose-gc), so what is left is memory something still holds.
 */
async function peakRssGrowth(work: () => Promise<void>): Promise<number> {
  const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
  if (!gc) throw new Error('run the tests with node --expose-gc (vitest.config.ts sets it)');
  gc();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    gc({ type: 'minor' });
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

/** A raw HTTP request: fetch would normalise the path and refuses a `Connection` header. */
function raw(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe.each(EXPRESSES)('imsProxy (%s)', (_name, express) => {
  let env: Env;
  let provider: TokenProvider;
  beforeAll(async () => {
    env = await setup();
    provider = env.make();
  });
  beforeEach(() => env.emu.clearFaults());
  afterAll(async () => {
    env.expectNoLeaks();
    await env.cleanup();
  });

  /** `/adobe` → `<emulator>/api/v1` (or `target`). */
  async function serve(options: Partial<ImsProxyOptions> = {}, configure?: (app: Express) => void): Promise<string> {
    const a = express();
    configure?.(a);
    a.use('/adobe', imsProxy({ provider, target: `${env.emu.url}/api/v1`, ...options }));
    a.use(imsErrorHandler());
    return env.serve(a);
  }

  it('forwards a GET with its query to the API, with the credentials added', async () => {
    const res = await env.call(`${await serve()}/adobe/whoami?x=1`);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ clientId: env.clientId });
  });

  it('streams a 50 MB upload without holding it in memory', async () => {
    // `/raw` buffers the body first (express.raw): the control that shows the measurement can see buffering.
    const url = await serve({}, (a) =>
      a.use('/raw', express.raw({ limit: '100mb', type: '*/*' }), imsProxy({ provider, target: `${env.emu.url}/api/v1` })),
    );
    async function upload(path: string): Promise<number> {
      const body = generated(BIG);
      let result: any;
      const growth = await peakRssGrowth(async () => {
        const res = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: body.stream as unknown as RequestInit['body'],
          duplex: 'half',
        } as RequestInit);
        expect(res.status).toBe(200);
        result = await res.json();
      });
      expect(result).toMatchObject({ bytes: BIG, sha256: body.digest(), contentType: 'application/octet-stream' });
      return growth;
    }
    // The first 50 MB through a fresh process grows V8's young generation and the allocator's pools
    // once (a direct upload to the emulator does the same): warm up, then measure.
    await upload('/adobe/echo');
    const streamed = await upload('/adobe/echo');
    const buffered = await upload('/raw/echo');
    expect(streamed).toBeLessThan(40 * MB);
    expect(buffered).toBeGreaterThan(40 * MB);
  });

  it('streams a 50 MB download back', async () => {
    const url = await serve();
    const expected = createHash('sha256');
    const pattern = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) pattern[i] = i;
    for (let i = 0; i < BIG / 256; i++) expected.update(pattern);
    const hash = createHash('sha256');
    let bytes = 0;
    const growth = await peakRssGrowth(async () => {
      const res = await fetch(`${url}/adobe/download?bytes=${BIG}`);
      expect(res.status).toBe(200);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    });
    expect(bytes).toBe(BIG);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(growth).toBeLessThan(40 * MB);
  });

  it("drops the client's credentials, cookies and hop-by-hop headers and sets x-forwarded-*", async () => {
    const url = await serve();
    const res = await raw(url, '/adobe/echo', {
      method: 'POST',
      headers: {
        authorization: 'Bearer client-own-token',
        cookie: 'session=client-cookie',
        'x-api-key': 'client-own-key',
        'x-forwarded-for': '198.51.100.9',
        'x-forwarded-proto': 'https',
        connection: 'keep-alive, x-hop-secret',
        'x-hop-secret': 'drop-me',
        'x-custom': 'kept',
        'content-type': 'text/plain',
      },
      body: 'hello',
    });
    env.seen.push(res.text);
    expect(res.status).toBe(200); // the API accepted the proxy's token, not the client's
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ bytes: 5, contentType: 'text/plain' });
    const h = body.receivedHeaders;
    expect(h['x-api-key']).toBe(env.clientId);
    expect(h.authorization).toBe('present');
    expect(h.cookie).toBeUndefined();
    expect(h['x-hop-secret']).toBeUndefined();
    expect(h['x-custom']).toBe('kept');
    expect(h.host).toBe(new URL(env.emu.url).host);
    expect(h['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/); // no trust proxy: the client's XFF is not believed
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(url).host);
    expect(res.text).not.toContain('client-own');
  });

  it('keeps upstream set-cookie but no hop-by-hop response headers', async () => {
    env.emu.fault({
      target: 'api',
      kind: 'response',
      status: 200,
      body: { ok: true },
      headers: { 'set-cookie': 'a=1', 'x-upstream': 'yes', 'keep-alive': 'timeout=99' },
    });
    const res = await env.call(`${await serve()}/adobe/whoami`);
    expect(res.json()).toEqual({ ok: true });
    expect(res.headers.get('set-cookie')).toBe('a=1');
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(res.headers.get('keep-alive')).not.toBe('timeout=99');
  });

  it('a 401 invalidates the token and retries once with a fresh one (small bodies too)', async () => {
    // A client of its own per revocation: core's 401 policy treats a second revocation within 10 min as no cure.
    for (const call of [
      (url: string) => env.call(`${url}/adobe/whoami`),
      (url: string) => env.call(`${url}/adobe/echo`, { method: 'POST', body: 'x'.repeat(1000) }),
    ]) {
      const { provider: own, clientId } = env.isolated();
      const url = await serve({ provider: own });
      expect((await env.call(`${url}/adobe/whoami`)).status).toBe(200);
      const minted = env.emu.stats.tokensMinted;
      const unauthorized = env.emu.stats.apiUnauthorized;
      env.emu.revokeTokens(clientId);
      const res = await call(url);
      expect(res.status).toBe(200);
      if (res.json().bytes !== undefined) expect(res.json().bytes).toBe(1000);
      expect(env.emu.stats.tokensMinted).toBe(minted + 1);
      expect(env.emu.stats.apiUnauthorized).toBe(unauthorized + 1);
    }
  });

  it('passes a 401 on when a streamed body was too large to buffer', async () => {
    const { provider: own, clientId } = env.isolated();
    const url = await serve({ maxBufferBytes: 1024, provider: own });
    expect((await env.call(`${url}/adobe/whoami`)).status).toBe(200);
    env.emu.revokeTokens(clientId);
    const res = await env.call(`${url}/adobe/echo`, { method: 'POST', body: 'y'.repeat(4096) });
    expect(res.status).toBe(401);
    const refused = env.emu.stats.apiUnauthorized;
    expect((await env.call(`${url}/adobe/whoami`)).status).toBe(200); // the next request uses a fresh token …
    expect(env.emu.stats.apiUnauthorized).toBe(refused); // … at once: the refused one was dropped with the 401
  });

  it('answers 405 with Allow for a method that is not allowed', async () => {
    const url = await serve({ allowedMethods: ['get'] });
    const res = await env.call(`${url}/adobe/echo`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status: 405, title: 'Method Not Allowed' });
  });

  it('works under a sub-router with trust proxy, forwarding the trusted client address', async () => {
    const a = express();
    a.set('trust proxy', 'loopback');
    const router = express.Router();
    router.use('/adobe', imsProxy({ provider, target: `${env.emu.url}/api/v1` }));
    a.use('/v2', router);
    a.use(imsErrorHandler());
    const url = await env.serve(a);
    const res = await env.call(`${url}/v2/adobe/echo`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
      body: 'hi',
    });
    expect(res.status).toBe(200);
    const h = res.json().receivedHeaders;
    expect(h['x-forwarded-for']).toMatch(/^203\.0\.113\.7, (::ffff:)?127\.0\.0\.1$/);
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('api.example.com');
  });

  it('re-sends a body that express.json() already read', async () => {
    const url = await serve({}, (a) => a.use(express.json()));
    const res = await env.call(`${url}/adobe/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{ "a": 1 }',
    });
    expect(res.json()).toMatchObject({ bytes: 7 }); // {"a":1}
  });

  it('refuses a path that climbs out of the target', async () => {
    const url = await serve();
    expect((await raw(url, '/adobe/../../ims/token/v3')).status).toBe(400);
    expect((await raw(url, '/adobe/%2e%2e/%2e%2e/__emulator/stats')).status).toBe(400);
    expect((await raw(url, '/adobe/x/../whoami')).status).toBe(400); // any dot segment: clients never send one
  });

  it('sends a token failure to next(err): problem+json from imsErrorHandler', async () => {
    const bad = env.make({ clientSecret: 'proxy-wrong-secret' });
    const res = await env.call(`${await serve({ provider: bad })}/adobe/whoami`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ code: 'IMS_INVALID_CLIENT', instance: '/adobe/whoami' });
  });

  it('answers 502 when the API is unreachable and 504 when it is silent', async () => {
    const gone = await startUpstream(false);
    await gone.stop();
    expect((await env.call(`${await serve({ target: gone.url })}/adobe/x`)).status).toBe(502);
    env.emu.fault({ target: 'api', kind: 'hang' });
    const res = await env.call(`${await serve({ timeoutMs: 200 })}/adobe/whoami`);
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it('aborts the upstream request when the client goes away', async () => {
    const up = await startUpstream(true);
    try {
      const url = await serve({ target: up.url });
      const ac = new AbortController();
      const pending = fetch(`${url}/adobe/slow`, { signal: ac.signal }).catch(() => 'aborted');
      while (up.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      expect(await pending).toBe('aborted');
      expect(await up.requests[0]!.closedEarly).toBe(true);
    } finally {
      await up.stop();
    }
  });

  it('validates its options with IMS_CONFIG', () => {
    const bad = (o: Partial<ImsProxyOptions>) => () => imsProxy({ provider, target: 'https://firefly-api.adobe.io/v3', ...o });
    const config = expect.objectContaining({ code: 'IMS_CONFIG' });
    expect(bad({ target: 'http://firefly-api.adobe.io' })).toThrow(config);
    expect(bad({ target: 'not a url' })).toThrow(config);
    expect(bad({ target: 'https://x.adobe.io/?q=1' })).toThrow(config);
    expect(bad({ maxBufferBytes: -1 })).toThrow(config);
    expect(bad({ timeoutMs: 0 })).toThrow(config);
    expect(bad({ provider: undefined as never })).toThrow(config);
    expect(bad({})).not.toThrow();
    expect(bad({ target: 'http://127.0.0.1:9' })).not.toThrow();
  });

  it('leaves other routes alone', async () => {
    const url = await serve({}, (a) => a.get('/own', ((_req, res) => void res.send('own')) as RequestHandler));
    expect((await env.call(`${url}/own`)).text).toBe('own');
  });
});

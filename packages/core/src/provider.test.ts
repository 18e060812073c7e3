import { afterEach, describe, expect, it, vi } from 'vitest';
import { inspect } from 'node:util';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ImsTokenError } from './errors';
import { decodeImsToken } from './token';
import { captureLogger, clientOf, expectNoLeak, renderings, setup } from './test/helpers';
import type { Env } from './test/helpers';

let env: Env;
afterEach(async () => {
  await env?.cleanup();
});

describe('getToken', () => {
  it('mints a token with the credential and scopes, and caches it', async () => {
    env = await setup();
    const p = env.make();
    const t = await p.getToken();
    expect(t.tokenType).toBe('bearer');
    expect(t.clientId).toBe(env.clientId);
    expect(t.scopes).toEqual(['openid', 'AdobeID', 'firefly_api']);
    expect(t.expiresAt - t.issuedAt).toBe(86_399_000);
    expect(decodeImsToken(t.accessToken).clientId).toBe(env.clientId);
    expect(await p.getToken()).toBe(t);
    expect(env.emu.stats.tokensMinted).toBe(1);
    expect(p.status()).toMatchObject({ state: 'valid', counters: { mints: 1, imsRequests: 1 } });
  });

  it('10,000 concurrent callers on a cold cache cause exactly one IMS request', async () => {
    env = await setup();
    env.emu.fault({ kind: 'latency', latencyMs: 50 });
    const p = env.make();
    const tokens = await Promise.all(Array.from({ length: 10_000 }, () => p.getToken()));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(env.emu.stats.tokenRequests).toBe(1);
  });

  it('getAuthHeaders gives the two headers Adobe APIs need', async () => {
    env = await setup();
    const p = env.make();
    const h = await p.getAuthHeaders();
    const t = await p.getToken();
    expect({ ...h }).toEqual({ authorization: `Bearer ${t.accessToken}`, 'x-api-key': env.clientId });
    const res = await fetch(`${env.emu.url}/api/v1/whoami`, { headers: { ...h } });
    expect(res.status).toBe(200);
  });

  it('forceRefresh mints a new token', async () => {
    env = await setup();
    const p = env.make();
    const a = await p.getToken();
    const b = await p.getToken({ forceRefresh: true });
    expect(b.accessToken).not.toBe(a.accessToken);
    expect(env.emu.stats.tokensMinted).toBe(2);
  });

  it('an aborted caller stops waiting with IMS_ABORTED while the shared request completes for others', async () => {
    env = await setup();
    env.emu.fault({ kind: 'latency', latencyMs: 200 });
    const p = env.make();
    const ac = new AbortController();
    const aborted = p.getToken({ signal: ac.signal });
    const other = p.getToken();
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    await expect(other).resolves.toMatchObject({ clientId: env.clientId });
    expect(env.emu.stats.tokenRequests).toBe(1);
    const already = new AbortController();
    already.abort();
    await expect(p.getToken({ signal: already.signal })).rejects.toMatchObject({ code: 'IMS_ABORTED' });
  });

  it('close() rejects later calls with IMS_CLOSED', async () => {
    env = await setup();
    const p = env.make();
    await p.getToken();
    await p.close();
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_CLOSED' });
    expect(p.status().state).toBe('closed');
  });
});

describe('expiry', () => {
  it('never hands out a token under minRemainingMs, and refreshes ahead in the background', async () => {
    env = await setup({ tokenLifetimeSeconds: 100 });
    let now = Date.now();
    const p = env.make({ clock: () => now, minRemainingMs: 5_000, refreshWindowMs: 20_000 });
    const first = await p.getToken();
    expect(first.expiresAt - first.issuedAt).toBe(100_000);

    now += 70_000; // before the refresh window (which ends up 20–24 s before expiry)
    expect(await p.getToken()).toBe(first);
    expect(env.emu.stats.tokenRequests).toBe(1);

    now += 15_000; // 15 s left: inside the window → current token at once to 1,000 callers, one background refresh
    env.emu.fault({ kind: 'latency', latencyMs: 100 });
    const during = await Promise.all(Array.from({ length: 1_000 }, () => p.getToken()));
    expect(during.every((t) => t === first)).toBe(true);
    expect(p.status().state).toBe('refreshing');
    await expect.poll(() => env.emu.stats.tokenRequests).toBe(2);
    await expect.poll(async () => (await p.getToken()).accessToken).not.toBe(first.accessToken);
    expect(env.emu.stats.tokenRequests).toBe(2);
  });

  it('spreads the refresh of a fleet: each provider starts its window up to 20 % early (per-process jitter)', async () => {
    env = await setup();
    const store = new (await import('./store')).MemoryStore();
    const providers = Array.from({ length: 20 }, () => env.make({ store }));
    const token = await providers[0]!.getToken();
    await Promise.all(providers.map((p) => p.getToken())); // all share the one token
    const window = 3_600_000; // 1 h for a 24 h token
    const starts = providers.map((p) => token.expiresAt - p.status().refreshAt!);
    for (const s of starts) {
      expect(s).toBeGreaterThanOrEqual(window);
      expect(s).toBeLessThanOrEqual(window * 1.2);
    }
    expect(new Set(starts).size).toBeGreaterThan(10);
    expect(env.emu.stats.tokensMinted).toBe(1);
  });

  it('waits for a new token instead of serving one with less than minRemainingMs left', async () => {
    env = await setup({ tokenLifetimeSeconds: 100 });
    let now = Date.now();
    const p = env.make({ clock: () => now, minRemainingMs: 5_000, refreshWindowMs: 20_000 });
    const first = await p.getToken();
    now += 96_000; // 4 s left < minRemainingMs
    const next = await p.getToken();
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(next.expiresAt - now).toBeGreaterThanOrEqual(99_000);
  });

  it('scales the defaults down for short-lived tokens, and never serves an expired one', async () => {
    env = await setup({ tokenLifetimeSeconds: 2 });
    let now = Date.now();
    const p = env.make({ clock: () => now });
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = await p.getToken();
      expect(t.expiresAt - now).toBeGreaterThan(0);
      seen.push(t.expiresAt);
      now += 250;
    }
    // 10 s of 2 s tokens: a handful of mints, not one per call
    expect(env.emu.stats.tokenRequests).toBeGreaterThanOrEqual(5);
    expect(env.emu.stats.tokenRequests).toBeLessThanOrEqual(8);
  });

  it('keeps serving the current token while background refreshes fail, then reports the error', async () => {
    env = await setup({ tokenLifetimeSeconds: 100 });
    let now = Date.now();
    const p = env.make({ clock: () => now, minRemainingMs: 5_000, refreshWindowMs: 20_000, maxRetries: 0 });
    const errors: string[] = [];
    p.on('refresh-error', (e) => errors.push(e.code));
    const first = await p.getToken();
    env.emu.fault({ kind: 'status', status: 503, times: Infinity });
    now += 85_000;
    expect(await p.getToken()).toBe(first);
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toBe('IMS_SERVER_ERROR');
    expect(p.status().lastError?.code).toBe('IMS_SERVER_ERROR');
    now += 1_000;
    expect(await p.getToken()).toBe(first); // still served; another try after a pause
    now += 10_000; // 4 s left: no more serving
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });
    env.emu.clearFaults();
    expect((await p.getToken()).accessToken).not.toBe(first.accessToken);
  });

  it('cross-checks expires_in against the token claims and takes the shorter', async () => {
    env = await setup({ tokenLifetimeSeconds: 60 });
    const claimsToken = (await env.make().getToken()).accessToken; // claims say 60 s
    env.emu.fault({ kind: 'response', status: 200, body: { access_token: claimsToken, token_type: 'bearer', expires_in: 86399 } });
    const t = await env.make().getToken();
    expect(t.expiresAt - t.issuedAt).toBe(60_000);
  });
});

describe('a proxy', () => {
  it('reaches IMS through HTTP_PROXY / HTTPS_PROXY when they are set', async () => {
    env = await setup();
    let proxied = 0;
    const proxy = createServer((req, res) => {
      proxied++;
      const up = httpRequest(new URL(req.url!), { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    proxy.on('connect', (req, socket, head) => {
      // undici tunnels through the proxy with CONNECT, for http targets too
      proxied++;
      const [host, port] = req.url!.split(':');
      const up = connect(Number(port), host!, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(socket);
        socket.pipe(up);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      expect(clientOf(await env.make().getToken())).toBe(env.clientId);
      expect(proxied).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});

describe('the hot path', () => {
  it('serves cached tokens without a store lookup or an IMS call', async () => {
    env = await setup();
    const p = env.make();
    const t = await p.getToken();
    for (let i = 0; i < 1000; i++) expect(await p.getToken()).toBe(t);
    expect(p.status().counters).toMatchObject({ hits: 1000, misses: 1, imsRequests: 1 });
  });

  it('follows a faked Date (fake timers) even without an injected clock', async () => {
    env = await setup();
    const p = env.make();
    const a = await p.getToken();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(a.expiresAt - 30_000); // 30 s left: under the 60 s minimum
      const b = await p.getToken();
      expect(b.accessToken).not.toBe(a.accessToken);
      expect(b.expiresAt).toBeGreaterThan(a.expiresAt);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('invalidate', () => {
  it('drops the token only while it is still the one given, so a burst of 401s refreshes once', async () => {
    env = await setup();
    const p = env.make();
    const old = await p.getToken();
    await Promise.all(Array.from({ length: 100 }, () => p.invalidate(old.accessToken)));
    const fresh = await Promise.all(Array.from({ length: 100 }, () => p.getToken()));
    await Promise.all(Array.from({ length: 100 }, () => p.invalidate(old.accessToken)));
    expect(new Set(fresh.map((t) => t.accessToken)).size).toBe(1);
    expect(fresh[0]!.accessToken).not.toBe(old.accessToken);
    expect(await p.getToken()).toBe(fresh[0]);
    expect(env.emu.stats.tokensMinted).toBe(2);
  });

  it('reads a store without a lock once per miss, and a locking store again under its lock', async () => {
    env = await setup();
    const { MemoryStore } = await import('./store');
    const reads = { plain: 0, locking: 0 };
    const backing = new MemoryStore();
    const plain = {
      get: (k: string) => (reads.plain++, backing.get(k)),
      set: backing.set.bind(backing),
      delete: backing.delete.bind(backing),
    };
    await env.make({ store: plain }).getToken();
    expect(reads.plain).toBe(1);
    const other = new MemoryStore();
    const locking = {
      ...plain,
      get: (k: string) => (reads.locking++, other.get(k)),
      withLock: <T>(_k: string, fn: () => Promise<T>) => fn(),
    };
    await env.make({ store: locking }).getToken();
    expect(reads.locking).toBe(2); // before the lock, and under it (another process may have minted meanwhile)
  });

  it('does not take an invalidated token back from the store', async () => {
    env = await setup();
    const { MemoryStore } = await import('./store');
    let now = Date.now();
    const store = new MemoryStore({ clock: () => now });
    const a = env.make({ store, clock: () => now });
    const b = env.make({ store, clock: () => now });
    const t = await a.getToken();
    expect((await b.getToken()).accessToken).toBe(t.accessToken);
    expect(env.emu.stats.tokensMinted).toBe(1);
    // (a 401 for a token another provider minted under 30 s ago re-reads the store instead: unauthorized.test.ts)
    now += 60_000;
    expect(await b.invalidate(t.accessToken)).toBe(true);
    expect((await b.getToken()).accessToken).not.toBe(t.accessToken);
  });
});

describe('status, events and redaction', () => {
  it('status() and events never carry the token; inspect and JSON show 6 characters', async () => {
    env = await setup();
    const log = captureLogger();
    const p = env.make({ logger: log.logger });
    const events: unknown[] = [];
    p.on('token', (e) => events.push(e));
    const t = await p.getToken();
    const h = await p.getAuthHeaders();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ source: 'ims', clientId: env.clientId, tokenPreview: t.accessToken.slice(0, 6) + '…' });
    const secrets = [t.accessToken, env.secret, t.accessToken.slice(0, 20)];
    expectNoLeak(
      renderings(t) + renderings(h) + renderings(p) + renderings(p.status()) + renderings(events) + log.lines.join('\n'),
      secrets,
    );
    expect(inspect(t)).toContain(t.accessToken.slice(0, 6));
  });

  it('a listener that throws does not break getToken', async () => {
    env = await setup();
    const log = captureLogger();
    const p = env.make({ logger: log.logger });
    p.on('token', () => {
      throw new Error('listener bug');
    });
    expect(clientOf(await p.getToken())).toBe(env.clientId);
    expect(log.lines.some((l) => l.includes('listener'))).toBe(true);
  });

  it('an unsubscribe function stops events', async () => {
    env = await setup();
    const p = env.make();
    let n = 0;
    const off = p.on('token', () => n++);
    await p.getToken();
    off();
    await p.getToken({ forceRefresh: true });
    expect(n).toBe(1);
    expect(ImsTokenError.is(new ImsTokenError('IMS_CONFIG', 'x'))).toBe(true);
  });
});

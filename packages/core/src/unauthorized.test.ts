import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callWithOneRetry, startApiStandIn, tokenOf } from '@ims-token/test-kit';
import type { ApiStandIn } from '@ims-token/test-kit';
import type { EmulatorOptions } from '@ims-token/emulator';
import { FileStore } from './file-store';
import { MemoryStore } from './store';
import type { TokenProvider } from './provider';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

// The 401 policy, from the outside: a stand-in Adobe API over real HTTP, the emulator as IMS, and the three
// lines every adapter runs on a 401. No client may turn its requests into IMS mints.

let env: Env;
let api: ApiStandIn;
let dir: string | undefined;
afterEach(async () => {
  await api?.close();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Mint counts per scenario, printed with IMS_TOKEN_REPORT=1 (the figures in the report come from here). */
function report(scenario: string, mints: number): void {
  if (process.env.IMS_TOKEN_REPORT) process.stdout.write(`401-policy ${scenario}: ${mints} mints\n`);
}

async function start(options: EmulatorOptions = {}): Promise<void> {
  env = await setup(options);
  // `/ok` asks the emulator whether the token is valid now (not expired, not revoked).
  api = await startApiStandIn(async (h) => {
    const r = await fetch(`${env.emu.url}/api/v1/whoami`, {
      headers: { authorization: String(h.authorization), 'x-api-key': String(h['x-api-key']) },
    });
    await r.arrayBuffer();
    return r.status === 200;
  });
}

const mints = (): number => env.emu.stats.tokensMinted;
const call = (p: TokenProvider, path: string) => callWithOneRetry(p, (h) => api.call(path, h));
/**
 * Two requests to the always-401 path: the first refreshes and its retry fails (adapters do not report the
 * retry's 401); the second's 401 is for the refreshed token — the strike that starts the back-off.
 */
async function strike(p: TokenProvider): Promise<void> {
  expect(await call(p, '/always-401')).toEqual({ status: 401, retried: true });
  expect(await call(p, '/always-401')).toEqual({ status: 401, retried: false });
  expect(p.status().unauthorizedBackoff).toBeDefined();
}

describe('1,000 requests over 10 s (simulated) to a path that always answers 401', () => {
  it('sequential: at most 3 mints, every request gets its 401', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    await p.getToken();
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1_000; i++) {
      now += 10;
      const { status } = await call(p, '/always-401');
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    report('sequential', mints());
    expect(statuses).toEqual(new Map([[401, 1_000]]));
    expect(mints()).toBeLessThanOrEqual(3);
    // one 401-driven refresh, then back-off: the other 999 were passed on without a retry
    expect(api.stats.byPath['/always-401']).toBeLessThanOrEqual(1_002);
  });

  it('concurrent, 50 at a time: at most 3 mints', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    for (let batch = 0; batch < 20; batch++) {
      now += 500;
      const results = await Promise.all(Array.from({ length: 50 }, () => call(p, '/always-401')));
      expect(results.every((r) => r.status === 401)).toBe(true);
    }
    report('concurrent-50', mints());
    expect(mints()).toBeLessThanOrEqual(3);
  });

  it('interleaved 1:1 with successful calls: at most 3 mints, and every good call succeeds', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    const good: number[] = [];
    for (let i = 0; i < 500; i++) {
      now += 10;
      expect((await call(p, '/always-401')).status).toBe(401);
      now += 10;
      good.push((await call(p, '/ok')).status);
    }
    report('interleaved', mints());
    expect(good.every((s) => s === 200)).toBe(true);
    expect(mints()).toBeLessThanOrEqual(3);
  });

  it('interleaved and concurrent (25 + 25 at a time): at most 3 mints, every good call succeeds', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    for (let batch = 0; batch < 20; batch++) {
      now += 500;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(p, i % 2 ? '/ok' : '/always-401')));
      expect(results.filter((_, i) => i % 2).every((r) => r.status === 200)).toBe(true);
    }
    report('interleaved-concurrent', mints());
    expect(mints()).toBeLessThanOrEqual(3);
  });
});

describe('a token that really was revoked', () => {
  it('is replaced on the first 401 and the retried call succeeds, with one mint', async () => {
    await start();
    const p = env.make();
    const old = await p.getToken();
    env.emu.revokeTokens(env.clientId);
    const before = mints();
    expect(await call(p, '/ok')).toEqual({ status: 200, retried: true });
    expect(mints()).toBe(before + 1);
    expect((await p.getToken()).accessToken).not.toBe(old.accessToken);
    expect(await call(p, '/ok')).toEqual({ status: 200, retried: false });
  });

  it('a burst of 100 concurrent 401s for it causes one refresh; all retry with the one fresh token', async () => {
    await start();
    const p = env.make();
    const old = await p.getToken();
    env.emu.revokeTokens(env.clientId);
    const before = mints();
    const seen = new Set<string>();
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        callWithOneRetry(p, async (h) => {
          const status = await api.call('/ok', h);
          if (status === 200) seen.add(tokenOf(h));
          return status;
        }),
      ),
    );
    expect(results.every((r) => r.status === 200 && r.retried)).toBe(true);
    expect(mints()).toBe(before + 1);
    expect(seen.size).toBe(1);
    expect(seen.has(old.accessToken)).toBe(false);
    // and invalidate() of the old token resolved true for each of them (they all retried)
  });

  it('after the back-off has ended, a revoked token is replaced again', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    await strike(p);
    env.emu.revokeTokens(env.clientId);
    expect(await call(p, '/ok')).toEqual({ status: 401, retried: false }); // during the back-off the 401 is passed on
    now += 30_000;
    expect(await call(p, '/ok')).toEqual({ status: 200, retried: true });
  });
});

describe('a token that expires in flight (short-lived tokens under load)', () => {
  it('a 401 for a token past its serving window is explained by its age: refreshed every time, never a strike', async () => {
    env = await setup({ tokenLifetimeSeconds: 10 });
    let now = Date.now();
    const p = env.make({ clock: () => now, refreshWindowMs: 1 });
    // The API receives the request just after the token expired: it answers 401 to that token.
    const expired = new Set<string>();
    let expireInFlight = false;
    api = await startApiStandIn((h) => {
      const token = String(h.authorization).slice('Bearer '.length);
      if (expireInFlight) {
        expireInFlight = false;
        expired.add(token);
        now = p.status().expiresAt! + 1;
      }
      return !expired.has(token);
    });
    await p.getToken();
    for (let round = 0; round < 3; round++) {
      const before = mints();
      expireInFlight = true;
      expect(await call(p, '/ok')).toEqual({ status: 200, retried: true });
      expect(mints()).toBe(before + 1); // the refresh its age called for anyway
    }
    expect(p.status().unauthorizedBackoff).toBeUndefined();
  });

  it('also when another caller already dropped it for its age and is fetching the next one', async () => {
    await start({ tokenLifetimeSeconds: 10 });
    let now = Date.now();
    const p = env.make({ clock: () => now, refreshWindowMs: 1 });
    await p.getToken();
    env.emu.revokeTokens(env.clientId);
    expect(await call(p, '/ok')).toEqual({ status: 200, retried: true }); // a 401-driven refresh: its token is on probation
    const h = await p.getAuthHeaders();
    now = p.status().expiresAt! + 1; // the token expires in flight …
    env.emu.fault({ kind: 'latency', latencyMs: 300 });
    const next = p.getAuthHeaders(); // … while another caller, finding it too old, has the next one minted
    expect(await p.invalidate(tokenOf(h))).toBe(true); // its 401 is explained by its age: no strike
    expect(tokenOf(await next)).not.toBe(tokenOf(h));
    expect(p.status().unauthorizedBackoff).toBeUndefined();
  });
});

describe('the back-off', () => {
  it('lets one 401-driven refresh through per period: 30 s, doubling to 10 min, then decays after quiet time', async () => {
    await start();
    let now = Date.now();
    const p = env.make({ clock: () => now });
    await strike(p);
    const periods: number[] = [];
    for (let i = 0; i < 7; i++) {
      const until = p.status().unauthorizedBackoff!.until;
      periods.push(until - now);
      now = until - 1;
      const before = mints();
      expect(await call(p, '/always-401')).toEqual({ status: 401, retried: false });
      expect(mints()).toBe(before); // still backing off
      now = until;
      await strike(p); // one probe, its retry fails, the next 401 is the strike …
      expect(mints()).toBe(before + 1); // … for one mint
    }
    periods.push(p.status().unauthorizedBackoff!.until - now);
    expect(periods).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);

    // Quiet: 20 minutes without a 401 after the back-off ended lower it two steps (600 → 240 s); the next
    // failed refresh doubles that once (480 s).
    now = p.status().unauthorizedBackoff!.until + 20 * 60_000;
    expect(p.status().unauthorizedBackoff).toBeUndefined();
    await strike(p);
    expect(p.status().unauthorizedBackoff!.until - now).toBe(480_000);
    // 9 refreshes on a 401 (the first, 7 probes, 1 after the quiet time); 16 401s passed on (9 strikes, 7 during back-off)
    expect(p.status().counters).toMatchObject({ invalidations: 9, invalidationsRefused: 16 });
  });

  it('while backing off, invalidate(token) resolves false, keeps the token and leaves the store alone', async () => {
    await start();
    const now = Date.now();
    const store = new MemoryStore({ clock: () => now });
    const p = env.make({ clock: () => now, store });
    await strike(p);
    const current = await p.getToken();
    expect(await p.invalidate(current.accessToken)).toBe(false);
    expect(await p.getToken()).toBe(current);
    expect((await store.get(p.cacheKey))?.accessToken).toBe(current.accessToken);
    // a token older than the current one: retrying with the current one costs no mint, so true
    const before = mints();
    expect(await p.invalidate('an-older-token')).toBe(true);
    expect(mints()).toBe(before);
  });

  it('invalidate() without a token is an operator action: it drops the token even while backing off', async () => {
    await start();
    const now = Date.now();
    const store = new MemoryStore({ clock: () => now });
    const p = env.make({ clock: () => now, store });
    await strike(p);
    const current = await p.getToken();
    expect(await p.invalidate()).toBe(true);
    expect(await store.get(p.cacheKey)).toBeUndefined();
    expect((await p.getToken()).accessToken).not.toBe(current.accessToken);
  });
});

describe('a fleet sharing a store', () => {
  // Ten providers with one FileStore stand in for ten processes: each keeps its own memory and back-off,
  // and they share only the store (and its lock), as processes sharing Redis do.
  async function fleet(now: () => number): Promise<TokenProvider[]> {
    dir = await mkdtemp(join(tmpdir(), 'ims-401-'));
    const cache = join(dir, 'cache');
    return Array.from({ length: 10 }, () => env.make({ clock: now, store: new FileStore({ dir: cache }) }));
  }

  it('10 providers, 1,000 requests interleaved 1:1 with good calls, joining one by one: at most 3 mints', async () => {
    await start();
    let now = Date.now();
    const providers = await fleet(() => now);
    const good: number[] = [];
    for (let i = 0; i < 500; i++) {
      // provider k joins after k × 50 requests, so late joiners first get a token minted after the 401s began
      const active = providers.slice(0, 1 + Math.min(9, Math.floor(i / 50)));
      const p = active[i % active.length]!;
      now += 10;
      expect((await call(p, '/always-401')).status).toBe(401);
      now += 10;
      good.push((await call(p, '/ok')).status);
    }
    report('fleet-10-interleaved-joining', mints());
    expect(good.every((s) => s === 200)).toBe(true);
    expect(mints()).toBeLessThanOrEqual(3);
  });

  it('10 providers, 50 concurrent requests each round: at most 3 mints', async () => {
    await start();
    let now = Date.now();
    const providers = await fleet(() => now);
    for (let batch = 0; batch < 20; batch++) {
      now += 500;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(providers[i % 10]!, '/always-401')));
      expect(results.every((r) => r.status === 401)).toBe(true);
    }
    report('fleet-10-concurrent', mints());
    expect(mints()).toBeLessThanOrEqual(3);
  });

  it('a late joiner does not delete the token another provider just minted after a 401', async () => {
    await start();
    let now = Date.now();
    const [a, late] = await fleet(() => now);
    await strike(a!); // a refreshed on a 401, and backs off; its fresh token is in the store
    const shared = await a!.getToken();
    const before = mints();
    expect((await late!.getToken()).accessToken).toBe(shared.accessToken);
    now += 5_000;
    await strike(late!); // its first 401 re-reads the store instead of minting; the next one is a strike
    expect(mints()).toBe(before);
    expect((await late!.getToken()).accessToken).toBe(shared.accessToken);
    expect(await call(late!, '/ok')).toEqual({ status: 200, retried: false });
  });

  it('a revoked token another provider minted long ago is replaced on the first 401, and shared', async () => {
    await start();
    let now = Date.now();
    const [a, b] = await fleet(() => now);
    const old = await a!.getToken();
    expect((await b!.getToken()).accessToken).toBe(old.accessToken);
    now += 3_600_000;
    env.emu.revokeTokens(env.clientId);
    const before = mints();
    expect(await call(b!, '/ok')).toEqual({ status: 200, retried: true });
    expect(await call(a!, '/ok')).toEqual({ status: 200, retried: true });
    expect(mints()).toBe(before + 1);
  });
});

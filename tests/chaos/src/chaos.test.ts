import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS, MemoryStore, createTokenProvider, rotateClientSecret } from '@ims-token/core';
import type { InvalidateMessage, MintContext, StoreContext, TokenProvider, TokenProviderOptions } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import { createImsFetch } from '@ims-token/fetch';
import { RedisStore } from '@ims-token/redis';
import { renderings } from '@ims-token/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, equalShares, manualClock, tick, waitFor } from './load';
import type { ManualClock } from './load';
import { Meter, renderTable } from './meter';
import type { Row } from './meter';
import { RedisServer } from './redis-server';

const SCOPES = 'openid,AdobeID';
const HOUR = 3_600_000;
const rows: Row[] = [];
let redis: RedisServer;

/** One scenario's world: a manual clock, an emulator on it with a fresh client, and a meter. */
interface World {
  clock: ManualClock;
  emu: Emulator;
  clientId: string;
  secret: string;
  meter: Meter;
  started: number;
  /** Providers and stores to close and to scan (their `inspect` and `status()` are outputs too). */
  providers: TokenProvider[];
  stores: RedisStore[];
  /** The Redis key prefix of the scenario's stores. */
  prefix: string;
}

async function world(options: EmulatorOptions = {}, clockOptions: { running?: boolean } = {}): Promise<World> {
  const clock = manualClock(clockOptions);
  const meter = new Meter(clock);
  const emu = await startEmulator({ clock, logger: (line) => meter.texts.push(line), ...options });
  const client = emu.addClient();
  meter.secrets.add(client.clientSecret);
  return {
    clock,
    emu,
    clientId: client.clientId,
    secret: client.clientSecret,
    meter,
    started: performance.now(),
    providers: [],
    stores: [],
    prefix: `chaos-${randomUUID()}:`,
  };
}

function provider(w: World, options: Partial<TokenProviderOptions> = {}): TokenProvider {
  const p = createTokenProvider({
    clientId: w.clientId,
    clientSecret: w.secret,
    scopes: SCOPES,
    imsUrl: w.emu.url,
    clock: w.clock,
    logger: w.meter.log.logger,
    ...options,
  });
  w.providers.push(p);
  return p;
}

function redisStore(w: World, options: { lockTtlMs?: number; waitTimeoutMs?: number; commandTimeoutMs?: number } = {}): RedisStore {
  // One prefix per scenario, shared by its stores: each scenario starts cold, its providers share one entry.
  // A generous command (and so connect) timeout: in the full suite, on this shared 2-core machine beside 20-process
  // fleet tests, a starved process can take seconds to connect or to hear Redis's answer, and a timeout is (by design)
  // a miss that mints locally — each of 10 providers once: 11 mints where the bound is 3, seen twice in CI on Node 22.
  // The scenarios are about IMS, 401s and Redis dying, not about a slow Redis; the notes show store errors if any.
  const store = new RedisStore({ url: redis.url, prefix: w.prefix, logger: w.meter.log.logger, commandTimeoutMs: 10_000, ...options });
  w.stores.push(store);
  return store;
}

/** The distinct warnings of the world's logger (store and provider), counted: `[first 60 characters, count]`. */
function warnings(w: World): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const line of w.meter.log.lines) {
    if (!line.startsWith('warn') && !line.startsWith('error')) continue;
    const msg = `${line.slice(0, line.indexOf(' '))}:${line.slice(line.lastIndexOf('} ') + 2, line.lastIndexOf('} ') + 62)}`;
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return [...counts];
}

/** Closes the world, scans every output for secrets and tokens, and records the row (before the goals are asserted). */
async function finish(w: World, row: Omit<Row, 'served' | 'failed' | 'failedWhileValid' | 'expired' | 'mints' | 'leaks'>): Promise<Row> {
  const m = w.meter;
  const extra = [...w.providers.flatMap((p) => [renderings(p), inspect(p.status(), { depth: 5 })]), ...redis.output];
  const mints = w.emu.stats.tokensMinted;
  await Promise.all(w.providers.map((p) => p.close()));
  await Promise.all(w.stores.map((s) => s.close()));
  await w.emu.stop();
  const seconds = ((performance.now() - w.started) / 1000).toFixed(1);
  const errors = m.errorSummary();
  const r: Row = {
    ...row,
    served: m.served,
    failed: m.failed,
    failedWhileValid: m.failedWhileValid,
    expired: m.expired,
    mints,
    leaks: m.leaks(extra),
    note: `${row.note}${errors ? `; errors: ${errors}` : ''}; ${seconds} s`,
  };
  rows.push(r);
  return r;
}

function expectGoals(r: Row, maxMints: number): void {
  expect(r.expired, 'expired tokens served').toBe(0);
  expect(r.leaks, 'secrets or tokens in the output').toBe(0);
  expect(r.failedWhileValid, 'failed calls while a valid token existed').toBe(0);
  expect(r.mints, 'mints').toBeLessThanOrEqual(maxMints);
}

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.kill();
  const table = renderTable(rows, `pnpm test:chaos — ${new Date().toISOString()}`);
  mkdirSync(new URL('../../../.reports/', import.meta.url), { recursive: true });
  writeFileSync(new URL('../../../.reports/chaos.md', import.meta.url), table);
  console.log(`\n${table}`);
});

describe.sequential('chaos', () => {
  it('the leak scan finds a token or a secret in any output it is given (so a 0 below means something)', () => {
    const m = new Meter(() => 0, ['p8e-secret-value']);
    m.tokens.add('eyJ.full.token');
    expect(m.leaks()).toBe(0);
    m.log.logger.warn({ token: 'eyJ.fu' }, 'a prefix is fine');
    expect(m.leaks()).toBe(0);
    m.log.logger.debug({ note: 'x eyJ.full.token y' });
    expect(m.leaks()).toBe(1);
    expect(m.leaks(['… client_secret=p8e-secret-value'])).toBe(2);
    m.failure(new Error('boom', { cause: new Error('p8e-secret-value') }));
    expect(m.leaks()).toBe(2);
  });

  /** 30 % of token requests fail (seeded): 503, 429 with Retry-After, reset, hang, equally; `simulated` of 20 min tokens. */
  async function flapping(shared: 'memory' | 'redis', size: number, simulated: number): Promise<void> {
    const lifetime = 1_200_000; // 20 min tokens: many refreshes in a short run
    // The clock runs with real time too, and jumps only between bursts once no IMS request is on the wire: a
    // provider's real waits (backoff, Retry-After, a hang's timeout) cost it exactly that much time, never minutes.
    const w = await world({ tokenLifetimeSeconds: lifetime / 1000 }, { running: true });
    const kinds = [
      { kind: 'status', status: 503 },
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'reset' },
      { kind: 'hang' },
    ] as const;
    const chances = equalShares(kinds.length, 0.3);
    kinds.forEach((k, i) => w.emu.fault({ ...k, times: Infinity, probability: chances[i]!, seed: 1000 + i }));
    const memory = new MemoryStore({ clock: w.clock });
    const fleet = Array.from({ length: size }, () =>
      provider(w, {
        store: shared === 'memory' ? memory : redisStore(w),
        timeoutMs: 1000,
        retryBaseDelayMs: 20,
        retryMaxDelayMs: 1000,
      }),
    );
    const quiet = (): boolean => fleet.every((p) => !['refreshing', 'fetching'].includes(p.status().state));
    for (let t = 0; t < simulated; t += 30_000) {
      await burst(w.meter, fleet, 8);
      await waitFor(quiet, 20_000);
      w.clock.jump(30_000);
    }
    const lifetimes = Math.ceil(simulated / (0.85 * lifetime));
    // Alone (a MemoryStore has no lock) each provider may mint once a lifetime; a fleet on Redis mints once for all.
    const bound = shared === 'memory' ? fleet.length * (lifetimes + 1) : lifetimes + fleet.length;
    const s = w.emu.stats;
    const faults = kinds
      .map((k) => {
        const n = w.meter.texts.filter((l) => l.endsWith(`fault=${k.kind}`)).length;
        return k.kind === 'status' ? undefined : `${k.kind}×${n}`;
      })
      .filter(Boolean);
    const r = await finish(w, {
      scenario: `IMS flapping (30 % 503/429/reset/hang), ${size} providers sharing ${shared === 'memory' ? 'a MemoryStore' : 'Redis'}, ${simulated / HOUR} h of 20 min tokens`,
      mintBound:
        shared === 'memory' ? `≤ ${bound} (${size} × (${lifetimes} lifetimes + 1))` : `≤ ${bound} (${lifetimes} lifetimes + ${size})`,
      note: `${s.tokenRequests} token requests, ${s.faultsApplied} faulted (503/429×${s.faultsApplied - faults.reduce((n, f) => n + Number(f!.split('×')[1]), 0)}, ${faults.join(', ')})`,
    });
    expectGoals(r, bound);
    expect(s.faultsApplied / s.tokenRequests).toBeGreaterThan(0.15);
  }

  it('IMS flapping: 30 % of token requests get a 503, a 429 with Retry-After, a reset or a hang', async () => {
    await flapping('memory', 4, 8 * HOUR);
  });

  it('IMS flapping under a fleet sharing Redis', async () => {
    await flapping('redis', 3, 8 * HOUR);
  });

  it('Redis killed (SIGKILL) while 3 providers serve, restarted empty an hour later', async () => {
    const w = await world({ tokenLifetimeSeconds: 3600 });
    const fleet = Array.from({ length: 3 }, () =>
      provider(w, { store: redisStore(w, { lockTtlMs: 2000, waitTimeoutMs: 3000, commandTimeoutMs: 2000 }) }),
    );
    const step = 5 * 60_000;
    const steps = 48; // 4 h
    const reconnected = (): number => w.meter.log.lines.filter((l) => l.includes('reachable again')).length;
    let killedAt = 0;
    let restartedAt = 0;
    let backAt = 0;
    for (let i = 0; i < steps; i++) {
      if (i === 12) {
        // the clock has just crossed the first token's life: these calls miss, and Redis dies under them
        killedAt = w.emu.stats.tokensMinted;
        await Promise.all([burst(w.meter, fleet, 20), redis.kill()]);
      } else if (i === 24) {
        restartedAt = w.emu.stats.tokensMinted;
        const before = reconnected();
        await Promise.all([burst(w.meter, fleet, 20), redis.restart()]);
        // the stores reconnect with their own backoff (real time, at most ~2 s)
        await waitFor(() => reconnected() >= before + fleet.length, 10_000);
        backAt = w.emu.stats.tokensMinted;
      } else {
        await burst(w.meter, fleet, 20);
      }
      w.clock.jump(step);
    }
    const after = w.emu.stats.tokensMinted - backAt;
    const afterBound = Math.ceil(((steps - 25) * step) / (0.85 * HOUR)) + 1; // one per lifetime for the whole fleet
    const lifetimes = Math.ceil((steps * step) / (0.85 * HOUR));
    const bound = fleet.length * (lifetimes + 1);
    const r = await finish(w, {
      scenario: 'Redis killed mid-run and restarted, 3 providers on one Redis, 4 h of 1 h tokens',
      mintBound: `≤ ${bound} (3 × (${lifetimes} lifetimes + 1)); after Redis is back ≤ ${afterBound}`,
      note: `${killedAt} mint(s) before the kill, ${restartedAt - killedAt} while Redis was down, ${backAt - restartedAt} while it came back, ${after} for the whole fleet once it was back`,
    });
    expectGoals(r, bound);
    expect(r.failed, 'Redis down must never fail a call').toBe(0);
    expect(after, 'the fleet shares one token again once Redis is back').toBeLessThanOrEqual(afterBound);
  });

  it('a secret rotation (add, verify, persist, delete old) while 4 providers keep serving and minting', async () => {
    const w = await world({ tokenLifetimeSeconds: 1200, secretActivationDelayMs: 0 });
    // Two providers read the secrets from a function, two from a secret file (new first, old second, written atomically).
    let current: string[] = [w.secret];
    const secretSource = (): string[] => current;
    const dir = mkdtempSync(join(tmpdir(), 'ims-chaos-'));
    const file = join(dir, 'client-secret');
    writeFileSync(file, `${w.secret}\n`, { mode: 0o600 });
    const store = new MemoryStore({ clock: w.clock });
    const fleet = [
      provider(w, { clientSecret: secretSource, store }),
      provider(w, { clientSecret: secretSource, store }),
      provider(w, { clientSecret: undefined, clientSecretFile: file, store }),
      provider(w, { clientSecret: undefined, clientSecretFile: file, store }),
    ];
    const client = w.emu.client(w.clientId)!;
    // The I/O Management API answers a little slowly, so the rotation spans many steps of the fleet's time.
    w.emu.fault({ kind: 'latency', latencyMs: 40, target: 'secrets', times: Infinity });
    let done = false;
    let mintsDuringRotation = 0;
    for (const p of fleet) p.on('token', (e) => void (!done && e.source === 'ims' && mintsDuringRotation++));
    const rotation = rotateClientSecret({
      clientId: w.clientId,
      clientSecret: secretSource,
      orgId: client.orgId,
      credentialId: client.credentialId,
      imsUrl: w.emu.url,
      managementUrl: w.emu.url,
      clock: w.clock,
      logger: w.meter.log.logger,
      scopes: SCOPES,
      persist: async (secret) => {
        w.meter.secrets.add(secret);
        current = [secret, ...current.slice(0, 1)];
        writeFileSync(`${file}.tmp`, `${current.join('\n')}\n`, { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
      },
      deleteOld: true,
      force: true,
      minIdleMs: 0,
      verifyDelayMs: 20,
    }).finally(() => {
      done = true;
    });
    let steps = 0;
    let stepsDuring = 0;
    let after = 0;
    while (after < 40 && steps < 400) {
      await burst(w.meter, fleet, 10);
      w.clock.jump(60_000);
      steps++;
      if (done) after++;
      else {
        stepsDuring++;
        await tick(5);
      }
    }
    const report = await rotation;
    rmSync(dir, { recursive: true, force: true });
    w.meter.texts.push(JSON.stringify(report), inspect(report, { depth: 5 }));
    const oldGone = !client.clientSecrets.includes(w.secret);
    const lifetimes = Math.ceil((steps * 60_000) / (0.85 * 1_200_000));
    const bound = fleet.length * (lifetimes + 1) + 2; // + the rotation's own token and its verification
    const r = await finish(w, {
      scenario:
        'rotation under load (core rotateClientSecret, deleteOld), 4 providers (2 from a function, 2 from a secret file), 20 min tokens',
      mintBound: `≤ ${bound} (4 × (${lifetimes} lifetimes + 1) + 2)`,
      note:
        `rotation ${report.ok ? 'ok' : 'FAILED'} (${report.steps.map((s) => `${s.name}:${s.status}`).join(' ')}) over ${stepsDuring} min of the fleet's time, ` +
        `${mintsDuringRotation} fleet mints meanwhile; old secret ${oldGone ? 'deleted' : 'kept'}; ${steps} steps of 1 min`,
    });
    expectGoals(r, bound);
    expect(report.ok).toBe(true);
    expect(oldGone).toBe(true);
    expect(r.failed).toBe(0);
    expect(mintsDuringRotation, 'the fleet minted while the rotation ran').toBeGreaterThan(0);
  });

  it('clock jumps: forward into the refresh window, past expiry, back, to the last minute, during a mint', async () => {
    const w = await world({ tokenLifetimeSeconds: 86_399 });
    const fleet = [provider(w), provider(w)];
    const jumps: [string, number][] = [
      ['+1 s', 1000],
      ['+23 h 10 min (refresh window)', 23 * HOUR + 600_000],
      ['+30 min', 1_800_000],
      ['+25 h (past expiry)', 25 * HOUR],
      ['−10 min (NTP step back)', -600_000],
      ['+23 h 59 min 30 s (last minute)', 24 * HOUR - 30_000],
      ['+7 d', 7 * 24 * HOUR],
    ];
    let rejectedByApi = 0;
    /** One served token shown to the sample API: the emulator, on the same clock, must accept it. */
    const check = async (): Promise<void> => {
      const t = await w.meter.call(() => fleet[0]!.getToken());
      if (!t) return;
      const res = await fetch(`${w.emu.url}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${t.accessToken}`, 'x-api-key': w.clientId },
      });
      if (res.status !== 200) rejectedByApi++;
      await res.arrayBuffer();
    };
    /** Lets background refreshes finish (real time, bounded), so each jump starts from a settled state. */
    const settle = (): Promise<void> => waitFor(() => fleet.every((p) => !['refreshing', 'fetching'].includes(p.status().state)), 5000);
    await burst(w.meter, fleet, 50);
    for (const [, ms] of jumps) {
      w.clock.jump(ms);
      await burst(w.meter, fleet, 50);
      await check();
      await settle();
    }
    // +12 h while a mint is on the wire (its answer held 300 ms): the token is still good when handed out
    w.clock.jump(24 * HOUR);
    w.emu.fault({ kind: 'latency', latencyMs: 300 });
    const held = w.emu.stats.faultsApplied;
    const inFlight = burst(w.meter, fleet, 50);
    await waitFor(() => w.emu.stats.faultsApplied > held, 5000); // the mint is at the emulator, its answer held
    w.clock.jump(12 * HOUR);
    await inFlight;
    await check();
    await settle();
    // +7 d while a background refresh is on the wire (a machine resumed from sleep): callers that miss join a refresh
    // sent before the jump, whose answer arrives stale; the provider asks IMS once more, timed from now
    w.clock.jump(Math.min(...fleet.map((p) => p.status().expiresAt ?? Infinity)) - 1_800_000 - w.clock()); // 30 min before expiry
    w.emu.fault({ kind: 'latency', latencyMs: 300, times: 2 });
    const refreshesHeld = w.emu.stats.faultsApplied;
    await burst(w.meter, fleet, 1); // served at once from the current token; starts both background refreshes
    await waitFor(() => w.emu.stats.faultsApplied >= refreshesHeld + 2, 5000); // both refreshes are at the emulator, held
    w.clock.jump(7 * 24 * HOUR);
    const failedBefore = w.meter.failed;
    await burst(w.meter, fleet, 50);
    const failedAfterJump = w.meter.failed - failedBefore;
    await burst(w.meter, fleet, 50); // and then?
    await check();
    const bound = (jumps.length + 3) * fleet.length + 2; // + each provider's second request after the late answer
    const r = await finish(w, {
      scenario: `clock jumps (${jumps.map(([name]) => name.split(' (')[0]).join(', ')}, +12 h mid-mint, +7 d mid-refresh), 2 providers`,
      mintBound: `≤ ${bound} (2 per jump + 2 for the late answer + 2)`,
      note:
        `the sample API refused ${rejectedByApi} served token(s); ${failedAfterJump} of 100 calls right after +7 d mid-refresh failed ` +
        '(they joined a refresh sent before the jump, whose answer came stale: asked again)',
    });
    expectGoals(r, bound);
    expect(rejectedByApi).toBe(0);
    expect(failedAfterJump).toBe(0);
    expect(r.failed).toBe(0);
  });

  it('the always-401 attack: 1,000 calls, 1:1 always-401 and good, through createImsFetch', async () => {
    const w = await world();
    const p = provider(w);
    const imsFetch = createImsFetch({ provider: p, allowedHosts: ['127.0.0.1'] });
    const holdsToken = (): boolean => (p.status().expiresAt ?? 0) > w.clock();
    let attack401 = 0;
    const calls = 1000;
    for (let i = 0; i < calls; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const bad = (i + j) % 2 === 0;
          try {
            const res = await imsFetch(`${w.emu.url}/api/v1/${bad ? 'always-401' : 'whoami'}`);
            await res.arrayBuffer();
            if (bad) attack401 += res.status === 401 ? 1 : 0;
            else if (res.status === 200) w.meter.served++;
            else w.meter.failure(new Error(`good call answered ${res.status}`), holdsToken());
          } catch (err) {
            w.meter.failure(err, holdsToken());
          }
        }),
      );
      w.clock.jump(100); // 1,000 calls over 10 s
    }
    const status = p.status();
    const r = await finish(w, {
      scenario: 'always-401 attack, 1 provider, 500 bad + 500 good calls over 10 s',
      mintBound: '≤ 3',
      note: `${attack401}/500 attack calls answered 401; ${status.counters.invalidationsRefused} refreshes refused by the 401 back-off`,
    });
    expectGoals(r, 3);
    expect(r.failed).toBe(0);
  });

  it('the always-401 attack alone: 1,000 calls, 50 at a time', async () => {
    const w = await world();
    const p = provider(w);
    const imsFetch = createImsFetch({ provider: p, allowedHosts: ['127.0.0.1'] });
    let attack401 = 0;
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          try {
            const res = await imsFetch(`${w.emu.url}/api/v1/always-401`);
            await res.arrayBuffer();
            attack401 += res.status === 401 ? 1 : 0;
          } catch (err) {
            w.meter.failure(err, false);
          }
        }),
      );
      w.clock.jump(500); // 1,000 calls over 10 s
    }
    const r = await finish(w, {
      scenario: 'always-401 attack alone, 1 provider, 1,000 calls 50 at a time over 10 s',
      mintBound: '≤ 3',
      note: `${attack401}/1000 attack calls answered 401 (no good calls: served counts none)`,
    });
    expectGoals(r, 3);
    expect(attack401).toBe(1000);
  });

  it('the always-401 attack across 10 providers sharing Redis', async () => {
    const w = await world();
    // What each mint and 401 was, from core's diagnostics channels: a failure explains itself in the table's note.
    const seen: Record<string, number> = {};
    const count = (what: string): void => void (seen[what] = (seen[what] ?? 0) + 1);
    const noop = (): void => {};
    const traced = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
    const onMint = { ...traced, start: (m: unknown): void => count(`mint:${(m as MintContext).reason}`) };
    const onInvalidate = (m: unknown): void => count(`401:${(m as InvalidateMessage).verdict}`);
    const onFallback = (): void => count('store-fallback');
    const onStore = { ...traced, error: (m: unknown): void => count(`store-error:${(m as StoreContext).op}`) };
    tracingChannel(DIAGNOSTICS_CHANNELS.mint).subscribe(onMint);
    tracingChannel(DIAGNOSTICS_CHANNELS.store).subscribe(onStore);
    subscribe(DIAGNOSTICS_CHANNELS.invalidate, onInvalidate);
    subscribe(DIAGNOSTICS_CHANNELS.storeFallback, onFallback);
    const fleet = Array.from({ length: 10 }, () => provider(w, { store: redisStore(w) }));
    const fetches = fleet.map((p) => createImsFetch({ provider: p, allowedHosts: ['127.0.0.1'] }));
    const holdsToken = (): boolean => fleet.some((p) => (p.status().expiresAt ?? 0) > w.clock());
    let attack401 = 0;
    for (let i = 0; i < 1000; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const n = i + j;
          const bad = n % 2 === 0;
          try {
            const res = await fetches[Math.floor(n / 2) % fetches.length]!(`${w.emu.url}/api/v1/${bad ? 'always-401' : 'whoami'}`);
            await res.arrayBuffer();
            if (bad) attack401 += res.status === 401 ? 1 : 0;
            else if (res.status === 200) w.meter.served++;
            else w.meter.failure(new Error(`good call answered ${res.status}`), holdsToken());
          } catch (err) {
            w.meter.failure(err, holdsToken());
          }
        }),
      );
      w.clock.jump(200);
    }
    const perProvider = fleet.map((p) => {
      const c = p.status().counters;
      return `${c.mints}/${c.invalidations}/${c.invalidationsRefused}/${c.storeErrors}`;
    });
    const r = await finish(w, {
      scenario: 'always-401 attack, 10 providers sharing Redis, 500 bad + 500 good calls over 10 s',
      mintBound: '≤ 3',
      note:
        `${attack401}/500 attack calls answered 401; per provider mints/invalidations/refused/store errors: ${perProvider.join(' ')}; ` +
        Object.entries(seen)
          .concat(warnings(w))
          .sort()
          .map(([k, v]) => `${k}×${v}`)
          .join(' '),
    });
    tracingChannel(DIAGNOSTICS_CHANNELS.mint).unsubscribe(onMint);
    tracingChannel(DIAGNOSTICS_CHANNELS.store).unsubscribe(onStore);
    unsubscribe(DIAGNOSTICS_CHANNELS.invalidate, onInvalidate);
    unsubscribe(DIAGNOSTICS_CHANNELS.storeFallback, onFallback);
    expectGoals(r, 3);
    expect(r.failed).toBe(0);
  });

  it('10,000 concurrent callers on a cold cache: one IMS request', async () => {
    const w = await world();
    const p = provider(w);
    w.emu.fault({ kind: 'latency', latencyMs: 50 });
    await burst(w.meter, [p], 10_000);
    const tokenRequests = w.emu.stats.tokenRequests;
    const r = await finish(w, {
      scenario: '10,000 concurrent callers, cold cache, 1 provider',
      mintBound: '1 (1 IMS request)',
      note: `${tokenRequests} IMS request(s)`,
    });
    expectGoals(r, 1);
    expect(tokenRequests).toBe(1);
    expect(r.served).toBe(10_000);
  });

  it('10,000 concurrent callers on a cold cache over 10 providers sharing Redis: one mint', async () => {
    const w = await world();
    const fleet = Array.from({ length: 10 }, () => provider(w, { store: redisStore(w) }));
    w.emu.fault({ kind: 'latency', latencyMs: 50 });
    await burst(w.meter, fleet, 1000);
    const tokenRequests = w.emu.stats.tokenRequests;
    const r = await finish(w, {
      scenario: '10,000 concurrent callers, cold cache, 10 providers sharing Redis',
      mintBound: '1 (1 IMS request)',
      note: `${tokenRequests} IMS request(s)`,
    });
    expectGoals(r, 1);
    expect(tokenRequests).toBe(1);
    expect(r.served).toBe(10_000);
  });

  // A provider whose own mint fails while another provider sharing its store stored a good token meanwhile serves
  // that token: a failed mint looks at the store once more. Lock-less stores only (a MemoryStore shared by
  // providers, a custom store): with RedisStore's lock the other provider waits instead.
  it('a failed mint while a provider sharing the store holds a good token: callers get that token', async () => {
    const w = await world();
    const store = new MemoryStore({ clock: w.clock });
    const a = provider(w, { store });
    const b = provider(w, { store, timeoutMs: 500, retryBaseDelayMs: 20 });
    w.emu.fault({ kind: 'hang' }); // B's first try hangs…
    const countHangs = (): number => w.meter.texts.filter((l) => l.endsWith('fault=hang')).length;
    const bCalls = burst(w.meter, [b], 8);
    await waitFor(() => countHangs() >= 1, 5000);
    await burst(w.meter, [a], 8); // …while A mints and stores a token in the shared store
    w.emu.fault({ kind: 'hang', times: 3 }); // and B's three retries hang too (B then gives up)
    await bCalls;
    const hung = countHangs();
    const r = await finish(w, {
      scenario: 'a failed mint (4 hung tries) while another provider sharing a MemoryStore stored a good token',
      mintBound: '≤ 1',
      note: `${hung} hung token requests`,
    });
    expectGoals(r, 1);
  });
});

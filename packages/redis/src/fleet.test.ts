import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { PACKAGE_DIR, REDIS_URL, cleanup, freePort, randomPrefix, rawClient, startChild, stopProcess, waitFor } from '../test/helpers';
import type { Child, ChildResult, RawClient } from '../test/helpers';

// Separate Node processes, each importing the BUILT packages (core dist, redis dist) through
// test/fixtures/child.mjs, as pods of a fleet would.

let raw: RawClient;
let emu: Emulator;
let prefix: string;
const children: Child[] = [];
const secrets: string[] = [];

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true })
      .filter((e) => !e.name.endsWith('.test.ts'))
      .map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)),
  );
}

beforeAll(async () => {
  // The children run dist: build it if it is missing or older than src (turbo builds it first in CI).
  const dist = join(PACKAGE_DIR, 'dist', 'index.js');
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest(join(PACKAGE_DIR, 'src'))) {
    const tsup = join(dirname(createRequire(join(PACKAGE_DIR, 'package.json')).resolve('tsup/package.json')), 'dist', 'cli-default.js');
    execFileSync(process.execPath, [tsup], { cwd: PACKAGE_DIR, stdio: 'ignore' });
  }
  raw = await rawClient();
  emu = await startEmulator();
}, 60_000);

beforeEach(() => {
  prefix = randomPrefix();
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopProcess(c.proc)));
  await cleanup(raw, prefix);
});

afterAll(async () => {
  raw?.destroy();
  await emu?.stop();
});

function config(client: { clientId: string; clientSecret: string }, extra: object = {}): object {
  return {
    imsUrl: emu.url,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    scopes: 'openid,AdobeID',
    redisUrl: REDIS_URL,
    prefix,
    ...extra,
  };
}

function child(cfg: object, env?: NodeJS.ProcessEnv): Child {
  const c = startChild(cfg, env);
  children.push(c);
  return c;
}

function expectNoSecrets(results: ChildResult[], client: { clientSecret: string }): void {
  const text = JSON.stringify(results.map((r) => r.logs));
  expect(text).not.toContain(client.clientSecret);
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('a fleet of processes', () => {
  it('20 processes on a cold cache mint exactly one token and all get it', async () => {
    const client = emu.addClient();
    emu.resetStats();
    // A slower IMS keeps the first process inside its mint while the others arrive.
    emu.fault({ kind: 'latency', latencyMs: 300 });
    const encryptionKey = randomBytes(32).toString('base64');
    const fleet = Array.from({ length: 20 }, () => child(config(client, { barrier: true, encryptionKey, commandTimeoutMs: 5_000 })));
    await Promise.all(fleet.map((c) => c.ready));
    for (const c of fleet) c.go();
    const done = await Promise.all(fleet.map((c) => c.done));
    for (const d of done) expect(d.code, d.stderr).toBe(0);
    const results = done.map((d) => d.result!);
    expect(emu.stats.tokensMinted).toBe(1);
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    expect(results.reduce((n, r) => n + r.mints, 0)).toBe(1);
    expect(results.filter((r) => r.storeHits === 1)).toHaveLength(19);
    expectNoSecrets(results, client);
  }, 90_000); // 20 Node processes start slowly on a shared 2-core machine

  it('when the lock holder is killed mid-mint, another process mints after the lock TTL; nobody hangs', async () => {
    const client = emu.addClient();
    emu.clearFaults(); // (a fault an earlier test left unused must not be the one the holder meets)
    emu.fault({ kind: 'latency', latencyMs: 5_000 }); // the holder's IMS request hangs for 5 s
    const cfg = config(client, { lockTtlMs: 1_500, commandTimeoutMs: 5_000 });
    const holder = child(cfg);
    await waitFor(async () => (await raw.keys(`${prefix}*:lock`)).length === 1, 10_000, 'the holder to take the lock');
    await waitFor(
      () => emu.stats.mintedByClient[client.clientId] === undefined && emu.stats.tokenRequests > 0,
      10_000,
      'the holder to call IMS',
    );
    const waiters = Array.from({ length: 3 }, () => child({ ...cfg, barrier: true }));
    await Promise.all(waiters.map((c) => c.ready));
    for (const c of waiters) c.go();
    const [lockKey] = await raw.keys(`${prefix}*:lock`);
    const channel = lockKey!.replace(/:lock$/, ':events');
    // All three wait on the lock (subscribed to its channel) before the holder dies.
    await waitFor(async () => ((await raw.pubSubNumSub(channel))[channel] ?? 0) === 3, 10_000, 'the waiters to subscribe');
    await stopProcess(holder.proc, 'SIGKILL');
    const done = await Promise.all(waiters.map((c) => c.done));
    for (const d of done) expect(d.code, d.stderr).toBe(0);
    const results = done.map((d) => d.result!);
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    expect(results.reduce((n, r) => n + r.mints, 0)).toBe(1); // one waiter took over and minted; the others shared it
    expectNoSecrets(results, client);
  }, 90_000);

  it('close() closes every connection the store opened: the process exits by itself', async () => {
    const proc = spawn(process.execPath, [join(PACKAGE_DIR, 'test', 'fixtures', 'close.mjs'), REDIS_URL, prefix], {
      cwd: PACKAGE_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    expect(signal).toBeNull(); // not killed: nothing kept it alive
    expect(code).toBe(0);
    expect(out.trim()).toBe('x.y.z');
  });

  it('fromEnv with IMS_TOKEN_CACHE=redis://… gives providers that share through Redis (encrypted with IMS_TOKEN_CACHE_KEY)', async () => {
    const client = emu.addClient();
    const env = {
      IMS_CLIENT_ID: client.clientId,
      IMS_CLIENT_SECRET: client.clientSecret,
      IMS_SCOPES: 'openid,AdobeID',
      IMS_URL: emu.url,
      IMS_TOKEN_CACHE: REDIS_URL,
      IMS_TOKEN_CACHE_KEY: randomBytes(32).toString('hex'),
    };
    const first = await child({ fromEnv: env }).done;
    expect(first.code, first.stderr).toBe(0);
    const second = await child({ fromEnv: env }).done;
    expect(second.code, second.stderr).toBe(0);
    const [a, b] = [first.result!, second.result!];
    try {
      expect(a.mints).toBe(1);
      expect(b.mints).toBe(0);
      expect(b.storeHits).toBe(1);
      expect(b.sha256).toBe(a.sha256);
      expect(emu.stats.mintedByClient[client.clientId]).toBe(1);
      // The default prefix, and the entry is encrypted.
      expect(await raw.get(`ims-token:${a.cacheKey}`)).toMatch(/^ims1:[0-9a-f]{64}:e:/);
      expectNoSecrets([a, b], client);
    } finally {
      await raw.del([`ims-token:${a.cacheKey}`, `ims-token:${a.cacheKey}:lock`]);
    }
  });

  it('IMS_TOKEN_CACHE pointing at no Redis: the first fallback is one stderr line naming the URL without its password; repeats are silent', async () => {
    const client = emu.addClient();
    const port = await freePort(); // nothing listens there
    const proc = spawn(process.execPath, [join(PACKAGE_DIR, 'test', 'fixtures', 'fallback.mjs')], {
      cwd: PACKAGE_DIR,
      env: {
        PATH: process.env.PATH,
        IMS_CLIENT_ID: client.clientId,
        IMS_CLIENT_SECRET: client.clientSecret,
        IMS_SCOPES: 'openid,AdobeID',
        IMS_URL: emu.url,
        IMS_TOKEN_CACHE: `redis://ops:hunter2-redis-password@127.0.0.1:${port}/2`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { sha256: string; fallbacks: Array<{ store: string; code: string }> };
    expect(emu.stats.mintedByClient[client.clientId]).toBe(3); // minted locally, three times
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`redis://127.0.0.1:${port}/2`);
    expect(lines[0]).toMatch(/minting tokens locally/);
    expect(stderr).not.toContain('hunter2');
    expect(stderr).not.toContain('ops@');
    expect(stderr).not.toContain(client.clientSecret);
    expect(result.fallbacks.length).toBeGreaterThanOrEqual(3); // one per mint, on the diagnostics channel
    expect(result.fallbacks.every((f) => f.store === 'RedisStore' && typeof f.code === 'string')).toBe(true);
    expect(JSON.stringify(result.fallbacks)).not.toContain('hunter2');
  });

  it('the always-401 attack across 10 processes sharing Redis: 1,000 concurrent requests over 10 s mint at most 3 tokens', async () => {
    const client = emu.addClient();
    const script = join(PACKAGE_DIR, 'test', 'fixtures', 'attack.mjs');
    const cfg = { ...config(client), apiUrl: emu.url, requests: 100, spreadMs: 10_000 };
    const fleet = Array.from({ length: 10 }, () => {
      const c = startChild(cfg, {}, script);
      children.push(c);
      return c;
    });
    await Promise.all(fleet.map((c) => c.ready));
    for (const c of fleet) c.go();
    const done = await Promise.all(fleet.map((c) => c.done));
    for (const d of done) expect(d.code, d.stderr).toBe(0);
    type Result = { statuses: { attack: Record<string, number>; after: number | string }; mints: number };
    const results = done.map((d) => JSON.parse(d.stdout.trim().split('\n').pop()!) as Result);
    const all = JSON.stringify(results);
    // Each attack call ends in a 401 (passed on), never in an error of ours; a loopback socket reset under load is not the subject.
    expect(
      results.reduce((n, r) => n + (r.statuses.attack['401'] ?? 0), 0),
      all,
    ).toBeGreaterThanOrEqual(990);
    expect(all).not.toMatch(/error:IMS_/);
    expect(results.map((r) => r.statuses.after)).toEqual(Array(10).fill(200)); // good calls still work afterwards
    expect(emu.stats.mintedByClient[client.clientId], JSON.stringify(results)).toBeLessThanOrEqual(3);
  }, 120_000);
});

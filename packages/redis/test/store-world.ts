// What store.test.ts and lock.test.ts share: the stores under test, fake tokens, and waits on what Redis shows.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { ImsTokenError, createImsToken } from '@ims-token/core';
import type { ImsToken } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { RedisStore } from '../src/index';
import { REDIS_URL, captureLogger, cleanup, randomPrefix, rawClient, waitFor } from './helpers';
import type { RawClient } from './helpers';

export const KEY_HEX = randomBytes(32).toString('hex');
export const KEY_B64 = Buffer.from(KEY_HEX, 'hex').toString('base64');
export const OTHER_KEY = randomBytes(32).toString('base64');

export const log = captureLogger();
export const secrets: string[] = [];
export let raw: RawClient;
export let prefix: string;
export let emu: Emulator;
export const stores: RedisStore[] = [];

export function store(options: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): RedisStore {
  // A generous timeout: these tests are about behaviour, and may share 2 cores with other test files.
  const s = new RedisStore({ url: REDIS_URL, prefix, logger: log, commandTimeoutMs: 5_000, ...options });
  stores.push(s);
  return s;
}

export function fakeToken(lifetimeMs = 86_399_000, now = Date.now()): ImsToken {
  const part = (n: number): string => randomBytes(n).toString('base64url');
  const accessToken = `eyJ${part(30)}.eyJ${part(120)}.${part(64)}`;
  secrets.push(accessToken);
  return createImsToken({ accessToken, expiresAt: now + lifetimeMs, issuedAt: now, scopes: ['openid', 'AdobeID'], clientId: 'client-1' });
}

/** Waits until some store holds the lock of key `k`. */
export async function lockTaken(): Promise<void> {
  await waitFor(async () => (await raw.exists(`${prefix}k:lock`)) === 1, 5_000, 'the lock');
}

/**
 * `s` takes the lock of key `k` and holds it until `release()`; then `then` runs, still under the lock (store a
 * token, fail a mint), before it lets go. Resolves once Redis shows the lock taken.
 */
export async function holdLock(s: RedisStore, then?: () => Promise<unknown>): Promise<{ release: () => void; held: Promise<unknown> }> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = s.withLock('k', async () => {
    await gate;
    return then?.();
  });
  await lockTaken();
  return { release, held };
}

/** Waits until `n` stores wait on the lock of key `k` (subscribed to its channel). */
export async function waiting(n = 1): Promise<void> {
  const channel = `${prefix}k:events`;
  await waitFor(async () => ((await raw.pubSubNumSub(channel))[channel] ?? 0) >= n, 5_000, 'the waiters');
}

export function expectConfigError(fn: () => unknown, field: string): ImsTokenError {
  try {
    fn();
  } catch (err) {
    expect(ImsTokenError.is(err)).toBe(true);
    const e = err as ImsTokenError;
    expect(e.code).toBe('IMS_CONFIG');
    expect(e.message).toContain(`"${field}"`);
    expect(e.field).toBe(field); // what programs map to their own input, as with core's IMS_CONFIG errors
    return e;
  }
  throw new Error('expected IMS_CONFIG');
}

/** Registers the hooks every store test file shares: a Redis client to look with, an emulator, a fresh key prefix per
 * test, every store closed and its keys removed after each test, and at the end a scan of the log for tokens. */
export function useStoreWorld(): void {
  beforeAll(async () => {
    raw = await rawClient();
    emu = await startEmulator();
  });

  beforeEach(() => {
    prefix = randomPrefix();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await cleanup(raw, prefix);
  });

  afterAll(async () => {
    // No token or secret ever reaches a log line.
    const text = log.text();
    expect(log.lines.length).toBeGreaterThan(0);
    for (const s of secrets) {
      expect(text).not.toContain(s);
      expect(text).not.toContain(s.slice(-20));
    }
    raw.destroy();
    await emu.stop();
  });
}

import { createHash, randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { ImsTokenError, createImsToken, createTokenProvider } from '@ims-token/core';
import type { ImsToken } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { RedisStore } from './index';
import type { RedisClientLike } from './index';
import { REDIS_URL, captureLogger, cleanup, randomPrefix, rawClient, waitFor } from '../test/helpers';
import type { RawClient } from '../test/helpers';

const KEY_HEX = randomBytes(32).toString('hex');
const KEY_B64 = Buffer.from(KEY_HEX, 'hex').toString('base64');
const OTHER_KEY = randomBytes(32).toString('base64');

const log = captureLogger();
const secrets: string[] = [];
let raw: RawClient;
let prefix: string;
let emu: Emulator;
const stores: RedisStore[] = [];

function store(options: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): RedisStore {
  // A generous timeout: these tests are about behaviour, and may share 2 cores with other test files.
  const s = new RedisStore({ url: REDIS_URL, prefix, logger: log, commandTimeoutMs: 5_000, ...options });
  stores.push(s);
  return s;
}

function fakeToken(lifetimeMs = 86_399_000, now = Date.now()): ImsToken {
  const part = (n: number): string => randomBytes(n).toString('base64url');
  const accessToken = `eyJ${part(30)}.eyJ${part(120)}.${part(64)}`;
  secrets.push(accessToken);
  return createImsToken({ accessToken, expiresAt: now + lifetimeMs, issuedAt: now, scopes: ['openid', 'AdobeID'], clientId: 'client-1' });
}

/** Waits until some store holds the lock of key `k`. */
async function lockTaken(): Promise<void> {
  await waitFor(async () => (await raw.exists(`${prefix}k:lock`)) === 1, 5_000, 'the lock');
}

/** Waits until `n` stores wait on the lock of key `k` (subscribed to its channel). */
async function waiting(n = 1): Promise<void> {
  const channel = `${prefix}k:events`;
  await waitFor(async () => ((await raw.pubSubNumSub(channel))[channel] ?? 0) >= n, 5_000, 'the waiters');
}

function expectConfigError(fn: () => unknown, field: string): ImsTokenError {
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

describe('options', () => {
  it('needs client or url, and a redis URL', () => {
    expectConfigError(() => new RedisStore({}), 'client');
    expectConfigError(() => new RedisStore({ url: 'http://127.0.0.1:6379' }), 'url');
    expectConfigError(() => new RedisStore({ url: 'not a url' }), 'url');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, client: createClient() }), 'url');
    expectConfigError(() => new RedisStore({ client: {} as never }), 'client');
  });

  it('never shows the URL (it may hold a password)', () => {
    const e = expectConfigError(() => new RedisStore({ url: 'http://user:hunter2secret@127.0.0.1' }), 'url');
    expect(JSON.stringify(e)).not.toContain('hunter2secret');
    expect(e.message).not.toContain('hunter2secret');
  });

  it('rejects lockTtlMs ≤ 0 and other bad numbers, naming the option', () => {
    expectConfigError(() => new RedisStore({ url: REDIS_URL, lockTtlMs: 0 }), 'lockTtlMs');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, lockTtlMs: -5 }), 'lockTtlMs');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, lockTtlMs: 1.5 }), 'lockTtlMs');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, waitTimeoutMs: -1 }), 'waitTimeoutMs');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, commandTimeoutMs: 0 }), 'commandTimeoutMs');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, prefix: 'a b' }), 'prefix');
    expectConfigError(() => new RedisStore({ url: REDIS_URL, pubsub: 'yes' as never }), 'pubsub');
  });

  it('rejects an encryptionKey that is not 32 bytes in hex or base64, without showing it', () => {
    for (const bad of ['correct horse battery staple', KEY_HEX.slice(2), randomBytes(16).toString('base64'), '', new Uint8Array(16)]) {
      const e = expectConfigError(() => new RedisStore({ url: REDIS_URL, encryptionKey: bad }), 'encryptionKey');
      if (typeof bad === 'string' && bad) expect(e.message).not.toContain(bad);
    }
  });
});

describe('get / set / delete', () => {
  it('stores a token and reads it back', async () => {
    const s = store();
    const token = fakeToken();
    expect(await s.get('k')).toBeUndefined();
    await s.set('k', token);
    const back = await s.get('k');
    expect(back?.accessToken).toBe(token.accessToken);
    expect(back).toMatchObject({
      expiresAt: token.expiresAt,
      issuedAt: token.issuedAt,
      scopes: ['openid', 'AdobeID'],
      clientId: 'client-1',
    });
    expect(await raw.exists(`${prefix}k`)).toBe(1);
  });

  it('sets the Redis expiry to the token expiry minus the margin (60 s, or 5 % of a short token)', async () => {
    const s = store();
    const long = fakeToken(86_399_000);
    const before = Date.now();
    await s.set('long', long);
    const pttlLong = await raw.pTTL(`${prefix}long`);
    const expectedLong = long.expiresAt - 60_000 - before;
    expect(pttlLong).toBeLessThanOrEqual(expectedLong);
    expect(pttlLong).toBeGreaterThan(expectedLong - 2_000);

    const short = fakeToken(20_000);
    const before2 = Date.now();
    await s.set('short', short);
    const pttlShort = await raw.pTTL(`${prefix}short`);
    const expectedShort = short.expiresAt - 1_000 - before2; // 5 % of 20 s
    expect(pttlShort).toBeLessThanOrEqual(expectedShort);
    expect(pttlShort).toBeGreaterThan(expectedShort - 2_000);
  });

  it('does not store a token that is already inside its margin, and never returns an expired one', async () => {
    const s = store();
    await s.set('dying', createImsToken({ ...fakeToken(), expiresAt: Date.now() + 10, issuedAt: Date.now() - 86_000_000 }));
    expect(await raw.exists(`${prefix}dying`)).toBe(0);
    // An entry whose token is past expiresAt (written by a skewed clock) is a miss.
    const stale = createImsToken({ ...fakeToken(), expiresAt: Date.now() - 1, issuedAt: Date.now() - 1000 });
    const other = store();
    await other.set('x', fakeToken());
    const value = await raw.get(`${prefix}x`);
    const forged = value!.replace(/"expiresAt":\d+/, `"expiresAt":${stale.expiresAt}`);
    await raw.set(`${prefix}x`, forged);
    expect(await s.get('x')).toBeUndefined();
  });

  it('delete(key, accessToken) deletes only while the entry still holds that token', async () => {
    for (const encryptionKey of [undefined, KEY_B64]) {
      const s = store(encryptionKey ? { encryptionKey } : {});
      const a = fakeToken();
      const b = fakeToken();
      await s.set('k', a);
      await s.delete('k', b.accessToken);
      expect((await s.get('k'))?.accessToken).toBe(a.accessToken);
      await s.delete('k', a.accessToken);
      expect(await s.get('k')).toBeUndefined();
      await s.set('k', b);
      await s.delete('k');
      expect(await raw.exists(`${prefix}k`)).toBe(0);
    }
  });

  it('treats garbage and foreign values as a miss, with a warning', async () => {
    const s = store();
    const warnsBefore = log.lines.filter((l) => l.level === 'warn').length;
    await raw.set(`${prefix}garbage`, 'not json at all');
    expect(await s.get('garbage')).toBeUndefined();
    await raw.set(`${prefix}json`, JSON.stringify({ accessToken: 'x' }));
    expect(await s.get('json')).toBeUndefined();
    await raw.set(`${prefix}half`, `ims1:${'a'.repeat(64)}:p:{"v":1,`);
    expect(await s.get('half')).toBeUndefined();
    await raw.hSet(`${prefix}hash`, 'a', 'b'); // WRONGTYPE for GET
    expect(await s.get('hash')).toBeUndefined();
    // …and set() replaces the garbage.
    const t = fakeToken();
    await s.set('garbage', t);
    expect((await s.get('garbage'))?.accessToken).toBe(t.accessToken);
    expect(log.lines.filter((l) => l.level === 'warn').length).toBeGreaterThan(warnsBefore);
  });
});

describe('encryption at rest', () => {
  it('keeps the token out of Redis and reads it back with the same key in any format', async () => {
    const s = store({ encryptionKey: KEY_HEX });
    const token = fakeToken();
    await s.set('k', token);
    const value = (await raw.get(`${prefix}k`))!;
    expect(value).toMatch(/^ims1:[0-9a-f]{64}:e:[0-9a-f]{8}:/);
    for (const part of token.accessToken.split('.')) expect(value).not.toContain(part);
    expect(value).not.toContain('client-1');
    expect((await store({ encryptionKey: KEY_B64 }).get('k'))?.accessToken).toBe(token.accessToken);
    expect((await store({ encryptionKey: KEY_B64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_') }).get('k'))?.accessToken).toBe(
      token.accessToken,
    );
    expect((await store({ encryptionKey: Buffer.from(KEY_HEX, 'hex') }).get('k'))?.accessToken).toBe(token.accessToken);
  });

  it('uses a fresh IV per write', async () => {
    const s = store({ encryptionKey: KEY_HEX });
    const token = fakeToken();
    await s.set('k', token);
    const first = await raw.get(`${prefix}k`);
    await s.set('k', token);
    expect(await raw.get(`${prefix}k`)).not.toBe(first);
  });

  it('is a miss (and a warning) without the key, with a wrong key, tampered, or moved to another key', async () => {
    const s = store({ encryptionKey: KEY_HEX });
    const token = fakeToken();
    await s.set('k', token);
    const value = (await raw.get(`${prefix}k`))!;
    const warns = (): number => log.lines.filter((l) => l.level === 'warn').length;

    let w = warns();
    expect(await store().get('k')).toBeUndefined();
    expect(warns()).toBeGreaterThan(w);

    w = warns();
    expect(await store({ encryptionKey: OTHER_KEY }).get('k')).toBeUndefined();
    expect(warns()).toBeGreaterThan(w);

    const flipped = value.slice(0, -4) + (value.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await raw.set(`${prefix}k`, flipped);
    expect(await s.get('k')).toBeUndefined();

    await raw.set(`${prefix}moved`, value); // the AAD binds the entry to its key name
    expect(await s.get('moved')).toBeUndefined();

    // A store that requires encryption does not trust a plain entry.
    await store().set('plain', fakeToken());
    expect(await s.get('plain')).toBeUndefined();
  });
});

describe('client option', () => {
  it('uses a caller client, connected or not, and leaves it open on close()', async () => {
    const connected = createClient({ url: REDIS_URL });
    connected.on('error', () => undefined);
    await connected.connect();
    const notYet = createClient({ url: REDIS_URL });
    notYet.on('error', () => undefined);
    try {
      const a = new RedisStore({ client: connected, prefix, logger: log });
      const b = new RedisStore({ client: notYet, prefix, logger: log });
      const token = fakeToken();
      await a.set('k', token);
      expect((await b.get('k'))?.accessToken).toBe(token.accessToken);
      await a.close();
      await b.close();
      expect(connected.isOpen).toBe(true);
      expect(notYet.isOpen).toBe(true);
      expect(await connected.ping()).toBe('PONG');
      // After close() the store is a silent no-op.
      expect(await a.get('k')).toBeUndefined();
      expect(await a.withLock('k', async () => 42)).toBe(42);
    } finally {
      connected.destroy();
      notYet.destroy();
    }
  });
});

describe('withLock', () => {
  for (const pubsub of [true, false]) {
    it(`a waiter runs fn after the holder stored its token (${pubsub ? 'pub/sub' : 'polling'})`, async () => {
      const holder = store({ pubsub });
      const waiter = store({ pubsub });
      const token = fakeToken();
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const held = holder.withLock('k', async () => {
        order.push('holder:start');
        await gate;
        await holder.set('k', token);
        order.push('holder:stored');
        return 'holder';
      });
      await lockTaken();
      const waited = waiter.withLock('k', async () => {
        order.push('waiter:fn');
        return (await waiter.get('k'))?.accessToken;
      });
      await sleep(150);
      expect(order).toEqual(['holder:start']); // still waiting
      release();
      expect(await held).toBe('holder');
      // The waiter read the holder's token, so it ran after the token landed in Redis (it may run before the
      // holder's own `await set()` resumes: 'holder:stored' and 'waiter:fn' can come in either order).
      expect(await waited).toBe(token.accessToken);
      expect(order[0]).toBe('holder:start');
      expect([...order].sort()).toEqual(['holder:start', 'holder:stored', 'waiter:fn']);
      expect(await raw.exists(`${prefix}k:lock`)).toBe(0);
    });
  }

  it('a miss followed by withLock takes a token that landed in between, without queueing for the lock', async () => {
    const holder = store();
    const waiter = store();
    const token = fakeToken();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let minted!: () => void;
    const mint = new Promise<void>((r) => (minted = r));
    const held = holder.withLock('k', async () => {
      await mint;
      await holder.set('k', token);
      await gate; // stored, but still holding the lock (its release is slow, or other work follows)
    });
    await lockTaken();
    expect(await waiter.get('k')).toBeUndefined(); // the caller's look: a miss…
    minted();
    await waitFor(async () => (await raw.exists(`${prefix}k`)) === 1, 5_000, 'the token'); // …then the token lands
    const asked = Date.now();
    const got = await waiter.withLock('k', async () => (await waiter.get('k'))?.accessToken);
    expect(got).toBe(token.accessToken);
    expect(Date.now() - asked).toBeLessThan(1_000); // not queued until the holder lets go (or hedgeAfterMs)
    expect(await raw.get(`${prefix}k:lock`)).not.toBeNull(); // the holder still held it: nobody queued behind it
    release();
    await held;
  });

  it('hands the lock to a waiter when the holder finishes without a token (a failed mint)', async () => {
    const holder = store();
    const waiter = store();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', async () => {
      await gate;
      throw new Error('mint failed');
    });
    await lockTaken();
    let waiterHeldLock = false;
    const waited = waiter.withLock('k', async () => {
      waiterHeldLock = (await raw.exists(`${prefix}k:lock`)) === 1;
      return 'waiter';
    });
    await waiting();
    release();
    await expect(held).rejects.toThrow('mint failed');
    expect(await waited).toBe('waiter');
    expect(waiterHeldLock).toBe(true);
  });

  it('renews the lock while fn runs, so a slow holder keeps it', async () => {
    const holder = store({ lockTtlMs: 400 });
    const waiter = store({ lockTtlMs: 400 });
    let holderDone = false;
    const held = holder.withLock('k', async () => {
      await sleep(1_200); // three lock lifetimes
      holderDone = true;
    });
    await lockTaken();
    let ranEarly = false;
    await waiter.withLock('k', async () => {
      ranEarly = !holderDone;
    });
    await held;
    expect(ranEarly).toBe(false);
  });

  it('never releases a lock that another owner holds (compare-and-delete)', async () => {
    const s = store();
    await s.withLock('k', async () => {
      // As if our lock had expired and another process had taken it.
      await raw.set(`${prefix}k:lock`, 'someone-else', { PX: 5_000 });
    });
    expect(await raw.get(`${prefix}k:lock`)).toBe('someone-else');
  });

  it('gives up waiting after waitTimeoutMs and runs fn', async () => {
    const holder = store();
    const waiter = store({ waitTimeoutMs: 200 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', () => gate);
    await lockTaken();
    const w = log.lines.length;
    expect(await waiter.withLock('k', async () => 'ran')).toBe('ran');
    expect(log.lines.slice(w).some((l) => l.level === 'warn' && /too long/.test(l.msg ?? ''))).toBe(true);
    release();
    await held;
  });

  it('takes over when the holder dies (its lock expires)', async () => {
    // A lock left by a dead process: no owner renews it.
    await raw.set(`${prefix}k:lock`, 'dead-owner', { PX: 300 });
    const s = store();
    const started = Date.now();
    let held = false;
    await s.withLock('k', async () => {
      held = (await raw.get(`${prefix}k:lock`)) !== 'dead-owner' && (await raw.exists(`${prefix}k:lock`)) === 1;
    });
    expect(held).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('one waiter (only one) mints too when the holder is alive but slow, long before waitTimeoutMs', async () => {
    const holder = store();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', () => gate); // renews its lock, never stores a token
    await lockTaken();
    const started = Date.now();
    let mints = 0;
    const waiters = Array.from({ length: 4 }, () => store({ hedgeAfterMs: 300 }));
    const got = await Promise.all(
      waiters.map((w) =>
        w.withLock('k', async () => {
          const stored = await w.get('k');
          if (stored) return stored.accessToken;
          mints++;
          const token = fakeToken();
          await w.set('k', token);
          return token.accessToken;
        }),
      ),
    );
    expect(Date.now() - started).toBeLessThan(5_000); // not waitTimeoutMs (20 s)
    expect(mints).toBe(1);
    expect(new Set(got).size).toBe(1);
    expect(log.lines.some((l) => l.level === 'warn' && /slow to store a token/.test(l.msg ?? ''))).toBe(true);
    release();
    await held;
  });

  it('a waiter whose pub/sub connection hangs still gets the token at once (it polls until subscribed)', async () => {
    // A server that accepts connections and never answers: the pub/sub connection never becomes ready.
    const silent = createNetServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const client = createClient({ url: REDIS_URL });
    const blackhole = createClient({ url: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    blackhole.on('error', () => undefined);
    Object.assign(client, { duplicate: () => blackhole });
    try {
      const holder = store();
      const waiter = store({ url: undefined, client: client as unknown as RedisClientLike, commandTimeoutMs: 5_000 });
      const token = fakeToken();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const held = holder.withLock('k', async () => {
        await gate;
        await holder.set('k', token);
      });
      await lockTaken();
      const waited = waiter.withLock('k', async () => ({ at: Date.now(), token: (await waiter.get('k'))?.accessToken }));
      await sleep(100);
      const storedAt = Date.now();
      release();
      await held;
      const w = await waited;
      expect(w.token).toBe(token.accessToken);
      expect(w.at - storedAt).toBeLessThan(1_500); // not the 5 s pub/sub connect timeout
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      client.destroy(); // (the store destroyed the pub/sub client it duplicated)
      silent.close();
    }
  });

  it('repairs a lock key without an expiry (left by hand or an old version) instead of waiting on it', async () => {
    // `SET <lock> x` with no PX: no holder renews it and it never expires by itself.
    await raw.set(`${prefix}k:lock`, 'left-by-ops');
    const s = store({ lockTtlMs: 300 }); // waitTimeoutMs stays at its default, 20 s
    const w = log.lines.length;
    const started = Date.now();
    let held = false;
    await s.withLock('k', async () => {
      held = (await raw.get(`${prefix}k:lock`)) !== 'left-by-ops' && (await raw.exists(`${prefix}k:lock`)) === 1;
    });
    expect(held).toBe(true); // taken over once the repaired lock expired, not after waitTimeoutMs
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(log.lines.slice(w).some((l) => l.level === 'warn' && /no expiry/.test(l.msg ?? ''))).toBe(true);
    expect(log.lines.slice(w).some((l) => /too long/.test(l.msg ?? ''))).toBe(false);
  });

  it('releases the locks it holds when closed (a graceful shutdown mid-mint leaves no lock to expire)', async () => {
    const holder = new RedisStore({ url: REDIS_URL, prefix, logger: log });
    const waiter = store();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', () => gate);
    await lockTaken();
    const waited = waiter.withLock('k', async () => (await raw.exists(`${prefix}k:lock`)) === 1);
    await waiting();
    await holder.close();
    expect(await waited).toBe(true); // the waiter took the lock at once, long before lockTtlMs
    release();
    await held;
  });

  it('a waiter stops at once when its signal aborts, and never runs fn', async () => {
    const holder = store();
    const waiter = store({ hedgeAfterMs: 300 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', () => gate);
    await lockTaken();
    const abort = new AbortController();
    let ran = false;
    const waited = waiter.withLock(
      'k',
      async () => {
        ran = true;
      },
      { signal: abort.signal },
    );
    await waiting();
    const started = Date.now();
    abort.abort(new ImsTokenError('IMS_ABORTED', 'stop'));
    await expect(waited).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    expect(Date.now() - started).toBeLessThan(250);
    await sleep(500); // past hedgeAfterMs: an abandoned waiter would have minted by now
    expect(ran).toBe(false);
    expect(await raw.exists(`${prefix}k:lock:hedge`)).toBe(0);
    // An aborted signal from the start: not even a look at the lock.
    await expect(waiter.withLock('k', async () => 'ran', { signal: abort.signal })).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    release();
    await held;
  });

  it('unblocks waiters when the store is closed', async () => {
    const holder = store();
    const waiter = new RedisStore({ url: REDIS_URL, prefix, logger: log });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = holder.withLock('k', () => gate);
    await lockTaken();
    const waited = waiter.withLock('k', async () => 'ran');
    await waiting();
    await waiter.close();
    expect(await waited).toBe('ran');
    release();
    await held;
  });
});

describe('with @ims-token/core', () => {
  it("closing a provider that waits behind another process's lock settles at once, and mints nothing", async () => {
    const client = emu.addClient();
    secrets.push(client.clientSecret);
    const options = { clientId: client.clientId, clientSecret: client.clientSecret, scopes: 'openid,AdobeID', imsUrl: emu.url };
    const provider = createTokenProvider({ ...options, store: store({ hedgeAfterMs: 300 }), logger: log });
    const requests = emu.stats.tokenRequests;
    // Another process is minting this credential's token: it holds the lock and stores nothing yet.
    await raw.set(`${prefix}${provider.cacheKey}:lock`, 'another-process', { PX: 10_000 });
    const pending = provider.getToken();
    pending.catch(() => undefined);
    const channel = `${prefix}${provider.cacheKey}:events`;
    await waitFor(async () => ((await raw.pubSubNumSub(channel))[channel] ?? 0) >= 1, 5_000, 'the provider to wait on the lock');
    const started = Date.now();
    await provider.close();
    await expect(pending).rejects.toMatchObject({ code: 'IMS_CLOSED' });
    expect(Date.now() - started).toBeLessThan(250);
    await sleep(600); // past hedgeAfterMs: a waiter left behind would have minted by now
    expect(emu.stats.mintedByClient[client.clientId] ?? 0).toBe(0);
    expect(emu.stats.tokenRequests).toBe(requests); // not even a request to IMS
    expect(await raw.exists(`${prefix}${provider.cacheKey}:lock:hedge`)).toBe(0);
  });

  it('providers sharing a RedisStore mint once, and invalidate() drops only the stale token', async () => {
    const client = emu.addClient();
    secrets.push(client.clientSecret);
    const providers = Array.from({ length: 5 }, () =>
      createTokenProvider({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        scopes: 'openid,AdobeID',
        imsUrl: emu.url,
        store: store({ encryptionKey: KEY_B64 }),
        logger: log,
      }),
    );
    const tokens = await Promise.all(providers.map((p) => p.getToken()));
    secrets.push(tokens[0]!.accessToken);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(emu.stats.mintedByClient[client.clientId]).toBe(1);
    const key = providers[0]!.cacheKey;
    const value = await raw.get(`${prefix}${key}`);
    expect(value).not.toContain(tokens[0]!.accessToken.split('.')[2]);

    // A 401 for the shared token from a provider that took it from the store, within the first back-off:
    // core's fleet rule re-reads the store instead of deleting the token the fleet just shared.
    const minter = providers.find((p) => p.status().counters.mints === 1)!;
    const reader = providers.find((p) => p !== minter)!;
    await reader.invalidate(tokens[0]!.accessToken);
    expect(await raw.exists(`${prefix}${key}`)).toBe(1);
    // A 401 for it at the provider that minted it: the entry goes, a new token is shared.
    await minter.invalidate(tokens[0]!.accessToken);
    expect(await raw.exists(`${prefix}${key}`)).toBe(0);
    const fresh = await minter.getToken();
    secrets.push(fresh.accessToken);
    expect(fresh.accessToken).not.toBe(tokens[0]!.accessToken);
    // A late invalidate() of the old token from another provider leaves the new entry alone.
    await providers.find((p) => p !== minter && p !== reader)!.invalidate(tokens[0]!.accessToken);
    expect(await raw.exists(`${prefix}${key}`)).toBe(1);
    const p6 = createTokenProvider({
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      scopes: 'openid,AdobeID',
      imsUrl: emu.url,
      store: store({ encryptionKey: KEY_B64 }),
    });
    expect((await p6.getToken()).accessToken).toBe(fresh.accessToken);
    expect(emu.stats.mintedByClient[client.clientId]).toBe(2);
    await Promise.all([...providers, p6].map((p) => p.close()));
    expect(createHash('sha256').update(fresh.accessToken).digest('hex')).toHaveLength(64);
  });
});

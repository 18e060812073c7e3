import { createHash } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { ImsTokenError, createTokenProvider } from '@ims-token/core';
import { RedisStore } from './index';
import type { RedisClientLike } from './index';
import { REDIS_URL, waitFor } from '../test/helpers';
import {
  KEY_B64,
  emu,
  stores,
  fakeToken,
  holdLock,
  lockTaken,
  log,
  prefix,
  raw,
  secrets,
  store,
  useStoreWorld,
  waiting,
} from '../test/store-world';
useStoreWorld();

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

  for (const ending of ['stored its token', 'failed (IMS down) and looked again'] as const) {
    it(`a process whose last mint ${ending} queues for the lock like any other: a miss read inside withLock is over with it`, async () => {
      // Core's cold start: a miss, then withLock, whose fn looks at the store again before it mints and stores; when
      // the mint fails, core looks at the store once more (another process may have stored one) and throws.
      const a = store();
      const b = store();
      const first = fakeToken();
      expect(await a.get('k')).toBeUndefined();
      const minted = a.withLock('k', async () => {
        expect(await a.get('k')).toBeUndefined();
        if (ending === 'stored its token') return a.set('k', first);
        expect(await a.get('k')).toBeUndefined();
        throw new Error('IMS_SERVER_ERROR');
      });
      if (ending === 'stored its token') await minted;
      else {
        await expect(minted).rejects.toThrow('IMS_SERVER_ERROR');
        await b.set('k', first); // meanwhile another process got one
      }
      // Seconds later, another process holds the lock to refresh the token: it has not stored the new one yet.
      const second = fakeToken();
      const { release, held: refreshing } = await holdLock(b, () => b.set('k', second));
      // The first process refreshes too (core goes straight to withLock on a forced refresh): it must wait for that
      // token, not mint beside it (one mint per refresh).
      let seen: string | undefined = 'did not run';
      const refreshed = a.withLock('k', async () => {
        seen = (await a.get('k'))?.accessToken;
      });
      const channel = `${prefix}k:events`;
      await waitFor(async () => seen !== 'did not run' || ((await raw.pubSubNumSub(channel))[channel] ?? 0) >= 1, 5_000, 'the waiter');
      await sleep(50);
      expect(seen).toBe('did not run'); // not the old token (it would mint), not before the holder is done
      release();
      await Promise.all([refreshing, refreshed]);
      expect(seen).toBe(second.accessToken);
    });
  }

  it('hands the lock to a waiter when the holder finishes without a token (a failed mint)', async () => {
    const holder = store();
    const waiter = store();
    const { release, held } = await holdLock(holder, async () => {
      throw new Error('mint failed');
    });
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
    const { release, held } = await holdLock(holder);
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
    const { release, held } = await holdLock(holder); // renews its lock, never stores a token
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
      const { release, held } = await holdLock(holder, () => holder.set('k', token));
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
    const { release, held } = await holdLock(holder);
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
    const { release, held } = await holdLock(holder);
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
    const { release, held } = await holdLock(holder);
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

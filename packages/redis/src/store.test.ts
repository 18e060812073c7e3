import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createImsToken } from '@ims-token/core';
import { RedisStore } from './index';
import { REDIS_URL } from '../test/helpers';

import { KEY_B64, KEY_HEX, OTHER_KEY, expectConfigError, fakeToken, log, prefix, raw, store, useStoreWorld } from '../test/store-world';
useStoreWorld();

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

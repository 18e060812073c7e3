import { randomBytes } from 'node:crypto';
import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS, serveUntil } from '@ims-token/core';
import type { ImsToken, Logger, TokenStore } from '@ims-token/core';
import { decode, encode, header, parseEncryptionKey } from './codec';
import type { DecodeProblem, EncryptionKey } from './codec';
import { Connection, RedisUnavailable, describe } from './connection';
import { DEFAULTS, configError, positiveMs } from './options';
import type { RedisStoreOptions } from './options';
import { ACQUIRE, DELETE_IF, RELEASE, RENEW, SET_AND_NOTIFY } from './scripts';

const REPEAT_WARN_MS = 30_000;
const noop = (): void => {};
/** `ims-token:store-fallback` of core's diagnostics contract. */
const fallbackChannel = diagnosticsChannel(DIAGNOSTICS_CHANNELS.storeFallback);
/** Where the first fallback to local minting was already written to stderr, in this process. */
const announced = new Set<string>();

/** A Redis URL as it may be shown: no user name, no password. */
export function displayUrl(url: string | undefined): string {
  if (url === undefined) return 'Redis (the client given to RedisStore)';
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'Redis';
  }
}

/** @internal How long before its own expiry an entry leaves Redis: 60 s, or 5 % of a short token's life (as core stops serving it). */
export function expiryMarginMs(token: ImsToken): number {
  return Math.floor(token.expiresAt - serveUntil(token));
}

const PROBLEMS: Record<DecodeProblem, string> = {
  format: 'the entry is not an ims-token entry',
  'encrypted-no-key': 'the entry is encrypted but this store has no encryptionKey',
  'plain-with-key': 'the entry is not encrypted but this store requires encryption',
  'other-key': 'the entry was encrypted with another encryptionKey',
  decrypt: 'the entry does not decrypt (wrong key or tampered)',
  token: 'the entry does not hold a valid token',
};

/**
 * A {@link TokenStore} in Redis: one IMS token for a whole fleet. With `withLock`, of many processes
 * that miss at once only one mints; the others wait for its token (pub/sub, with polling as a fallback).
 * Redis down, slow or answering garbage is a warning and a miss, never a failed `getToken()`.
 *
 * @example
 * ```ts
 * import { createTokenProvider } from '@ims-token/core'
 * import { RedisStore } from '@ims-token/redis'
 *
 * const store = new RedisStore({ url: 'redis://redis:6379', encryptionKey: process.env.IMS_TOKEN_CACHE_KEY, logger: console })
 * const ims = createTokenProvider({ clientId: 'my-client-id', clientSecret: process.env.IMS_CLIENT_SECRET ?? '', scopes: ['openid', 'AdobeID'], store, logger: console })
 * const headers = await ims.getAuthHeaders() // 50 pods, one token
 * // on shutdown
 * await ims.close(); await store.close()
 * ```
 */
export class RedisStore implements TokenStore {
  /** Prefix of every key and channel. */
  readonly prefix: string;
  readonly #conn: Connection;
  readonly #enc: EncryptionKey | undefined;
  readonly #lockTtlMs: number;
  readonly #waitTimeoutMs: number;
  readonly #hedgeAfterMs: number;
  /**
   * What the lock script or a `set:` notification just showed of an entry (`null`: none), read once by the
   * get() that starts a holder's or a waiter's fn instead of a round trip.
   */
  readonly #landed = new Map<string, string | null>();
  readonly #log: Required<Logger>;
  readonly #warned = new Map<string, number>();
  readonly #wakeOnClose = new Set<() => void>();
  /** Locks this store holds right now: close() releases them, so a graceful shutdown never leaves one to expire. */
  readonly #held = new Set<[lockKey: string, owner: string, channel: string]>();
  readonly #where: string;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null) throw configError('options', 'must be an object with client or url');
    const { client, url } = options;
    if (client !== undefined && url !== undefined) throw configError('url', 'give either client or url, not both');
    if (client === undefined && url === undefined) throw configError('client', 'is required (or give url, a redis:// URL)');
    if (client !== undefined) {
      const c = client as unknown as Record<string, unknown>;
      if (typeof c !== 'object' || c === null || typeof c.sendCommand !== 'function' || typeof c.on !== 'function') {
        throw configError('client', 'must be a node-redis client (createClient() from the redis package)');
      }
    }
    if (url !== undefined) {
      let protocol = '';
      try {
        protocol = new URL(String(url)).protocol;
      } catch {
        // not a URL
      }
      if (protocol !== 'redis:' && protocol !== 'rediss:') throw configError('url', 'must be a redis:// or rediss:// URL');
    }
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (typeof prefix !== 'string' || /\s/.test(prefix)) throw configError('prefix', 'must be a string without spaces');
    this.prefix = prefix;
    this.#lockTtlMs = positiveMs(options, 'lockTtlMs', 1);
    this.#waitTimeoutMs = positiveMs(options, 'waitTimeoutMs', 0);
    this.#hedgeAfterMs = positiveMs(options, 'hedgeAfterMs', 0);
    const commandTimeoutMs = positiveMs(options, 'commandTimeoutMs', 1);
    if (options.pubsub !== undefined && typeof options.pubsub !== 'boolean') throw configError('pubsub', 'must be true or false');
    if (options.logger !== undefined && (typeof options.logger !== 'object' || options.logger === null)) {
      throw configError('logger', 'must be a logger object (pino-compatible)');
    }
    this.#where = displayUrl(url);
    this.#enc = options.encryptionKey === undefined ? undefined : parseEncryptionKey(options.encryptionKey);
    const logger = options.logger ?? {};
    const bind = (m: keyof Logger): ((obj: object, msg?: string) => void) => {
      const f = logger[m];
      return typeof f === 'function' ? f.bind(logger) : noop;
    };
    this.#log = { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') };
    this.#conn = new Connection({
      client,
      url,
      commandTimeoutMs,
      connectTimeoutMs: Math.max(commandTimeoutMs, 2_000),
      pubsub: options.pubsub ?? true,
      log: this.#log,
      warn: (event, obj, msg) => this.#warn(event, obj, msg),
    });
  }

  /** Logs a warning once per `event` and 30 s; repeats go to debug (Redis down must not flood the logs). */
  #warn(event: string, obj: object, msg: string): void {
    const now = Date.now();
    const last = this.#warned.get(event);
    if (last !== undefined && now - last < REPEAT_WARN_MS) {
      this.#log.debug(obj, msg);
      return;
    }
    this.#warned.set(event, now);
    this.#log.warn(obj, msg);
  }

  #failed(op: string, err: unknown): void {
    const d = describe(err);
    this.#warn(`op:${d.error}`, { op, ...d }, 'ims-token/redis: Redis command failed; acting as a miss (minting locally if needed)');
  }

  /**
   * The store could not take the lock because Redis failed: the provider mints locally. The first time in
   * the process (per URL) this is one line on stderr whatever the logger — the default logger is silent, and a
   * mistyped IMS_TOKEN_CACHE must not go unnoticed; later ones are for the logger and the diagnostics channel.
   */
  #fellBack(err: unknown): void {
    const d = describe(err);
    if (!announced.has(this.#where)) {
      announced.add(this.#where);
      try {
        process.stderr.write(
          `ims-token/redis: cannot use ${this.#where} (${d.error}); minting tokens locally in this process until it is back (reported once)\n`,
        );
      } catch {
        // no stderr (a closed pipe): the logger still has it
      }
    }
    if (fallbackChannel.hasSubscribers) {
      fallbackChannel.publish({ store: 'RedisStore', error: new RedisUnavailable(d.error, d.reason ?? 'Redis failed') });
    }
  }

  #dataKey(key: string): string {
    return `${this.prefix}${key}`;
  }

  /** The stored token, or `undefined` on a miss, an expired or unreadable entry, or any Redis trouble. */
  async get(key: string): Promise<ImsToken | undefined> {
    if (this.#closed) return undefined;
    const redisKey = this.#dataKey(key);
    let value: unknown = this.#landed.get(redisKey);
    if (value !== undefined) this.#landed.delete(redisKey);
    else {
      try {
        value = await this.#conn.command(['GET', redisKey]);
      } catch (err) {
        this.#failed('get', err);
        return undefined;
      }
    }
    if (value === null || value === undefined) {
      this.#conn.prepareListening(); // core's withLock() follows a miss: have pub/sub ready by then
      return undefined;
    }
    const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
    const token = text === undefined ? 'format' : decode(text, redisKey, this.#enc);
    if (typeof token === 'string') {
      this.#warn(`entry:${token}`, { op: 'get', problem: token }, `ims-token/redis: ${PROBLEMS[token]}; treating it as a miss`);
      return undefined;
    }
    return token.expiresAt > Date.now() ? token : undefined;
  }

  /** Stores `token` with a Redis expiry of its own `expiresAt` minus a margin (60 s, or 5 % of a short token's life), and wakes waiting processes. */
  async set(key: string, token: ImsToken): Promise<void> {
    if (this.#closed) return;
    const ttl = Math.floor(token.expiresAt - expiryMarginMs(token) - Date.now());
    if (ttl <= 0) return;
    const redisKey = this.#dataKey(key);
    try {
      await this.#conn.command([
        'EVAL',
        SET_AND_NOTIFY,
        '1',
        redisKey,
        encode(token, redisKey, this.#enc),
        String(ttl),
        `${redisKey}:events`,
      ]);
    } catch (err) {
      this.#failed('set', err);
    }
  }

  /** Deletes the entry; with `accessToken`, only while the entry still holds that token (compared by SHA-256 fingerprint). */
  async delete(key: string, accessToken?: string): Promise<void> {
    if (this.#closed) return;
    const redisKey = this.#dataKey(key);
    try {
      if (accessToken === undefined) await this.#conn.command(['DEL', redisKey]);
      else await this.#conn.command(['EVAL', DELETE_IF, '1', redisKey, header(accessToken)]);
    } catch (err) {
      this.#failed('delete', err);
    }
  }

  /**
   * Runs `fn` while holding the fleet-wide mint lock of `key` (`SET NX PX`, renewed while `fn` runs,
   * released by compare-and-delete). When another process holds it, waits for the token it stores,
   * then runs `fn` (which reads the store first and finds it). After `hedgeAfterMs` one waiter mints as
   * well (a second lock keeps it to one); the lock expiring (the holder died) hands it to a waiter;
   * after `waitTimeoutMs`, or with Redis unavailable, `fn` runs without a lock.
   */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return fn();
    const dataKey = this.#dataKey(key);
    const lockKey = `${dataKey}:lock`;
    const channel = `${dataKey}:events`;
    const owner = randomBytes(16).toString('hex');
    const started = Date.now();
    const deadline = started + this.#waitTimeoutMs;
    const hedgeAt = started + this.#hedgeAfterMs;

    let signalled: 'set' | 'released' | undefined;
    let landed: string | undefined;
    let subscribed = false;
    let wake: (() => void) | undefined;
    const onMessage = (message: string): void => {
      if (message.startsWith('set')) {
        signalled = 'set';
        if (message.startsWith('set:')) landed = message.slice(4);
      } else signalled ??= 'released';
      wake?.();
    };
    // Subscribe while asking for the lock, and never wait for the subscription: until it is there the
    // waiter polls; once it is, it looks once more (a token stored meanwhile sent its message to nobody).
    const listening = this.#conn.listen(channel, onMessage).then((unlisten) => {
      subscribed = unlisten !== undefined;
      wake?.();
      return unlisten;
    });
    const stopListening = (): void => void listening.then((unlisten) => unlisten?.());
    const first = await this.#acquire(lockKey, dataKey, owner);
    if (first === undefined || first.acquired) {
      stopListening();
      return first === undefined ? fn() : this.#hold(lockKey, owner, channel, () => this.#withLanded(dataKey, first.header || null, fn));
    }
    const before = first.header;
    const onClose = (): void => wake?.();
    this.#wakeOnClose.add(onClose);
    let r = first;
    let lookedSubscribed = false; // whether the last look-up started after the subscription was in place
    let hedged = this.#hedgeAfterMs >= this.#waitTimeoutMs;
    try {
      for (let attempt = 0; ; attempt++) {
        if (signalled === 'set') return await this.#withLanded(dataKey, landed, fn);
        signalled = undefined;
        if (attempt > 0) {
          lookedSubscribed = subscribed;
          const again = await this.#acquire(lockKey, dataKey, owner);
          if (again === undefined) return await fn();
          if (again.acquired) return await this.#hold(lockKey, owner, channel, () => this.#withLanded(dataKey, again.header || null, fn));
          r = again;
        }
        if (r.header !== '' && r.header !== before) return await fn(); // a new token was stored
        const now = Date.now();
        if (now >= deadline) {
          this.#warn(
            'wait',
            { op: 'lock', waitedMs: this.#waitTimeoutMs },
            'ims-token/redis: another process holds the mint lock for too long; minting here',
          );
          return await fn();
        }
        if (!hedged && now >= hedgeAt) {
          hedged = true;
          const hedgeKey = `${lockKey}:hedge`;
          if (await this.#take(hedgeKey, owner)) {
            this.#warn(
              'hedge',
              { op: 'lock', waitedMs: now - started },
              'ims-token/redis: the lock holder is slow to store a token; minting here too (one waiter of the fleet)',
            );
            return await this.#hold(hedgeKey, owner, channel, fn);
          }
        }
        // Pub/sub wakes us at once; the timer is the fallback (not subscribed yet, a lost message, a holder that died).
        const backoff = subscribed ? Math.min(250 * 2 ** attempt, 1_000) : Math.min(20 * 1.5 ** attempt, 250);
        let delay = Math.min(deadline - now, backoff * (0.8 + 0.4 * Math.random()));
        if (!hedged) delay = Math.min(delay, hedgeAt - now);
        if (r.pttl >= 0)
          delay = Math.min(delay, r.pttl + 5); // the lock expires then: the holder died or is done
        else if (r.pttl === -2) delay = 0; // released between SET and PTTL
        if (subscribed && !lookedSubscribed) delay = 0; // subscribed since that look-up began: look once more
        if (signalled === undefined && delay > 0 && !this.#closed) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = undefined;
        }
        if (this.#closed) return await fn();
      }
    } finally {
      this.#wakeOnClose.delete(onClose);
      stopListening();
    }
  }

  /** Runs `fn` with what is known of the entry at hand for its first get(), saving a round trip. */
  async #withLanded<T>(dataKey: string, landed: string | null | undefined, fn: () => Promise<T>): Promise<T> {
    if (landed === undefined) return fn();
    this.#landed.set(dataKey, landed);
    try {
      return await fn();
    } finally {
      if (this.#landed.get(dataKey) === landed) this.#landed.delete(dataKey);
    }
  }

  /** `SET NX PX` of a plain lock; false when another owner has it or Redis fails. */
  async #take(lockKey: string, owner: string): Promise<boolean> {
    try {
      return (await this.#conn.command(['SET', lockKey, owner, 'NX', 'PX', String(this.#lockTtlMs)])) !== null;
    } catch (err) {
      this.#failed('lock', err);
      return false;
    }
  }

  async #acquire(
    lockKey: string,
    dataKey: string,
    owner: string,
  ): Promise<
    { acquired: boolean; pttl: number; /** the entry's header, or (acquired) the whole entry; '' when none */ header: string } | undefined
  > {
    if (this.#closed) return undefined;
    let reply: unknown;
    try {
      reply = await this.#conn.command(['EVAL', ACQUIRE, '2', lockKey, dataKey, owner, String(this.#lockTtlMs)]);
    } catch (err) {
      this.#failed('lock', err);
      this.#fellBack(err);
      return undefined;
    }
    if (!Array.isArray(reply) || reply.length !== 4) {
      const err = new RedisUnavailable('BAD_REPLY', 'unexpected reply to the lock script');
      this.#failed('lock', err);
      this.#fellBack(err);
      return undefined;
    }
    const [acquired, pttl, head, repaired] = reply as [unknown, unknown, unknown, unknown];
    if (Number(repaired) === 1) {
      this.#warn(
        'lock-no-ttl',
        { op: 'lock', lockTtlMs: this.#lockTtlMs },
        'ims-token/redis: the mint lock had no expiry (set by hand or by an old version); gave it lockTtlMs so it expires',
      );
    }
    return { acquired: Number(acquired) === 1, pttl: Number(pttl), header: String(head ?? '') };
  }

  async #hold<T>(lockKey: string, owner: string, channel: string, fn: () => Promise<T>): Promise<T> {
    const renew = setInterval(
      () => {
        this.#conn.command(['EVAL', RENEW, '1', lockKey, owner, String(this.#lockTtlMs)]).catch(noop);
      },
      Math.max(10, Math.floor(this.#lockTtlMs / 3)),
    );
    renew.unref();
    const held: [string, string, string] = [lockKey, owner, channel];
    this.#held.add(held);
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      if (this.#held.delete(held)) await this.#release(held);
    }
  }

  /** Compare-and-delete; a failed release is harmless: the lock expires after lockTtlMs. */
  async #release([lockKey, owner, channel]: [string, string, string]): Promise<void> {
    await this.#conn
      .command(['EVAL', RELEASE, '1', lockKey, owner, channel])
      .catch((err: unknown) => this.#log.debug(describe(err), 'ims-token/redis: could not release the lock; it expires by itself'));
  }

  /** Releases the locks it holds, then closes the pub/sub connection and, when the store created it from `url`, its own client. A caller's client stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#wakeOnClose) wake();
    const held = [...this.#held];
    this.#held.clear();
    await Promise.all(held.map((h) => this.#release(h)));
    await this.#conn.close();
  }
}

import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS, serveUntil } from '@ims-token/core';
import type { ImsToken, Logger, TokenStore } from '@ims-token/core';
import { decode, encode, header, parseEncryptionKey } from './codec';
import type { DecodeProblem, EncryptionKey } from './codec';
import { Connection, RedisUnavailable, describe } from './connection';
import { DEFAULTS, configError, positiveMs } from './options';
import type { RedisStoreOptions } from './options';
import { MintLocks } from './lock';
import { DELETE_IF, SET_AND_NOTIFY } from './scripts';

const REPEAT_WARN_MS = 30_000;
/** How long after a get() that found nothing a withLock() counts as following it (core calls one right after the other). */
const MISS_FRESH_MS = 5_000;
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
  /**
   * What the lock script or a `set:` notification just showed of an entry (`null`: none), read once by the
   * get() that starts a holder's or a waiter's fn instead of a round trip.
   */
  readonly #landed = new Map<string, string | null>();
  /**
   * When the last get() of a key found no entry: the withLock() core sends right after it takes a token that landed
   * meanwhile. A get() that finds one drops the mark; every withLock() takes it and drops what fn left.
   */
  readonly #missed = new Map<string, number>();
  readonly #log: Required<Logger>;
  readonly #warned = new Map<string, number>();
  readonly #locks: MintLocks;
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
    const lockTtlMs = positiveMs(options, 'lockTtlMs', 1);
    const waitTimeoutMs = positiveMs(options, 'waitTimeoutMs', 0);
    const hedgeAfterMs = positiveMs(options, 'hedgeAfterMs', 0);
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
    this.#locks = new MintLocks({
      conn: this.#conn,
      lockTtlMs,
      waitTimeoutMs,
      hedgeAfterMs,
      closed: () => this.#closed,
      warn: (event, obj, msg) => this.#warn(event, obj, msg),
      failed: (op, err) => this.#failed(op, err),
      fellBack: (err) => this.#fellBack(err),
      debug: (obj, msg) => this.#log.debug(obj, msg),
      withLanded: (dataKey, entry, fn) => this.#withLanded(dataKey, entry, fn),
      tookMiss: (dataKey) => {
        const at = this.#missed.get(dataKey);
        this.#missed.delete(dataKey);
        return at !== undefined && Date.now() - at < MISS_FRESH_MS;
      },
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
   * the process (per URL) this is one line on stderr whatever the logger (the default logger is silent, and a
   * mistyped IMS_TOKEN_CACHE must not go unnoticed); later ones are for the logger and the diagnostics channel.
   */
  #fellBack(err: unknown): void {
    this.#failed('lock', err);
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
      // Core follows a miss with withLock() (which ends the mark: a miss read inside fn must not outlive it).
      this.#missed.set(redisKey, Date.now());
      this.#conn.prepareListening(); // core's withLock() follows a miss: have pub/sub ready by then
      return undefined;
    }
    this.#missed.delete(redisKey); // found an entry: an earlier miss is not the one a withLock() follows
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
   * after `waitTimeoutMs`, or with Redis unavailable, `fn` runs without a lock. When `options.signal`
   * aborts (the provider was closed) a waiter stops at once and rejects, without running `fn`.
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T> {
    const signal = options?.signal;
    if (this.#closed && !signal?.aborted) return fn();
    const dataKey = this.#dataKey(key);
    try {
      return await this.#locks.run(dataKey, fn, signal);
    } finally {
      this.#missed.delete(dataKey); // a miss that fn read (a failed mint looks again) is over with it
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

  /** Releases the locks it holds, then closes the pub/sub connection and, when the store created it from `url`, its own client. A caller's client stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#locks.close();
    await this.#conn.close();
  }
}

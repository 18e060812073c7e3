import { randomBytes } from 'node:crypto';
import { ImsTokenError, serveUntil } from '@ims-token/core';
import type { ImsToken, Logger, TokenStore } from '@ims-token/core';
import { decode, encode, header, parseEncryptionKey } from './codec';
import type { DecodeProblem, EncryptionKey } from './codec';
import { Connection, describe } from './connection';
import type { RedisClientLike } from './connection';
import { ACQUIRE, DELETE_IF, RELEASE, RENEW, SET_AND_NOTIFY } from './scripts';

/**
 * Options of {@link RedisStore}. Give `client` or `url`.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: 'redis://redis:6379', prefix: 'my-api:ims:', encryptionKey: process.env.IMS_TOKEN_CACHE_KEY, logger }
 * const store = new RedisStore(options)
 * ```
 */
export interface RedisStoreOptions {
  /** An existing node-redis client (connected or not). The store never closes it. */
  client?: RedisClientLike;
  /** A `redis://` or `rediss://` URL; the store creates, connects and (on `close()`) quits its own client. */
  url?: string;
  /** Prefix of every key and channel. Default `ims-token:`. */
  prefix?: string;
  /**
   * Encrypts entries at rest with AES-256-GCM: 32 random bytes as 64 hex characters or base64
   * (e.g. `openssl rand -base64 32`), or a `Uint8Array`. Every process of the fleet needs the same key.
   */
  encryptionKey?: string | Uint8Array;
  /** How long the mint lock lives without renewal; the holder renews it every third of this while it works. Default 10 000. */
  lockTtlMs?: number;
  /** How long a process waits for another one's token before minting itself. Default 20 000. */
  waitTimeoutMs?: number;
  /** Per-command timeout; a slower Redis counts as a miss. Default 500. */
  commandTimeoutMs?: number;
  /** Wake waiters through pub/sub (default `true`); `false` polls only (for proxies without SUBSCRIBE). */
  pubsub?: boolean;
  /** A pino-compatible logger for warnings (Redis down, unreadable entries). Default: silent. */
  logger?: Logger;
}

const DEFAULTS = { prefix: 'ims-token:', lockTtlMs: 10_000, waitTimeoutMs: 20_000, commandTimeoutMs: 500 } as const;
const REPEAT_WARN_MS = 30_000;
const noop = (): void => {};

function configError(field: string, problem: string): ImsTokenError {
  return new ImsTokenError('IMS_CONFIG', `Invalid option "${field}": ${problem}.`, {
    hint: `Fix "${field}" in the options passed to new RedisStore() (IMS_TOKEN_CACHE / IMS_TOKEN_CACHE_KEY with fromEnv).`,
  });
}

function positiveMs(options: RedisStoreOptions, field: 'lockTtlMs' | 'waitTimeoutMs' | 'commandTimeoutMs', min: number): number {
  const v = options[field];
  if (v === undefined) return DEFAULTS[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 3_600_000) {
    throw configError(field, `must be a whole number of milliseconds from ${min} to 3600000`);
  }
  return v;
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
 * const store = new RedisStore({ url: process.env.REDIS_URL, encryptionKey: process.env.IMS_TOKEN_CACHE_KEY, logger })
 * const ims = createTokenProvider({ clientId, clientSecret, scopes: ['openid', 'AdobeID'], store, logger })
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
  readonly #log: Required<Logger>;
  readonly #warned = new Map<string, number>();
  readonly #wakeOnClose = new Set<() => void>();
  /** Locks this store holds right now: close() releases them, so a graceful shutdown never leaves one to expire. */
  readonly #held = new Set<[lockKey: string, owner: string, channel: string]>();
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
    const commandTimeoutMs = positiveMs(options, 'commandTimeoutMs', 1);
    if (options.pubsub !== undefined && typeof options.pubsub !== 'boolean') throw configError('pubsub', 'must be true or false');
    if (options.logger !== undefined && (typeof options.logger !== 'object' || options.logger === null)) {
      throw configError('logger', 'must be a logger object (pino-compatible)');
    }
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

  #dataKey(key: string): string {
    return `${this.prefix}${key}`;
  }

  /** The stored token, or `undefined` on a miss, an expired or unreadable entry, or any Redis trouble. */
  async get(key: string): Promise<ImsToken | undefined> {
    if (this.#closed) return undefined;
    const redisKey = this.#dataKey(key);
    let value: unknown;
    try {
      value = await this.#conn.command(['GET', redisKey]);
    } catch (err) {
      this.#failed('get', err);
      return undefined;
    }
    if (value === null || value === undefined) return undefined;
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
   * then runs `fn` (which reads the store first and finds it). Runs `fn` without the lock when the
   * holder died (its lock expired: the first waiter to take it mints), after `waitTimeoutMs`, or when
   * Redis is unavailable.
   */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return fn();
    const dataKey = this.#dataKey(key);
    const lockKey = `${dataKey}:lock`;
    const channel = `${dataKey}:events`;
    const owner = randomBytes(16).toString('hex');
    const deadline = Date.now() + this.#waitTimeoutMs;

    const first = await this.#acquire(lockKey, dataKey, owner);
    if (first === undefined) return fn();
    if (first.acquired) return this.#hold(lockKey, owner, channel, fn);
    const before = first.header;

    let signalled: 'set' | 'released' | undefined;
    let wake: (() => void) | undefined;
    const onMessage = (message: string): void => {
      if (message === 'set' || signalled === undefined) signalled = message === 'set' ? 'set' : 'released';
      wake?.();
    };
    const unlisten = await this.#conn.listen(channel, onMessage);
    const onClose = (): void => wake?.();
    this.#wakeOnClose.add(onClose);
    try {
      for (let attempt = 0; ; attempt++) {
        if (signalled === 'set') return await fn();
        signalled = undefined;
        // Look again (also right after subscribing, so a token stored meanwhile is not missed).
        const r = attempt === 0 && unlisten === undefined ? first : await this.#acquire(lockKey, dataKey, owner);
        if (r === undefined) return await fn();
        if (r.acquired) return await this.#hold(lockKey, owner, channel, fn);
        if (r.header !== '' && r.header !== before) return await fn(); // a new token was stored
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          this.#warn(
            'wait',
            { op: 'lock', waitedMs: this.#waitTimeoutMs },
            'ims-token/redis: another process holds the mint lock for too long; minting here',
          );
          return await fn();
        }
        // Pub/sub wakes us at once; the timer is the fallback (a lost message, a holder that died).
        const backoff = unlisten ? Math.min(250 * 2 ** attempt, 1_000) : Math.min(20 * 1.5 ** attempt, 250);
        let delay = Math.min(remaining, backoff * (0.8 + 0.4 * Math.random()));
        if (r.pttl >= 0)
          delay = Math.min(delay, r.pttl + 5); // the lock expires then: the holder died or is done
        else if (r.pttl === -2) delay = 0; // released between SET and PTTL
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
      unlisten?.();
    }
  }

  async #acquire(
    lockKey: string,
    dataKey: string,
    owner: string,
  ): Promise<{ acquired: boolean; pttl: number; header: string } | undefined> {
    if (this.#closed) return undefined;
    let reply: unknown;
    try {
      reply = await this.#conn.command(['EVAL', ACQUIRE, '2', lockKey, dataKey, owner, String(this.#lockTtlMs)]);
    } catch (err) {
      this.#failed('lock', err);
      return undefined;
    }
    if (!Array.isArray(reply) || reply.length !== 4) {
      this.#failed('lock', new Error('unexpected reply to the lock script'));
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

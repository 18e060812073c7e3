import { ImsTokenError } from '@ims-token/core';
import type { Logger } from '@ims-token/core';
import type { RedisClientLike } from './connection';

/**
 * Options of {@link RedisStore}. Give `client` or `url`.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: 'redis://redis:6379', prefix: 'my-api:ims:', encryptionKey: process.env.IMS_TOKEN_CACHE_KEY, logger: console }
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
  /**
   * After this long waiting on a holder that is alive but slow (its IMS request hangs or retries), one
   * waiter — only one, through a second lock — mints too; every other waiter takes whichever token lands
   * first. Default 3 000; at or above `waitTimeoutMs` it never happens.
   */
  hedgeAfterMs?: number;
  /** Per-command timeout; a slower Redis counts as a miss. Default 500. */
  commandTimeoutMs?: number;
  /** Wake waiters through pub/sub (default `true`); `false` polls only (for proxies without SUBSCRIBE). */
  pubsub?: boolean;
  /** A pino-compatible logger for warnings (Redis down, unreadable entries). Default: silent. */
  logger?: Logger;
}

export const DEFAULTS = {
  prefix: 'ims-token:',
  lockTtlMs: 10_000,
  waitTimeoutMs: 20_000,
  hedgeAfterMs: 3_000,
  commandTimeoutMs: 500,
} as const;

/** `IMS_CONFIG` naming the option in `field` (as core's `configError` does), never its value. */
export function configError(
  field: string,
  problem: string,
  hint = `Fix "${field}" in the options passed to new RedisStore() (IMS_TOKEN_CACHE / IMS_TOKEN_CACHE_KEY with fromEnv).`,
): ImsTokenError {
  return new ImsTokenError('IMS_CONFIG', `Invalid option "${field}": ${problem}.`, { field, hint });
}

export function positiveMs(
  options: RedisStoreOptions,
  field: 'lockTtlMs' | 'waitTimeoutMs' | 'hedgeAfterMs' | 'commandTimeoutMs',
  min: number,
): number {
  const v = options[field];
  if (v === undefined) return DEFAULTS[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 3_600_000) {
    throw configError(field, `must be a whole number of milliseconds from ${min} to 3600000`);
  }
  return v;
}

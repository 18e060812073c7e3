import type { ImsToken } from './token';

/**
 * Where tokens are kept between processes or providers. The provider keeps its own in-memory copy
 * and calls the store only on a miss, so a store may be slow (a file, Redis) without touching the hot path.
 *
 * Keys are derived from the IMS URL, the client id and the sorted scopes (hashed), never from a secret.
 */
export interface TokenStore {
  /** The stored token for `key`, or `undefined`. A store never returns a token past its `expiresAt`. */
  get(key: string): Promise<ImsToken | undefined>;
  /** Stores `token` under `key` until its `expiresAt`. */
  set(key: string, token: ImsToken): Promise<void>;
  /** Deletes the entry; with `accessToken`, only while the entry still holds that token. */
  delete(key: string, accessToken?: string): Promise<void>;
  /**
   * Optional cross-process single-flight: runs `fn` while holding a lock on `key`, so that of many
   * processes missing at once only one mints. Waiters run `fn` after the holder, and find its token.
   * When `options.signal` aborts (the provider was closed), a store stops waiting for the lock at once and
   * rejects (with the signal's reason, or an `ImsTokenError` `IMS_ABORTED`); it never runs `fn` afterwards.
   */
  withLock?<T>(key: string, fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  /** Optional: releases connections or handles. */
  close?(): Promise<void>;
}

/**
 * The default store: a `Map` in this process. Pass one instance to several providers to share tokens
 * between them.
 */
export class MemoryStore implements TokenStore {
  readonly #entries = new Map<string, ImsToken>();
  readonly #clock: () => number;

  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  async get(key: string): Promise<ImsToken | undefined> {
    const token = this.#entries.get(key);
    if (token && token.expiresAt <= this.#clock()) {
      this.#entries.delete(key);
      return undefined;
    }
    return token;
  }

  async set(key: string, token: ImsToken): Promise<void> {
    this.#entries.set(key, token);
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    if (accessToken === undefined || this.#entries.get(key)?.accessToken === accessToken) this.#entries.delete(key);
  }

  /** How many entries it holds (for tests and status pages). */
  get size(): number {
    return this.#entries.size;
  }
}

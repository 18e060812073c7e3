import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueId, unlinkIfExists } from './local-files';
import { ImsTokenError } from './errors';
import type { Logger } from './config';
import { guardLogger } from './safe-logger';
import type { TokenStore } from './store';
import { cacheFilePath, defaultCacheDir } from './cache';
import { cacheTrustError, errnoOf, judgeCacheStat, readTokenFileSync } from './cache-file';
import type { CacheTrustProblem } from './cache-file';
import { withFileLock } from './file-lock';
import { ATTACH_LOGGER } from './provider';
import { serializeImsToken } from './token';
import type { ImsToken } from './token';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** Directory for token files. Default `$XDG_CACHE_HOME/ims-token`, else `~/.cache/ims-token`. Created 0700. */
  dir?: string;
  /** A lock not renewed for this long is taken over (its holder froze, or lives on another host). Default 30 000 ms. */
  staleLockMs?: number;
  /** How long `withLock` waits for a live holder before giving up and minting anyway. Default 20 000 ms. */
  lockWaitMs?: number;
  /** Clock for expiry checks (tests). */
  clock?: () => number;
  /**
   * Where warnings go (an untrusted directory or file, a failed write). Default: the provider's logger, and an
   * untrusted cache also raises one `process.emitWarning` per path.
   */
  logger?: Logger;
  /**
   * What an untrusted directory or token file (not yours, writable by others, a symbolic link) does:
   * `'miss'` (default) — a warning, and the store acts as if empty and writes nothing; `'error'` — every call
   * rejects with an `IMS_CONFIG` error that names the path and the fix (what the `ims-token` CLI does).
   */
  onUntrusted?: 'miss' | 'error';
}

/**
 * Keeps tokens in files, one per credential, so separate processes (CLI runs, workers on one host)
 * share them. The directory is 0700 and every file 0600; writes are atomic (temp file + rename);
 * a corrupt file is a miss and is replaced; a lock file makes parallel processes mint once.
 *
 * Like ssh with `~/.ssh`, it trusts only a directory and token files owned by the current user and not
 * writable by group or others, never follows a symbolic link to them, and uses a token only when it is
 * plausible (the file's key, `issuedAt ≤ expiresAt`, a lifetime of at most 24 h plus slack). An untrusted
 * cache is a miss with a warning (or an `IMS_CONFIG` error with `onUntrusted: 'error'`).
 *
 * @example
 * ```ts
 * const provider = createTokenProvider({ ...fromEnv(), store: new FileStore() })
 * ```
 */
export class FileStore implements TokenStore {
  /** The directory in use. */
  readonly dir: string;
  readonly #staleLockMs: number;
  readonly #lockWaitMs: number;
  readonly #clock: () => number;
  readonly #strict: boolean;
  /** Guarded: a logger that throws must not break the store (nor hide a write error). */
  #logger: Required<Logger>;
  readonly #ownLogger: boolean;
  readonly #warned = new Set<string>();

  constructor(options: FileStoreOptions = {}) {
    if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir.trim() === '')) {
      throw new ImsTokenError('IMS_CONFIG', 'FileStore option "dir" must be a non-empty path.', { field: 'dir' });
    }
    this.dir = options.dir ?? defaultCacheDir();
    this.#staleLockMs = options.staleLockMs ?? 30_000;
    this.#lockWaitMs = options.lockWaitMs ?? 20_000;
    this.#clock = options.clock ?? Date.now;
    this.#strict = options.onUntrusted === 'error';
    this.#logger = guardLogger(options.logger);
    this.#ownLogger = options.logger !== undefined;
  }

  /** The provider hands its logger to the store (unless one was given). */
  [ATTACH_LOGGER](logger: Logger): void {
    if (!this.#ownLogger) this.#logger = guardLogger(logger);
  }

  /** The path of the token file for `key`. */
  pathFor(key: string): string {
    return cacheFilePath(this.dir, key);
  }

  /** An untrusted directory or file: throws (`onUntrusted: 'error'`), or warns once per path. */
  #untrusted(p: CacheTrustProblem): void {
    if (this.#strict) throw cacheTrustError(p);
    const msg = `ims-token: ignoring the token cache: ${p.problem}. Fix: ${p.fix}.`;
    this.#logger.warn({ path: p.path }, msg);
    if (!this.#ownLogger && !this.#warned.has(p.path)) {
      this.#warned.add(p.path);
      process.emitWarning(msg, { code: 'IMS_TOKEN_UNTRUSTED_CACHE' });
    }
  }

  /** Whether the directory exists and is trusted; a missing one is created 0700. `false`: untrusted (warned). */
  async #dirTrusted(create: boolean): Promise<boolean> {
    let st;
    try {
      st = lstatSync(this.dir);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      if (!create) return true;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      st = lstatSync(this.dir);
    }
    const problem = judgeCacheStat(st, 'dir', this.dir);
    if (problem) {
      this.#untrusted(problem);
      return false;
    }
    if ((st.mode & 0o077) !== 0) chmodSync(this.dir, 0o700); // ours, and readable by others: tighten it
    return true;
  }

  /** Judged on every write (one `lstat`): a directory swapped for a link meanwhile is caught. */
  #ensureDir(): Promise<boolean> {
    return this.#dirTrusted(true);
  }

  async get(key: string): Promise<ImsToken | undefined> {
    return (await this.#dirTrusted(false)) ? this.#read(key) : undefined;
  }

  /** The token file of `key`, in a directory already judged trusted. */
  async #read(key: string): Promise<ImsToken | undefined> {
    const read = readTokenFileSync(this.pathFor(key), this.#clock(), { key });
    if (read.kind === 'unsafe') this.#untrusted(read.problem);
    return read.kind === 'token' ? read.token : undefined;
  }

  async set(key: string, token: ImsToken): Promise<void> {
    const target = this.pathFor(key);
    if (!(await this.#ensureDir())) return; // never write a token where others could read or replace it
    const tmp = `${target}.${uniqueId()}.tmp`;
    try {
      // No fsync: a cache may be lost to a crash; whatever a crash leaves (an empty or torn file) fails the
      // checks on read and is a miss. The rename keeps readers from ever seeing a half-written file.
      writeFileSync(tmp, JSON.stringify({ ...serializeImsToken(token), key }), { flag: 'wx', mode: 0o600 });
      renameSync(tmp, target);
    } catch (err) {
      try {
        unlinkIfExists(tmp);
      } catch {
        // the write's error is the one to report
      }
      const code = errnoOf(err) ?? 'error';
      this.#logger.warn({ path: target, error: code }, `ims-token: could not write the token cache file ${target} (${code})`);
      throw err;
    }
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    if (!(await this.#dirTrusted(false))) return;
    if (accessToken !== undefined) {
      const current = await this.#read(key).catch(() => undefined); // (the directory was judged just above)
      if (current && current.accessToken !== accessToken) return;
    }
    unlinkIfExists(this.pathFor(key));
  }

  /** Removes every token file in the directory (what `ims-token cache clear --all` does). */
  async clear(): Promise<number> {
    if (!(await this.#dirTrusted(false))) return 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return 0;
      throw err;
    }
    const files = names.filter((n) => n.endsWith('.json'));
    for (const n of files) unlinkIfExists(join(this.dir, n));
    return files.length;
  }

  /**
   * Runs `fn` holding this key's lock file, so that parallel processes mint once. The lock names its holder
   * and is renewed while `fn` runs; a lock whose holder died (a pid on this host) or that was not renewed for
   * `staleLockMs` is taken over; a holder removes only its own lock. `signal` stops the wait at once.
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    if (!(await this.#ensureDir())) return fn(); // untrusted directory: no lock, and set() writes nothing
    return withFileLock(`${this.pathFor(key)}.lock`, fn, { staleMs: this.#staleLockMs, waitMs: this.#lockWaitMs, signal: options.signal });
  }
}

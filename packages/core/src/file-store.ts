import { mkdir, open, readFile, rename, rm, stat, chmod, readdir } from './lazy-builtins';
import { join } from 'node:path';
import { randomBytes } from './lazy-builtins';
import { ImsTokenError } from './errors';
import type { TokenStore } from './store';
import { cacheFilePath, defaultCacheDir, parseCachedToken } from './cache';
import { serializeImsToken } from './token';
import type { ImsToken } from './token';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** Directory for token files. Default `$XDG_CACHE_HOME/ims-token`, else `~/.cache/ims-token`. Created 0700. */
  dir?: string;
  /** A lock older than this is taken over (its holder died). Default 30 000 ms. */
  staleLockMs?: number;
  /** How long `withLock` waits for another process before giving up and minting anyway. Default 20 000 ms. */
  lockWaitMs?: number;
  /** Clock for expiry checks (tests). */
  clock?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/**
 * Keeps tokens in files, one per credential, so separate processes (CLI runs, workers on one host)
 * share them. The directory is 0700 and every file 0600; writes are atomic (temp file + rename);
 * a corrupt file is a miss and is replaced; a lock file makes parallel processes mint once.
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
  #dirReady: Promise<void> | undefined;

  constructor(options: FileStoreOptions = {}) {
    if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir.trim() === '')) {
      throw new ImsTokenError('IMS_CONFIG', 'FileStore option "dir" must be a non-empty path.');
    }
    this.dir = options.dir ?? defaultCacheDir();
    this.#staleLockMs = options.staleLockMs ?? 30_000;
    this.#lockWaitMs = options.lockWaitMs ?? 20_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** The path of the token file for `key`. */
  pathFor(key: string): string {
    return cacheFilePath(this.dir, key);
  }

  #ensureDir(): Promise<void> {
    this.#dirReady ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const st = await stat(this.dir);
      if ((st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
        await chmod(this.dir, 0o700);
      }
    })().catch((err: unknown) => {
      this.#dirReady = undefined;
      throw err;
    });
    return this.#dirReady;
  }

  async get(key: string): Promise<ImsToken | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathFor(key), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    return parseCachedToken(text, this.#clock()); // corrupt or expired: a miss; the next set replaces it
  }

  async set(key: string, token: ImsToken): Promise<void> {
    await this.#ensureDir();
    const target = this.pathFor(key);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(serializeImsToken(token)));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    if (accessToken !== undefined) {
      const current = await this.get(key).catch(() => undefined);
      if (current && current.accessToken !== accessToken) return;
    }
    await rm(this.pathFor(key), { force: true });
  }

  /** Removes every token file in the directory (what `ims-token cache clear --all` does). */
  async clear(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
    const files = names.filter((n) => n.endsWith('.json'));
    await Promise.all(files.map((n) => rm(join(this.dir, n), { force: true })));
    return files.length;
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.#ensureDir();
    const lockPath = `${this.pathFor(key)}.lock`;
    const deadline = this.#clock() + this.#lockWaitMs;
    let delay = 10;
    for (;;) {
      try {
        const fh = await open(lockPath, 'wx', 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        break;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      if (await this.#isStale(lockPath)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (this.#clock() > deadline) return fn(); // the holder is stuck: availability over sharing
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
    try {
      return await fn();
    } finally {
      await rm(lockPath, { force: true });
    }
  }

  async #isStale(lockPath: string): Promise<boolean> {
    try {
      const [st, text] = await Promise.all([stat(lockPath), readFile(lockPath, 'utf8')]);
      if (Date.now() - st.mtimeMs > this.#staleLockMs) return true;
      const pid = Number.parseInt(text, 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
        } catch (err) {
          if (isErrno(err, 'ESRCH')) return true;
        }
      }
      return false;
    } catch (err) {
      return isErrno(err, 'ENOENT') ? false : false;
    }
  }
}

/**
 * What `FileStore`, its lock file and secret files need beyond `node:fs`. They call `node:fs`'s synchronous
 * functions directly: each call runs once per token lifetime (a miss, a refresh, a lock), never on the cached
 * path, and takes microseconds on a local disk. A cold process that mints through a file cache makes about 15 of
 * them; through `node:fs/promises` each was a thread-pool round trip plus a promise, and loading
 * `node:fs/promises` alone cost ~3 ms. `node:fs` is loaded by Node's bootstrap already. Inside the stores' async
 * methods a failed call still becomes a rejection with the same `code`, `syscall` and `path`.
 */
import { unlinkSync } from 'node:fs';
import { errnoOf } from './cache-file';

/** Removes a file; one that is not there is no error (`rm -f`; `fs.rmSync` would load its recursive remover). */
export function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

let sequence = 0;

/**
 * A name no other process or call of this one uses at the same time, for a lock's owner record or a temporary
 * file: pid, time, a per-process sequence and 48 random bits. Unique, not secret -- whoever can write the directory
 * can replace the file whatever its name -- so `Math.random` serves, and `node:crypto` (about 15 modules, the
 * largest part of a cold run's FileStore cost) stays unloaded.
 */
export function uniqueId(): string {
  const random = Math.floor(Math.random() * 2 ** 48).toString(36);
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${(sequence++).toString(36)}-${random}`;
}

/** `os.hostname()`, loaded on first call. */
export function hostname(): string {
  return process.getBuiltinModule('node:os').hostname();
}

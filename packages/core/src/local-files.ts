/**
 * The file calls of `FileStore`, its lock file and secret files: Node's synchronous `node:fs` calls behind
 * promise-returning functions with the signatures of `node:fs/promises`.
 *
 * Why synchronous: each of these runs once per token lifetime (a miss, a refresh, a lock), never on the
 * cached path, and takes microseconds on a local disk. A cold process that mints through a file cache makes
 * about 15 of them; through `node:fs/promises` each is a thread-pool round trip plus a promise, and loading
 * `node:fs/promises` alone costs ~3 ms. `node:fs` is loaded by Node's bootstrap already. Errors are the
 * same (`code`, `syscall`, `path`), delivered as rejections, as before.
 */
import type { Stats } from 'node:fs';
import * as fs from 'node:fs';

/** Runs `f` now; its result or error becomes the promise's. */
function now<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => Promise<R> {
  return (...args) => {
    try {
      return Promise.resolve(f(...args));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/** The part of `fs/promises`' FileHandle that the cache and lock files use, on a synchronous descriptor. */
export interface LocalFileHandle {
  stat(): Promise<Stats>;
  readFile(encoding: 'utf8'): Promise<string>;
  writeFile(data: string): Promise<void>;
  close(): Promise<void>;
}

function handle(fd: number): LocalFileHandle {
  let open = true;
  return {
    stat: now(() => fs.fstatSync(fd)),
    readFile: now((encoding: 'utf8') => fs.readFileSync(fd, encoding)),
    writeFile: now((data: string) => fs.writeFileSync(fd, data)),
    close: now(() => {
      if (open) {
        open = false;
        fs.closeSync(fd);
      }
    }),
  };
}

export const chmod = now(fs.chmodSync);
export const mkdir = now((path: string, options: fs.MakeDirectoryOptions & { recursive: true }): string | undefined =>
  fs.mkdirSync(path, options),
);
export const open = now((path: string, flags: string | number, mode?: number): LocalFileHandle => handle(fs.openSync(path, flags, mode)));
export const readdir = now((path: string): string[] => fs.readdirSync(path));
export const readFile = now((path: string, encoding: 'utf8'): string => fs.readFileSync(path, encoding));
export const rename = now(fs.renameSync);
/** Removes a file; one that is not there is no error (`rm -f`). (`fs.rmSync` would load its recursive remover.) */
export const unlinkIfExists = now((path: string): void => {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
});
export const stat = now((path: string): Stats => fs.statSync(path));
export const lstat = now((path: string): Stats => fs.lstatSync(path));
export const utimes = now(fs.utimesSync);

let sequence = 0;

/**
 * A name no other process or call of this one uses at the same time, for a lock's owner record or a temporary
 * file: pid, time, a per-process sequence and 48 random bits. Unique, not secret — whoever can write the directory
 * can replace the file whatever its name — so `Math.random` serves, and `node:crypto` (about 15 modules, the
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

/**
 * Node built-ins that the default path (require core, create a provider, get a token) never needs, loaded
 * on their first call instead of at import: `node:fs/promises` costs a cold process ~3 ms, for a secret file or
 * a file cache that most processes never use.
 * `process.getBuiltinModule` loads synchronously in both module formats (Node ≥ 20.16).
 */
import type * as Fsp from 'node:fs/promises';

const fsp = (): typeof Fsp => process.getBuiltinModule('node:fs/promises');

export const chmod: typeof Fsp.chmod = (...args) => fsp().chmod(...args);
export const mkdir = ((...args: Parameters<typeof Fsp.mkdir>) => fsp().mkdir(...args)) as typeof Fsp.mkdir;
export const open: typeof Fsp.open = (...args) => fsp().open(...args);
export const readdir = ((...args: Parameters<typeof Fsp.readdir>) => fsp().readdir(...args)) as typeof Fsp.readdir;
export const readFile = ((...args: Parameters<typeof Fsp.readFile>) => fsp().readFile(...args)) as typeof Fsp.readFile;
export const rename: typeof Fsp.rename = (...args) => fsp().rename(...args);
export const rm: typeof Fsp.rm = (...args) => fsp().rm(...args);
export const stat = ((...args: Parameters<typeof Fsp.stat>) => fsp().stat(...args)) as typeof Fsp.stat;
export const lstat = ((...args: Parameters<typeof Fsp.lstat>) => fsp().lstat(...args)) as typeof Fsp.lstat;
export const utimes: typeof Fsp.utimes = (...args) => fsp().utimes(...args);

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

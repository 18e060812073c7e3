/**
 * The trust rules of the token cache directory, as ssh applies them to `~/.ssh`: a directory and token files
 * owned by the current user, not writable by group or others, never reached through a symbolic link; and a
 * token read from them must be plausible (its client, its scopes, its times). Node built-ins only: the CLI's
 * warm-cache launcher uses them through `@ims-token/core/cache`, `FileStore` and the full CLI through core.
 */
import { constants, fstatSync, lstatSync, openSync, readFileSync, closeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { ImsTokenError } from './errors';
import { MAX_TOKEN_LIFETIME_MS, deserializeImsToken } from './token';
import type { ImsToken } from './token';

/** Why a cache directory or token file is not trusted: the path, what is wrong and the command that fixes it. */
export interface CacheTrustProblem {
  readonly path: string;
  readonly problem: string;
  readonly fix: string;
}

/**
 * What a cached token must match to be used: the key it was written for (a file records it; one without it, or
 * with another, was not written for this key by this version) and, when known, the credential.
 */
export interface CacheExpectation {
  readonly key: string;
  readonly clientId?: string;
  readonly scopes?: readonly string[];
}

/** The outcome of reading one token file. */
export type CacheRead =
  | { readonly kind: 'token'; readonly token: ImsToken }
  | { readonly kind: 'miss' }
  | { readonly kind: 'unsafe'; readonly problem: CacheTrustProblem };

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function uid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined; // Windows: no owners to compare
}

/** The `code` of a Node system error (`ENOENT`, `EEXIST`…), if `err` is one. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/**
 * Judges the `lstat`/`fstat` of the cache directory (`kind: 'dir'`) or of a token file (`'file'`): the one rule
 * every reader applies. `undefined` when it is trusted.
 */
export function judgeCacheStat(st: Stats, kind: 'dir' | 'file', path: string): CacheTrustProblem | undefined {
  const what = kind === 'dir' ? 'token cache directory' : 'cached token file';
  const removal = kind === 'dir' ? `rm -r '${path}'` : `rm '${path}'`;
  if (st.isSymbolicLink()) {
    return {
      path,
      problem: `The ${what} ${path} is a symbolic link, which ims-token never follows`,
      fix: `${removal} (ims-token creates it again), or point the cache at a directory of your own`,
    };
  }
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) {
    return {
      path,
      problem: `The ${what} ${path} is not a ${kind === 'dir' ? 'directory' : 'regular file'}`,
      fix: `${removal}, or point the cache elsewhere`,
    };
  }
  const me = uid();
  if (me !== undefined && st.uid !== me) {
    return {
      path,
      problem: `The ${what} ${path} is owned by uid ${st.uid}, not by you (uid ${me}): another user could have planted a token in it`,
      fix: `chown ${me} '${path}' if it is yours, else ${removal} or use a cache directory of your own (--cache-dir, IMS_TOKEN_CACHE=file:<dir>)`,
    };
  }
  if (me !== undefined && (st.mode & 0o022) !== 0) {
    return {
      path,
      problem: `The ${what} ${path} is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'}: another user could have planted a token in it`,
      fix: kind === 'dir' ? `chmod 700 '${path}'` : `${removal} (ims-token writes a new one, 0600)`,
    };
  }
  return undefined;
}

/** The `IMS_CONFIG` error the CLI stops with for an untrusted cache (naming the path and the fix). */
export function cacheTrustError(p: CacheTrustProblem): ImsTokenError {
  return new ImsTokenError('IMS_CONFIG', `${p.problem}.`, { field: 'IMS_TOKEN_CACHE', hint: `${p.fix}.` });
}

/**
 * Whether a token read from a cache is one IMS could have minted for this credential: the same client and
 * scopes (when `expect` names them), `issuedAt ≤ expiresAt`, a lifetime of at most {@link MAX_TOKEN_LIFETIME_MS},
 * and not expired by `now` (`undefined`: an expired token is fine, for display).
 */
export function plausibleCachedToken(token: ImsToken, now: number | undefined, expect?: CacheExpectation): boolean {
  if (!(token.issuedAt <= token.expiresAt) || token.expiresAt - token.issuedAt > MAX_TOKEN_LIFETIME_MS) return false;
  // (no check of issuedAt against `now`: providers with their own clocks share stores, and a token minted
  // "in the future" of another clock is still the one IMS gave)
  if (now !== undefined && token.expiresAt <= now) return false;
  if (expect?.clientId !== undefined && token.clientId !== expect.clientId) return false;
  if (expect?.scopes !== undefined && [...token.scopes].sort().join(',') !== [...expect.scopes].sort().join(',')) return false;
  return true;
}

/** Parses a token file's text, checks the key it records and applies {@link plausibleCachedToken}; anything else is `undefined`. */
export function parseTrustedToken(text: string, now: number | undefined, expect?: CacheExpectation): ImsToken | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (expect && (parsed as { key?: unknown } | null)?.key !== expect.key) return undefined;
  const token = deserializeImsToken(parsed);
  return token && plausibleCachedToken(token, now, expect) ? token : undefined;
}

/**
 * Checks the cache directory (`lstat`: no symbolic link, yours, not group/world-writable). A directory that
 * does not exist yet is fine (it is created 0700).
 */
export function checkCacheDirSync(dir: string): CacheTrustProblem | undefined {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    return {
      path: dir,
      problem: `The token cache directory ${dir} cannot be examined (${errnoOf(err) ?? 'error'})`,
      fix: `check its permissions`,
    };
  }
  return judgeCacheStat(st, 'dir', dir);
}

/**
 * Reads a token file the way ssh reads a private key: opened with `O_NOFOLLOW` and judged by `fstat` of what was
 * opened, then its content checked ({@link parseTrustedToken}). The directory is the caller's to check first. A
 * missing file is a miss; an error other than a missing file or a link is thrown (`FileStore` reports it,
 * {@link readCacheFileSync} takes it for a miss).
 */
export function readTokenFileSync(file: string, now: number | undefined, expect?: CacheExpectation): CacheRead {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | O_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'miss' };
    if (code === 'ELOOP') return { kind: 'unsafe', problem: linkProblem(file) };
    throw err;
  }
  try {
    const problem = judgeCacheStat(fstatSync(fd), 'file', file);
    if (problem) return { kind: 'unsafe', problem };
    // corrupt, implausible, expired or written for another key: a miss; the next write replaces it
    const token = parseTrustedToken(readFileSync(fd, 'utf8'), now, expect);
    return token ? { kind: 'token', token } : { kind: 'miss' };
  } finally {
    closeSync(fd);
  }
}

/**
 * {@link readTokenFileSync} after checking the directory ({@link checkCacheDirSync}), for a reader that never
 * fails (the CLI's launcher): any error is a miss.
 */
export function readCacheFileSync(dir: string, file: string, now: number | undefined, expect?: CacheExpectation): CacheRead {
  const dirProblem = checkCacheDirSync(dir);
  if (dirProblem) return { kind: 'unsafe', problem: dirProblem };
  try {
    return readTokenFileSync(file, now, expect);
  } catch {
    return { kind: 'miss' };
  }
}

/** The problem for a token file that turned out to be a symbolic link when opened. */
export function linkProblem(file: string): CacheTrustProblem {
  return {
    path: file,
    problem: `The cached token file ${file} is a symbolic link, which ims-token never follows`,
    fix: `rm '${file}' (ims-token writes a new one)`,
  };
}

/**
 * `@ims-token/core/cache`: what a process needs to find and read a cached token without loading the rest
 * of core (no undici, no node:crypto): the cache key, the file store's location and format, and the URL and scope
 * rules they depend on. The `ims-token` CLI answers a warm cache with this alone.
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import { ImsTokenError, configError } from './errors';
import { parseTrustedToken, readCacheFileSync } from './cache-file';
import type { CacheExpectation } from './cache-file';
import { sha256Hex } from './sha256';
import type { ImsToken } from './token';

/** The production IMS. Stage is `https://ims-na1-stg1.adobelogin.com`. */
export const DEFAULT_IMS_URL = 'https://ims-na1.adobelogin.com';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** True for `localhost`, `127.x.x.x` and `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** Validates and normalises an IMS base URL. */
export function normalizeImsUrl(input: string, field = 'imsUrl'): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw configError(field, 'is not a valid URL (expected e.g. https://ims-na1.adobelogin.com)');
  }
  if (url.username || url.password) throw configError(field, 'must not contain credentials');
  if (url.search || url.hash) throw configError(field, 'must not have a query string or fragment');
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      throw configError(field, 'must use https (plain http is allowed only for a loopback host such as the emulator on 127.0.0.1)');
    }
  } else if (url.protocol !== 'https:') {
    throw configError(field, 'must be an https URL');
  }
  return url.href.replace(/\/+$/, '');
}

/** Splits and cleans a scope list. */
export function normalizeScopes(input: string | readonly string[], field = 'scopes'): string[] {
  const list = (typeof input === 'string' ? input.split(',') : input.flatMap((s) => s.split(','))).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw configError(field, 'must name at least one scope (e.g. "openid,AdobeID,firefly_api")');
  const bad = list.find((s) => /\s/.test(s));
  if (bad !== undefined) throw configError(field, 'must not contain spaces inside a scope (separate scopes with commas)');
  return [...new Set(list)];
}

/**
 * The client secrets in the text of a secret file (or of standard input): one per line, blank lines and
 * `#` comments skipped, surrounding whitespace trimmed, CRLF or LF. The caller decides how many it accepts
 * (core takes one or two).
 *
 * @example
 * ```ts
 * parseSecretLines('# rotated 2026-11-29\np8e-new\r\np8e-old\n') // ['p8e-new', 'p8e-old']
 * ```
 */
export function parseSecretLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The least life a token must have left to be handed out, unless `minRemainingMs` says otherwise: 60 s. */
export const DEFAULT_MIN_REMAINING_MS = 60_000;

/**
 * Until when (epoch ms) a token may be handed out: while it has at least `minRemainingMs` of life left.
 * For short-lived tokens the margin shrinks: with the default it is at most 5 % of the lifetime, with a
 * chosen `minRemainingMs` at most half of it. The provider, the CLI and every store apply this one rule.
 *
 * @example
 * ```ts
 * serveUntil({ issuedAt: 0, expiresAt: 86_400_000 })            // 86_340_000: 60 s before expiry
 * serveUntil({ issuedAt: 0, expiresAt: 86_400_000 }, 3_600_000) // 82_800_000: an hour before expiry
 * ```
 */
export function serveUntil(token: { readonly expiresAt: number; readonly issuedAt: number }, minRemainingMs?: number): number {
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  const margin = minRemainingMs === undefined ? Math.min(DEFAULT_MIN_REMAINING_MS, lifetime / 20) : Math.min(minRemainingMs, lifetime / 2);
  return token.expiresAt - margin;
}

/**
 * The store key of a credential and scope set: a hash of the IMS URL, the client ID and the sorted scopes,
 * never of the secret (so a secret rotation keeps the cached token). Tokens are stored under it in files and
 * in Redis, so its value never changes from one version to the next. Inputs must be normalised
 * ({@link normalizeImsUrl}, {@link normalizeScopes}).
 *
 * @example
 * ```ts
 * cacheKeyFor(DEFAULT_IMS_URL, clientId, normalizeScopes('openid,AdobeID')) // 'ims-3f…'
 * ```
 */
export function cacheKeyFor(imsUrl: string, clientId: string, scopes: readonly string[]): string {
  return `ims-${sha256Hex(`${imsUrl}\n${clientId}\n${[...scopes].sort().join(',')}`).slice(0, 32)}`;
}

/**
 * The directory `FileStore` uses when none is given: `$XDG_CACHE_HOME/ims-token`, else `~/.cache/ims-token`.
 *
 * @example
 * ```ts
 * defaultCacheDir({ XDG_CACHE_HOME: '/srv/cache' }) // '/srv/cache/ims-token'
 * ```
 */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const home = env.HOME && env.HOME.startsWith('/') ? env.HOME : process.getBuiltinModule('node:os').homedir();
  return join(xdg && xdg.startsWith('/') ? xdg : join(home, '.cache'), 'ims-token');
}

/** The file `FileStore` keeps the token of `key` in, inside `dir`. */
export function cacheFilePath(dir: string, key: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new ImsTokenError('IMS_CONFIG', 'FileStore keys must be file-name safe.');
  return join(dir, `${key}.json`);
}

export { MAX_TOKEN_LIFETIME_MS } from './token';
export { cacheTrustError, checkCacheDirSync, judgeCacheStat, plausibleCachedToken, readCacheFileSync } from './cache-file';
export type { CacheExpectation, CacheRead, CacheTrustProblem } from './cache-file';

/**
 * Reads the token `FileStore` cached for `key` in `dir`, synchronously; `undefined` when there is none, it is
 * unreadable, corrupt or implausible (another client or scopes than `expect`, a lifetime IMS never gives), it
 * has expired by `now`, or the directory or file is not trusted (not yours, writable by others, a symbolic
 * link: {@link readCacheFileSync} says which).
 *
 * @example
 * ```ts
 * const token = readCachedTokenSync(defaultCacheDir(), provider.cacheKey)
 * ```
 */
export function readCachedTokenSync(
  dir: string,
  key: string,
  now: number = Date.now(),
  expect?: Omit<CacheExpectation, 'key'>,
): ImsToken | undefined {
  const r = readCacheFileSync(dir, cacheFilePath(dir, key), now, { ...expect, key });
  return r.kind === 'token' ? r.token : undefined;
}

/** Parses a token file's text; corrupt, foreign (another `key`), implausible or expired content is `undefined`. */
export function parseCachedToken(text: string, now: number, expect?: CacheExpectation): ImsToken | undefined {
  return parseTrustedToken(text, now, expect);
}

import { ENV, cacheEntryFromEnv } from '@ims-token/core';
import type { ImsToken, TokenStore } from '@ims-token/core';
import { cacheTrustError, plausibleCachedToken, readCacheFileSync } from '@ims-token/core/cache';
import { cliEnv, cliHint, resolveCache } from './config';
import type { CacheInfo } from './config';
import type { Context } from './context';

/**
 * What `status`, `inspect` and `cache clear` work on: a credential's cache entry. Worked out from the
 * configuration without a secret and without a token provider (they never mint).
 */
export interface CacheTarget {
  clientId: string;
  scopes: readonly string[];
  imsUrl: string;
  /** The store key (core's rule: IMS URL, client id, sorted scopes). */
  key: string;
  cache: CacheInfo;
  /** The Redis store, when the cache is Redis. */
  store?: TokenStore;
}

/** This run's cache entry: flags, then the environment, then `--env-file`; no secret needed. */
export async function resolveCacheTarget(ctx: Context): Promise<CacheTarget> {
  const { env } = await cliEnv(ctx);
  const cacheVar = env[ENV.tokenCache]?.trim();
  const cache = resolveCache(ctx, env, cacheVar);
  try {
    // Core's rules for the client id, scopes, IMS URL and IMS_TOKEN_CACHE(_KEY), without a secret (the Redis
    // store, when the cache is Redis; the file cache is the CLI's own, above). Nothing is sent.
    const entry = cacheEntryFromEnv({ ...env, [ENV.tokenCache]: cache.kind === 'redis' ? cacheVar : undefined });
    return { ...entry, cache };
  } catch (err) {
    throw cliHint(err, ctx);
  }
}

/** Where the entry lives, for display. */
export function targetLocation(t: CacheTarget): string {
  switch (t.cache.kind) {
    case 'file':
      return t.cache.store.pathFor(t.key);
    case 'redis':
      return `${t.cache.where} (key ${t.key})`;
    default:
      return `nowhere (${t.cache.why}: every run asks IMS)`;
  }
}

/**
 * The token cached for this credential, even an expired one, or `undefined`; a file cache that is not trusted
 * (not yours, writable by others, a link) is an `IMS_CONFIG` error naming the path and the fix. Never asks IMS.
 */
export async function readTargetToken(
  t: Pick<CacheTarget, 'cache' | 'store' | 'key' | 'clientId' | 'scopes'>,
): Promise<ImsToken | undefined> {
  if (t.cache.kind === 'memory') return undefined;
  // Core's rule for a token read from any cache (this client and scopes, a lifetime IMS gives): what the
  // provider would replace is not shown as this credential's token.
  const expect = { key: t.key, clientId: t.clientId, scopes: t.scopes };
  if (t.cache.kind === 'file') {
    const read = readCacheFileSync(t.cache.dir, t.cache.store.pathFor(t.key), undefined, expect);
    if (read.kind === 'unsafe') throw cacheTrustError(read.problem);
    return read.kind === 'token' ? read.token : undefined;
  }
  const token = await t.store?.get(t.key);
  return token && plausibleCachedToken(token, undefined, expect) ? token : undefined;
}

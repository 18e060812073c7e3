import { ImsTokenError } from '@ims-token/core';
import { plausibleCachedToken } from '@ims-token/core/cache';
import { readTargetToken } from './cache-target';
import type { ImsToken, TokenProvider } from '@ims-token/core';
import { withSpinner } from './config';
import type { CliConfig } from './config';
import type { Context } from './context';
import { formatDuration } from './output';
import { serveUntil, usableUntil } from './launcher/policy';

/** The token cached for the provider's credential, even an expired one (see {@link readTargetToken}). */
export function readCachedToken(config: CliConfig, provider: TokenProvider): Promise<ImsToken | undefined> {
  const { cacheKey: key, clientId, scopes } = provider;
  return readTargetToken({ cache: config.cache, key, clientId, scopes, ...(config.options.store ? { store: config.options.store } : {}) });
}

/**
 * `valid`: printed as is; `expiring`: the next `token` run replaces it (and uses it still if IMS is down);
 * `expired`: past its end, or too close to it to be used; `none`.
 */
export type CachedState = 'valid' | 'expiring' | 'expired' | 'none';

export function cachedState(token: ImsToken | undefined, now: number): CachedState {
  if (!token) return 'none';
  if (now >= usableUntil(token)) return 'expired';
  if (now >= serveUntil(token)) return 'expiring';
  return 'valid';
}

const FALLBACK: ReadonlySet<string> = new Set(['IMS_NETWORK', 'IMS_TIMEOUT', 'IMS_SERVER_ERROR', 'IMS_RATE_LIMITED', 'IMS_BAD_RESPONSE']);

/**
 * A token for `token` and `exec`: the cached one while it has an hour left, else a new one; when IMS
 * cannot give one (network, 5xx, 429), the cached one while it is still usable, with a warning.
 * A rejected credential is never papered over.
 */
export async function obtainToken(ctx: Context, config: CliConfig, provider: TokenProvider): Promise<ImsToken> {
  const force = ctx.flags.force === true;
  try {
    return await withSpinner(ctx, 'Getting a token from IMS…', async () => {
      const token = await provider.getToken(force ? { forceRefresh: true } : undefined);
      // The launcher's rule for a cached token (this client, these scopes, a lifetime IMS gives): a stored token
      // that breaks it is replaced, never printed. (Core's provider checks only the client of a stored token.)
      const expect = { key: provider.cacheKey, clientId: provider.clientId, scopes: provider.scopes };
      return force || plausibleCachedToken(token, Date.now(), expect) ? token : provider.getToken({ forceRefresh: true });
    });
  } catch (err) {
    if (force || !ImsTokenError.is(err) || !FALLBACK.has(err.code)) throw err;
    const cached = await readCachedToken(config, provider).catch(() => undefined);
    const now = Date.now();
    if (!cached || now >= usableUntil(cached)) throw err;
    ctx.note(
      `ims-token: ${ctx.err.yellow('warning')}: ${err.code}: could not refresh the token (${err.message.replace(/\.$/, '')}); using the cached one, which expires in ${formatDuration(cached.expiresAt - now)}.`,
    );
    return cached;
  }
}

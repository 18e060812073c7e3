import type { ImsToken, TokenProvider } from '@ims-token/core';
import { withSpinner } from './config';
import type { Context } from './context';
import { formatDuration } from './output';
import { serveUntil, usableUntil } from './launcher/policy';

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

/**
 * A token for `token` and `exec`: the cached one while it has an hour left, else a new one; when IMS
 * cannot give one (network, timeout, 5xx, 429, a bad answer), the cached one while it is still usable, with a
 * warning: core's `staleIfError`, which never papers over a rejected credential and never applies to `--force`.
 */
export async function obtainToken(ctx: Context, provider: TokenProvider): Promise<ImsToken> {
  const force = ctx.flags.force === true;
  // A stored token that IMS could not have given this credential (another client, other scopes, a lifetime IMS
  // never gives) is a miss in core's provider itself (plausibleCachedToken): replaced, never printed.
  const token = await withSpinner(ctx, 'Getting a token from IMS…', () =>
    provider.getToken(force ? { forceRefresh: true } : { staleIfError: true }),
  );
  // The provider hands out a token inside its last hour only when staleIfError served it: IMS failed.
  const now = Date.now();
  const failed = provider.status().lastError;
  if (!force && failed && now >= serveUntil(token)) {
    ctx.note(
      `ims-token: ${ctx.err.yellow('warning')}: ${failed.code}: could not refresh the token (${failed.message.replace(/\.$/, '')}); using the cached one, which expires in ${formatDuration(token.expiresAt - now)}.`,
    );
  }
  return token;
}

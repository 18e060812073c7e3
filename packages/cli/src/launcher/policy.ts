/**
 * When the CLI hands out a cached token. Core-free (the fast path of the bin uses it too): the rule itself
 * is core's `serveUntil`, from the built-ins-only `@ims-token/core/cache` entry.
 *
 * A CLI run is one-shot: the token it prints is used afterwards by curl, a script or `exec`'s command,
 * so it must have real life left. The CLI asks core for tokens with at least an hour left (half their
 * life for short-lived ones, core's cap); an older token is replaced, and if IMS cannot be reached
 * then, the cached token is still used while it has core's floor (60 s, at most 5 % of its life) left.
 */
import { serveUntil as coreServeUntil } from '@ims-token/core/cache';

export const CLI_MIN_REMAINING_MS = 3_600_000;

interface Times {
  expiresAt: number;
  issuedAt: number;
}

/** Until when a cached token is printed as is (core's rule for a chosen `minRemainingMs`). */
export function serveUntil(t: Times): number {
  return coreServeUntil(t, CLI_MIN_REMAINING_MS);
}

/** Until when a cached token may still be used when IMS cannot give a new one (core's default floor). */
export function usableUntil(t: Times): number {
  return coreServeUntil(t);
}

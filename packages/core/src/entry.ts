import { authHeadersFor } from './auth-headers';
import type { ImsAuthHeaders } from './auth-headers';
import { serveUntil } from './cache';
import { COARSE_MIN_MARGIN_MS, startCoarseClock } from './coarse-clock';
import type { TokenEvent, TokenProviderStatus, TokenState } from './provider-types';
import { redactToken } from './redact';
import type { ImsToken } from './token';

/** The token a provider serves, with its times and the promises the hot path hands out. */
export interface Entry {
  /** Before this (by the coarse clock) the entry is served without reading the precise clock; -Infinity disables it. */
  hotUntil: number;
  token: ImsToken;
  /** Minted by this provider, or taken from the store (another provider or process minted it). */
  source: 'ims' | 'store';
  promise: Promise<ImsToken>;
  headers: Promise<ImsAuthHeaders>;
  refreshAt: number;
  serveUntil: number;
}

/** What decides a token's refresh and serving times. */
export interface Timing {
  refreshWindowMs: number | undefined;
  /** Only when the user set it: else the default margin scaled for short-lived tokens ({@link serveUntil}). */
  minRemainingMs: number | undefined;
  /** 0..1, per provider: spreads a fleet's refreshes over 20 % of the window. */
  jitter: number;
}

/** When to start refreshing `token` ahead (default: the last hour, or 10 % of a shorter life) and until when to serve it. */
export function timesFor(token: ImsToken, t: Timing): { refreshAt: number; serveUntil: number } {
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  const window = (t.refreshWindowMs ?? Math.min(3_600_000, lifetime / 10)) * (1 + 0.2 * t.jitter);
  const until = serveUntil(token, t.minRemainingMs);
  const refreshAt = Math.floor(Math.max(token.issuedAt, Math.min(until, token.expiresAt - window)));
  return { refreshAt, serveUntil: until };
}

/** The entry for `token`; with the default clock, served by the coarse clock until its refresh time. */
export function entryFor(token: ImsToken, source: 'ims' | 'store', t: Timing, defaultClock: boolean): Entry {
  const { refreshAt, serveUntil } = timesFor(token, t);
  let hotUntil = -Infinity;
  if (defaultClock && serveUntil - refreshAt >= COARSE_MIN_MARGIN_MS) {
    startCoarseClock();
    hotUntil = refreshAt;
  }
  return {
    hotUntil,
    token,
    source,
    promise: Promise.resolve(token),
    headers: Promise.resolve(authHeadersFor(token)),
    refreshAt,
    serveUntil,
  };
}

/** The `token` event of an entry: never the token itself. */
export function tokenEvent(e: Entry): TokenEvent {
  const t = e.token;
  return {
    source: e.source,
    expiresAt: t.expiresAt,
    issuedAt: t.issuedAt,
    scopes: t.scopes,
    clientId: t.clientId,
    tokenPreview: redactToken(t.accessToken),
  };
}

/** The state `status()` reports. */
export function stateOf(e: Entry | undefined, now: number, closed: boolean, fetching: boolean, failed: boolean): TokenState {
  if (closed) return 'closed';
  if (e && now < e.refreshAt) return 'valid';
  if (e && now < e.serveUntil) return fetching ? 'refreshing' : 'expiring';
  if (fetching) return 'fetching';
  return failed ? 'failed' : 'empty';
}

/** The entry's part of `status()`, without the token. */
export function entryStatus(e: Entry | undefined, now: number): Partial<TokenProviderStatus> {
  if (!e) return {};
  return {
    expiresAt: e.token.expiresAt,
    issuedAt: e.token.issuedAt,
    expiresInMs: Math.max(0, e.token.expiresAt - now),
    refreshAt: e.refreshAt,
    tokenPreview: redactToken(e.token.accessToken),
  };
}

/** Fresh counters of `status()`. */
export function newCounters(): TokenProviderStatus['counters'] {
  return {
    hits: 0,
    misses: 0,
    imsRequests: 0,
    mints: 0,
    storeHits: 0,
    backgroundRefreshes: 0,
    refreshFailures: 0,
    failovers: 0,
    storeErrors: 0,
    negativeCacheHits: 0,
    invalidations: 0,
    invalidationsRefused: 0,
  };
}

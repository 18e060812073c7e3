import type { ImsAuthHeaders } from './auth-headers';
export type { ImsAuthHeaders } from './auth-headers';
import type { ImsTokenError, ImsTokenErrorCode } from './errors';
import type { SecretSourceKind } from './secret-source';
import type { ImsToken } from './token';
import type { UnauthorizedBackoff } from './unauthorized';

// The public interfaces of a token provider (provider.ts implements them).

/** Options of {@link TokenProvider.getToken}. */
export interface GetTokenOptions {
  /** Stops waiting for this caller (the shared request goes on for the others). */
  signal?: AbortSignal;
  /** Ignore the cached token and mint a new one. */
  forceRefresh?: boolean;
  /**
   * Serve a stale token when IMS is down, for one-shot scripts and CLIs that keep a token longer than they
   * must (a high `minRemainingMs`): when no new token can be had for a reason that is not about the
   * credential — `IMS_NETWORK`, `IMS_TIMEOUT`, `IMS_SERVER_ERROR`, `IMS_RATE_LIMITED`, `IMS_BAD_RESPONSE` — resolve
   * with the last token this provider used, or the one in the store, while it still has the default margin
   * of life (60 s, or 5 % of a short token's), with a warning logged. Never after a rejected credential, never
   * with `forceRefresh`, never a token an API refused (401). Default `false`.
   */
  staleIfError?: boolean;
}

/** What the provider is doing, for health checks. */
export type TokenState = 'empty' | 'fetching' | 'valid' | 'refreshing' | 'expiring' | 'failed' | 'closed';

/** A snapshot of the provider without the token value (safe to log or serve). */
export interface TokenProviderStatus {
  state: TokenState;
  clientId: string;
  scopes: readonly string[];
  imsUrl: string;
  cacheKey: string;
  /** When the current token expires (epoch ms). */
  expiresAt?: number;
  issuedAt?: number;
  /** Milliseconds of life left on the current token. */
  expiresInMs?: number;
  /** When the background refresh starts (epoch ms). */
  refreshAt?: number;
  /** First 6 characters of the current token. */
  tokenPreview?: string;
  lastError?: { code: ImsTokenErrorCode; message: string; at: number; debugId?: string };
  /**
   * Present while 401s cause no refresh (see {@link TokenProvider.invalidate}): until when, and the level
   * (1 → 30 s, doubling per failed refresh up to 10 min).
   */
  unauthorizedBackoff?: UnauthorizedBackoff;
  secret: { source: SecretSourceKind; index: number; count: number };
  counters: {
    /** getToken() answered from memory. */
    hits: number;
    /** getToken() calls that needed a token from the store or IMS. */
    misses: number;
    /** HTTP requests sent to IMS (including retries). */
    imsRequests: number;
    /** Tokens minted by IMS. */
    mints: number;
    /** Tokens taken from the store. */
    storeHits: number;
    backgroundRefreshes: number;
    refreshFailures: number;
    failovers: number;
    storeErrors: number;
    /** Calls refused without asking IMS, after a hard rejection. */
    negativeCacheHits: number;
    /** `invalidate(token)` calls (401s) that dropped the token: the caller retried with a fresh one. */
    invalidations: number;
    /** `invalidate(token)` calls (401s) answered `false`: passed on without a refresh, by the 401 back-off. */
    invalidationsRefused: number;
  };
}

/** What the `token` event tells: never the token itself. */
export interface TokenEvent {
  source: 'ims' | 'store';
  expiresAt: number;
  issuedAt: number;
  scopes: readonly string[];
  clientId: string;
  tokenPreview: string;
}

/** Events of a {@link TokenProvider}. */
export interface TokenProviderEvents {
  /** A new token was taken into use. */
  token: (event: TokenEvent) => void;
  /** A background refresh failed; the current token is still served while it lives. */
  'refresh-error': (error: ImsTokenError) => void;
  /** The first secret was rejected and the second one worked; the provider keeps using it. */
  'secret-failover': (event: { from: number; to: number; reason: ImsTokenErrorCode }) => void;
}

/** Gets, caches and refreshes IMS access tokens for one credential and scope set. */
export interface TokenProvider {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly imsUrl: string;
  /** The store key of this credential (hash of IMS URL, client id and sorted scopes; never of the secret). */
  readonly cacheKey: string;
  /** A token with at least `minRemainingMs` of life. Concurrent callers share one IMS request. */
  getToken(options?: GetTokenOptions): Promise<ImsToken>;
  /** `{ authorization: 'Bearer …', 'x-api-key': clientId }` for the current token. */
  getAuthHeaders(options?: GetTokenOptions): Promise<ImsAuthHeaders>;
  /**
   * Reports that an API answered 401 to a request sent with `accessToken`. Resolves `true` when the caller
   * should retry once with a fresh token from `getAuthHeaders()`, `false` when it should pass the 401 on
   * without a retry. Core decides, so that no client can turn its requests into IMS mints:
   *
   * - The first 401 for the cached token drops it (only while it is still the cached one, so a burst of
   *   401s for one token causes one refresh; every caller of the burst gets `true`). A 401 for a token that
   *   was already replaced resolves `true` at once: the retry uses the current token and costs no mint.
   * - If the token that replaced it gets a 401 too, the 401 is not about the token: it resolves `false`, and
   *   for 30 s — doubling with each refresh that does not help, up to 10 min, and lowered again by quiet
   *   time — every `invalidate(token)` resolves `false`, keeps the token and leaves the store alone.
   * - A 401 for a token already past its serving window (it expired in flight) is explained by its age: it
   *   is replaced (as it would be anyway) and resolves `true`, back-off or not.
   * - In a fleet sharing a store, a 401 for a token another process minted within the back-off period
   *   (at least 30 s) re-reads the store instead of deleting the token and minting: a late joiner does not
   *   mint for the fleet.
   *
   * Without an argument it is an operator's action: it drops whatever is cached, deletes it from the
   * store, whatever the back-off says, and resolves `true`.
   *
   * @example
   * ```ts
   * let h = await ims.getAuthHeaders()
   * let res = await fetch(url, { headers: h })
   * if (res.status === 401 && (await ims.invalidate(h.authorization.slice(7)))) {
   *   h = await ims.getAuthHeaders()
   *   res = await fetch(url, { headers: h }) // once; a second 401 is the answer
   * }
   * ```
   */
  invalidate(accessToken?: string): Promise<boolean>;
  /** Replaces the client secrets in a running process (after a rotation). */
  setSecrets(secrets: string | readonly string[]): void;
  /** A synchronous snapshot, without the token. */
  status(): TokenProviderStatus;
  on<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): () => void;
  off<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): void;
  /** Stops in-flight requests and releases the HTTP agent (and a store it created). */
  close(): Promise<void>;
}

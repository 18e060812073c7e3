/**
 * Instrumentation on Node's `diagnostics_channel` (the mechanism undici, fastify and OpenTelemetry's
 * instrumentations use). A stable interface: the channel names and the message fields below are documented
 * in the README and change only with a major version.
 *
 * Nothing is built or published unless someone subscribes (`hasSubscribers` is checked first), and the cached
 * `getToken()` path publishes nothing at all. No message ever holds a token or a secret: `clientId`, the
 * sorted scopes and the cache key identify the credential.
 */
import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { Channel, TracingChannel } from 'node:diagnostics_channel';
import type { ImsTokenError } from './errors';
import type { SecretSourceKind } from './secret-source';
import type { TokenProvider } from './provider';

/** The names of the channels core (and `@ims-token/redis`) publish on. */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  /** Plain: a provider was created, or closed (`closed: true`). {@link ProviderMessage} */
  provider: 'ims-token:provider',
  /** TracingChannel: one token obtained from IMS, including its retries and a failover. {@link MintContext} */
  mint: 'ims-token:mint',
  /** TracingChannel: one HTTP attempt to IMS's token endpoint. {@link ImsRequestContext} */
  imsRequest: 'ims-token:ims-request',
  /** TracingChannel: one call of the token store. {@link StoreContext} */
  store: 'ims-token:store',
  /** Plain: an API's 401 reported through `invalidate(token)`, and the verdict. {@link InvalidateMessage} */
  invalidate: 'ims-token:invalidate',
  /** Plain: the first secret was rejected and the other one worked. {@link FailoverMessage} */
  failover: 'ims-token:failover',
  /** Plain: the secrets were read again from their source. {@link SecretReloadMessage} */
  secretReload: 'ims-token:secret-reload',
  /** Plain: a background refresh failed while the current token still serves. {@link RefreshErrorMessage} */
  refreshError: 'ims-token:refresh-error',
  /** Plain, published by `@ims-token/redis`: the store was unreachable and the provider minted locally. {@link StoreFallbackMessage} */
  storeFallback: 'ims-token:store-fallback',
} as const);

/** Which credential a message is about: in every message of core. */
export interface CredentialFields {
  clientId: string;
  /** The scopes, sorted and comma-joined. */
  scopes: string;
  /** The provider's store key (a hash of IMS URL, client id and sorted scopes). */
  cacheKey: string;
}

/** `ims-token:provider`: published when a provider is created, and with `closed: true` when it is closed. */
export interface ProviderMessage extends CredentialFields {
  /** The provider itself: read `provider.status()` for counters, expiry and the secret in use. Hold it weakly. */
  provider: TokenProvider;
  closed?: true;
}

/** Why a mint happened. */
export type MintReason = 'cold' | 'refresh-ahead' | 'forced' | 'invalidated';

/** `ims-token:mint` (TracingChannel) context. */
export interface MintContext extends CredentialFields {
  reason: MintReason;
  /** True for a refresh-ahead that no caller waits for. */
  background: boolean;
  /** Set before `asyncEnd` when the mint succeeded. */
  result?: { expiresAt: number; issuedAt: number; secretIndex: number };
  /** Set before `error` when it failed: read `error.code`. */
  error?: ImsTokenError;
}

/** `ims-token:ims-request` (TracingChannel) context. */
export interface ImsRequestContext extends CredentialFields {
  /** Origin and path of the token endpoint (never a query). */
  url: string;
  /** 1-based attempt within one mint and secret. */
  attempt: number;
  /** Which configured secret is sent (0 or 1). */
  secretIndex: number;
  /** The HTTP status, when IMS answered. */
  status?: number;
  /** IMS's `x-debug-id` (sanitised), when it sent one. */
  debugId?: string;
  /** Set before `error` when the attempt failed (also for an HTTP error status): read `error.code`. */
  error?: ImsTokenError;
}

/** Which store operation. `lock` spans the whole `withLock()` call, the mint inside it included. */
export type StoreOp = 'get' | 'set' | 'delete' | 'lock';

/** `ims-token:store` (TracingChannel) context. */
export interface StoreContext extends CredentialFields {
  op: StoreOp;
  /** The store's constructor name, e.g. `MemoryStore`, `FileStore`, `RedisStore`. */
  store: string;
  /** For `get`, at the end: whether the store held a token. */
  hit?: boolean;
  /** What the store threw. */
  error?: unknown;
}

/** The verdicts of a 401-driven `invalidate(token)`; `stale`: the token was no longer the current one. */
export type InvalidateVerdict = 'refresh' | 'expired' | 'reread' | 'refuse' | 'stale';

/** `ims-token:invalidate`: an API's 401 reported through `invalidate(token)`. */
export interface InvalidateMessage extends CredentialFields {
  verdict: InvalidateVerdict;
  /** With `refuse`: this 401 started (or lengthened) the 401 back-off — a fresh token did not cure it. */
  strike?: true;
}

/** `ims-token:failover`. */
export interface FailoverMessage extends CredentialFields {
  fromIndex: number;
  toIndex: number;
}

/** `ims-token:secret-reload`: the secrets were read from their source (a file that changed, a function, `setSecrets()`). */
export interface SecretReloadMessage extends CredentialFields {
  source: SecretSourceKind;
  /** How many secrets it holds (1 or 2). */
  count: number;
}

/** `ims-token:refresh-error`. */
export interface RefreshErrorMessage extends CredentialFields {
  error: ImsTokenError;
  /** When the token still served expires (epoch ms). */
  expiresAt: number | undefined;
}

/** `ims-token:store-fallback` (published by `@ims-token/redis`). */
export interface StoreFallbackMessage {
  store: string;
  error: unknown;
}

/** The channels, created once at load (a channel object is cheap; nothing is published without subscribers). */
export const dc: {
  provider: Channel;
  mint: TracingChannel<unknown, MintContext>;
  imsRequest: TracingChannel<unknown, ImsRequestContext>;
  store: TracingChannel<unknown, StoreContext>;
  invalidate: Channel;
  failover: Channel;
  secretReload: Channel;
  refreshError: Channel;
} = {
  provider: channel(DIAGNOSTICS_CHANNELS.provider),
  mint: tracingChannel<unknown, MintContext>(DIAGNOSTICS_CHANNELS.mint),
  imsRequest: tracingChannel<unknown, ImsRequestContext>(DIAGNOSTICS_CHANNELS.imsRequest),
  store: tracingChannel<unknown, StoreContext>(DIAGNOSTICS_CHANNELS.store),
  invalidate: channel(DIAGNOSTICS_CHANNELS.invalidate),
  failover: channel(DIAGNOSTICS_CHANNELS.failover),
  secretReload: channel(DIAGNOSTICS_CHANNELS.secretReload),
  refreshError: channel(DIAGNOSTICS_CHANNELS.refreshError),
};

/**
 * Runs `fn` traced on `tc` when someone listens (else just runs it). The context never receives `fn`'s value:
 * `summarize` copies what may be published (a token must not reach a subscriber through `context.result`).
 */
export function traced<T, C extends object>(
  tc: TracingChannel<unknown, C>,
  context: () => NoInfer<C>,
  fn: () => Promise<T>,
  summarize: (value: T, context: C) => unknown,
  onError?: (error: unknown, context: C) => void,
): Promise<T> {
  if (!tc.hasSubscribers) return fn();
  const ctx = context();
  let value: T;
  return tc
    .tracePromise(async () => {
      try {
        value = await fn();
      } catch (err) {
        onError?.(err, ctx);
        throw err;
      }
      return summarize(value, ctx);
    }, ctx)
    .then(() => value);
}

/**
 * What core publishes on its diagnostics channels, as far as this package reads it (core's README documents
 * the channels as a stable interface). Only the fields read here are declared; a message never carries a
 * token or a secret, and nothing here would record one if it did: every attribute is picked by name.
 */
import type { TokenProvider } from '@ims-token/core';

/** Fields in every message of core's channels. */
export interface BaseMessage {
  clientId: string;
  /** Sorted, comma-joined. */
  scopes: string;
  cacheKey: string;
}

/** `ims-token:provider`: a provider was created, or closed (`closed: true`). */
export interface ProviderMessage extends BaseMessage {
  provider: TokenProvider;
  closed?: boolean;
}

/** An error as the channels carry it: an `ImsTokenError` (read `.code`) or whatever a store threw. */
export interface ChannelError {
  code?: unknown;
  name?: unknown;
}

/** The context object of a TracingChannel operation; `error` is set when it failed. */
export interface TracedContext extends BaseMessage {
  error?: ChannelError;
}

/** `ims-token:mint` context. */
export interface MintContext extends TracedContext {
  reason?: string;
  background?: boolean;
  result?: { expiresAt?: number; issuedAt?: number; secretIndex?: number };
}

/** `ims-token:ims-request` context: one HTTP attempt. */
export interface ImsRequestContext extends TracedContext {
  url?: string;
  attempt?: number;
  secretIndex?: number;
  status?: number;
  debugId?: string;
}

/** `ims-token:store` context. */
export interface StoreContext extends TracedContext {
  op?: string;
  store?: string;
  hit?: boolean;
}

/** `ims-token:invalidate` */
export interface InvalidateMessage extends BaseMessage {
  verdict: string;
}

/** `ims-token:failover` */
export interface FailoverMessage extends BaseMessage {
  fromIndex: number;
  toIndex: number;
}

/** `ims-token:secret-reload` */
export interface SecretReloadMessage extends BaseMessage {
  source?: string;
  count?: number;
}

/** `ims-token:refresh-error` */
export interface RefreshErrorMessage extends BaseMessage {
  error?: ChannelError;
  expiresAt?: number;
}

/** `ims-token:store-fallback` (published by @ims-token/redis; no client fields). */
export interface StoreFallbackMessage {
  store?: string;
  error?: ChannelError;
}

/** The channel names (TEMPORARY: replaced by core's exported constants once core's diagnostics land). */
export const CHANNELS = {
  provider: 'ims-token:provider',
  mint: 'ims-token:mint',
  imsRequest: 'ims-token:ims-request',
  store: 'ims-token:store',
  invalidate: 'ims-token:invalidate',
  failover: 'ims-token:failover',
  secretReload: 'ims-token:secret-reload',
  refreshError: 'ims-token:refresh-error',
  storeFallback: 'ims-token:store-fallback',
} as const;

import type { Attributes } from '@opentelemetry/api';
import type { CredentialFields } from '@ims-token/core';

/**
 * Attribute keys. Our own live under `ims_token.*` (OpenTelemetry's rule for a system's own attributes);
 * `error.type` and the `http.*` ones are the registry's. Every value is low-cardinality: a client id and a scope
 * set per credential, enums, small integers. Never a token, a secret, a URL with a query or an error message.
 */
export const ATTR = {
  clientId: 'ims_token.client.id',
  scopes: 'ims_token.scopes',
  mintReason: 'ims_token.mint.reason',
  mintBackground: 'ims_token.mint.background',
  outcome: 'ims_token.outcome',
  verdict: 'ims_token.invalidation.verdict',
  secretIndex: 'ims_token.secret.index',
  fromIndex: 'ims_token.secret.from_index',
  toIndex: 'ims_token.secret.to_index',
  secretSource: 'ims_token.secret.source',
  storeName: 'ims_token.store.name',
  storeOperation: 'ims_token.store.operation',
  cacheResult: 'ims_token.cache.result',
  debugId: 'ims_token.debug_id',
  errorType: 'error.type',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  httpResendCount: 'http.request.resend_count',
  urlFull: 'url.full',
} as const;

/** `{ ims_token.client.id, ims_token.scopes }` of a message. */
export function credentialAttributes(m: CredentialFields): Attributes {
  return { [ATTR.clientId]: String(m.clientId), [ATTR.scopes]: String(m.scopes) };
}

/**
 * `error.type` of a failure: the stable `ImsTokenError` code (`IMS_TIMEOUT` …) or an error's class name, never its
 * message. `_OTHER` (the registry's fallback) when neither is a short identifier.
 */
export function errorType(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown } | null | undefined;
  for (const v of [e?.code, e?.name]) {
    if (typeof v === 'string' && /^[\w.-]{1,64}$/.test(v)) return v;
  }
  return '_OTHER';
}

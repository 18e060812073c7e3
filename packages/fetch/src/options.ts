import { configError } from '@ims-token/core';
import type { ImsAuthHeaders, Logger, TokenProvider } from '@ims-token/core';

/**
 * The part of a `TokenProvider` the adapters use (any copy of `@ims-token/core` will do):
 * `clientId`, `getAuthHeaders()` and `invalidate(token)`.
 *
 * @example
 * ```ts
 * const provider: ImsCredentialSource = createTokenProvider(fromEnv())
 * ```
 */
export type ImsCredentialSource = Pick<TokenProvider, 'clientId' | 'getAuthHeaders' | 'invalidate'>;

/**
 * What every adapter of this package takes: where tokens come from, where they may go, and where a warning
 * about a host that got none is written.
 *
 * @example
 * ```ts
 * const common: ImsCredentialOptions = { provider, allowedHosts: ['*.adobe.io'], logger: pino() }
 * ```
 */
export interface ImsCredentialOptions {
  /** Where tokens come from: a `TokenProvider` of `@ims-token/core`. */
  provider: ImsCredentialSource;
  /**
   * Hosts that get `Authorization` and `x-api-key`: exact names, IP literals or `*.suffix` patterns below a
   * registrable domain. HTTPS only, except plain http to a loopback host named exactly. Default: `['*.adobe.io']`.
   */
  allowedHosts?: readonly string[];
  /**
   * Gets one `warn(obj, msg)` per origin that answered `401` to a request sent without credentials because
   * its host is not allowed (pino-compatible). Default: one `process.emitWarning()` line on stderr.
   */
  logger?: Logger;
}

/** Checks the `provider` option; throws `IMS_CONFIG` naming it. */
export function checkProvider(options: unknown, fn: string): ImsCredentialSource {
  if (typeof options !== 'object' || options === null) {
    throw configError('options', `of ${fn}() must be an object: { provider } (a TokenProvider from @ims-token/core)`);
  }
  const p = (options as { provider?: unknown }).provider as Partial<ImsCredentialSource> | undefined;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.getAuthHeaders !== 'function' ||
    typeof p.invalidate !== 'function' ||
    typeof p.clientId !== 'string'
  ) {
    throw configError('provider', `of ${fn}() must be a TokenProvider from createTokenProvider() of @ims-token/core`);
  }
  return p as ImsCredentialSource;
}

/** Checks the `logger` option; throws `IMS_CONFIG` naming it. */
export function checkLogger(logger: unknown, fn: string): Logger | undefined {
  if (logger === undefined) return undefined;
  if (typeof logger !== 'object' || logger === null || typeof (logger as Logger).warn !== 'function') {
    throw configError('logger', `of ${fn}() must be a pino-compatible logger with a warn(obj, msg) method`);
  }
  return logger as Logger;
}

/** `Bearer <token>` → `<token>`. */
export function tokenOf(authorization: string): string {
  return authorization.slice(7);
}

/**
 * `provider.getAuthHeaders()`, answered synchronously when the provider hands back the very promise it
 * handed back last time (core's cached path does): a settled promise's value cannot change.
 */
export function authHeadersOf(provider: ImsCredentialSource): () => ImsAuthHeaders | Promise<ImsAuthHeaders> {
  let seen: Promise<ImsAuthHeaders> | undefined;
  let value: ImsAuthHeaders | undefined;
  return () => {
    const p = provider.getAuthHeaders();
    if (p === seen) return value!;
    return p.then((v) => {
      seen = p;
      value = v;
      return v;
    });
  };
}

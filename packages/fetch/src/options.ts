import { ImsTokenError } from '@ims-token/core';
import type { ImsAuthHeaders, TokenProvider } from '@ims-token/core';

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

/** Checks the `provider` option; throws `IMS_CONFIG` naming it. */
export function checkProvider(options: unknown, fn: string): ImsCredentialSource {
  if (typeof options !== 'object' || options === null) {
    throw new ImsTokenError('IMS_CONFIG', `${fn} needs an options object: { provider } (a TokenProvider from @ims-token/core).`);
  }
  const p = (options as { provider?: unknown }).provider as Partial<ImsCredentialSource> | undefined;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.getAuthHeaders !== 'function' ||
    typeof p.invalidate !== 'function' ||
    typeof p.clientId !== 'string'
  ) {
    throw new ImsTokenError(
      'IMS_CONFIG',
      `Invalid option provider: must be a TokenProvider from createTokenProvider() of @ims-token/core.`,
    );
  }
  return p as ImsCredentialSource;
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

/** Bits for the two credential headers a caller may have set itself. */
export const AUTH = 1;
export const KEY = 2;

/** `AUTH` for an `authorization` header name, `KEY` for `x-api-key`, else 0 (any case). */
export function credentialFlag(name: string): number {
  if (name.length === 13) return name.toLowerCase() === 'authorization' ? AUTH : 0;
  if (name.length === 9) return name.toLowerCase() === 'x-api-key' ? KEY : 0;
  return 0;
}

/** The credential headers to add when the caller set none of them, or only `x-api-key`. */
export function credentialsFor(own: number, auth: ImsAuthHeaders): Record<string, string> {
  return own & KEY ? { authorization: auth.authorization } : { authorization: auth.authorization, 'x-api-key': auth['x-api-key'] };
}

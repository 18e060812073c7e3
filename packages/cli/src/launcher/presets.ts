/**
 * Scope presets for `--preset` (an explicit `--scopes` wins over a preset).
 *
 * @example
 * ```ts
 * import { SCOPE_PRESETS } from '@ims-token/cli'
 * const provider = createTokenProvider({ ...fromEnv(), scopes: SCOPE_PRESETS.firefly })
 * ```
 */
export const SCOPE_PRESETS: Readonly<Record<'firefly' | 'io-management', string>> = Object.freeze({
  /** Firefly Services (Firefly API). */
  firefly: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis',
  /** The I/O Management API, needed to list, add and delete client secrets (rotation). */
  'io-management':
    'AdobeID,openid,read_organizations,additional_info.projectedProductContext,additional_info.roles,adobeio_api,read_client_secret,manage_client_secrets',
});

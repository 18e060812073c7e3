import type { Dispatcher } from 'undici';
import type { ClientSecretInput, Logger } from '../config';
import type { ImsToken } from '../token';

// The public shapes of the I/O Management API secrets client (its implementation is ./secrets-client.ts).

/**
 * The scopes an I/O Management API token needs to list, add and delete client secrets.
 * The credential has them only once the *I/O Management API* is added to its project in Adobe Developer Console.
 *
 * @example
 * ```ts
 * import { createTokenProvider, IO_MANAGEMENT_SCOPES } from '@ims-token/core'
 * const mgmt = createTokenProvider({ clientId, clientSecret, scopes: IO_MANAGEMENT_SCOPES })
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export const IO_MANAGEMENT_SCOPES: readonly string[] = Object.freeze([
  'AdobeID',
  'openid',
  'read_organizations',
  'additional_info.projectedProductContext',
  'additional_info.roles',
  'adobeio_api',
  'read_client_secret',
  'manage_client_secrets',
]);

/**
 * The I/O Management API base URL.
 *
 * @example
 * ```ts
 * createSecretsClient({ ...creds, managementUrl: DEFAULT_MANAGEMENT_URL })
 * ```
 */
export const DEFAULT_MANAGEMENT_URL = 'https://api.adobe.io';

/** Options of {@link createSecretsClient}. */
export interface SecretsClientOptions {
  /** The credential's client ID (API key). */
  clientId: string;
  /** The current client secret (or two, or a function returning them, as for `createTokenProvider`). */
  clientSecret: ClientSecretInput;
  /**
   * The numeric AMS org id (Adobe's example: `23294`): the number in the Developer Console URL of the credential,
   * `…/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/oauthservertoserver`. An IMS org code
   * (`…@AdobeOrg`) is accepted too: it is looked up once with `GET /console/organizations` (logged at `info`).
   */
  orgId: string;
  /** The credential ID of the OAuth Server-to-Server credential: the number after `/credentials/` in that URL. */
  credentialId: string;
  /** IMS base URL. Default `https://ims-na1.adobelogin.com`. */
  imsUrl?: string;
  /** I/O Management API base URL. Default `https://api.adobe.io`. Plain http only for a loopback host (the emulator). */
  managementUrl?: string;
  /** undici dispatcher for IMS and I/O Management API requests. Default: one keep-alive `Agent` per client. */
  dispatcher?: Dispatcher;
  /** Timeout of each HTTP request in ms. Default 10 000. */
  timeoutMs?: number;
  /** Retries after a network error, timeout, 5xx or 429. Default 3. Adding a secret is retried only when nothing can have been created. */
  maxRetries?: number;
  /** First backoff step in ms (full jitter, doubling). Default 250. */
  retryBaseDelayMs?: number;
  /** Longest wait between two tries, including a `Retry-After`. Default 30 000. */
  retryMaxDelayMs?: number;
  /** A pino-compatible logger. Default: silent. Never receives a secret or a full token. */
  logger?: Logger;
  /** The clock, in epoch ms (tests). Default `Date.now`. */
  clock?: () => number;
  /**
   * How long {@link SecretsClient.findCurrentClientSecret} keeps listing while `last_used_at` has not moved yet
   * (Adobe does not document how soon it does). Default 8 000.
   */
  lastUsedWaitMs?: number;
}

/** A client secret as the I/O Management API lists it (it never returns secret values). Times in epoch ms. */
export interface ClientSecretInfo {
  readonly uuid: string;
  readonly createdAt: number;
  readonly expiresAt: 'PERMANENT' | number;
  /** Last time a token was minted with it, or `undefined` when it was never used. */
  readonly lastUsedAt: number | undefined;
}

/**
 * A secret just added: the only place a secret value is ever returned.
 * `util.inspect` and `JSON.stringify` of it show `clientSecret` as `[redacted]`.
 */
export interface NewClientSecret {
  readonly uuid: string;
  readonly clientSecret: string;
  readonly createdAt: number;
}

/** Options of one secrets call. */
export interface SecretsCallOptions {
  signal?: AbortSignal;
}

/** A client for the I/O Management API client-secret endpoints of one credential. */
export interface SecretsClient {
  readonly clientId: string;
  /** The org ID as given: the numeric org id, or an `…@AdobeOrg` code (see {@link SecretsClient.resolveOrgId}). */
  readonly orgId: string;
  readonly credentialId: string;
  readonly imsUrl: string;
  readonly managementUrl: string;
  /** The numeric org id the secrets paths take: `orgId` itself, or the one its `…@AdobeOrg` code names (looked up once). */
  resolveOrgId(options?: SecretsCallOptions): Promise<string>;
  /** The credential's secrets, oldest first (no values). */
  listClientSecrets(options?: SecretsCallOptions): Promise<ClientSecretInfo[]>;
  /**
   * The secrets, and which of them this client authenticates with: with one secret, that one; with two, it
   * mints once more and lists again (for up to `lastUsedWaitMs` while `last_used_at` lags), and the secret whose
   * `last_used_at` moved is the current one (no clock comparison). `current` is `undefined` when that does not
   * single one out (both moved: another service minted with the other secret meanwhile; or neither in time).
   */
  findCurrentClientSecret(options?: SecretsCallOptions): Promise<{ secrets: ClientSecretInfo[]; current: ClientSecretInfo | undefined }>;
  /** Adds a secret (at most two exist: `IMS_SECRET_LIMIT` beyond). The only call that returns a secret value. */
  addClientSecret(options?: SecretsCallOptions): Promise<NewClientSecret>;
  /** Deletes a secret. Tokens already minted with it keep working until they expire. */
  deleteClientSecret(uuid: string, options?: SecretsCallOptions): Promise<void>;
  /** Releases the HTTP agent and the management token provider. */
  close(): Promise<void>;
}

/** What {@link rotateClientSecret} needs beyond the public surface. Not exported from the package. */
export interface SecretsClientInternals {
  readonly clientId: string;
  readonly imsUrl: string;
  readonly dispatcher: Dispatcher | undefined;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number | undefined;
  readonly retryBaseDelayMs: number | undefined;
  readonly retryMaxDelayMs: number | undefined;
  readonly logger: Required<Logger>;
  readonly clock: () => number;
  /** Mints a fresh management token with the current secret (touches its `last_used_at`). */
  mint(signal?: AbortSignal): Promise<ImsToken>;
}

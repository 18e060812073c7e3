/**
 * Every failure of ims-token is an {@link ImsTokenError} with a stable `code` from this closed set.
 * Callers branch on `code`, never on the message.
 */
export const ImsTokenErrorCode = {
  /** An option or environment variable is missing or invalid. Not retryable: fix the configuration. */
  CONFIG: 'IMS_CONFIG',
  /** IMS rejected the client id or the client secret (`invalid_client`). */
  INVALID_CLIENT: 'IMS_INVALID_CLIENT',
  /** IMS rejected a requested scope (`invalid_scope`). */
  INVALID_SCOPE: 'IMS_INVALID_SCOPE',
  /** IMS refused this client the grant (`unauthorized_client`, or HTTP 403). */
  UNAUTHORIZED_CLIENT: 'IMS_UNAUTHORIZED_CLIENT',
  /** IMS throttled us (HTTP 429). `retryAfterMs` holds its `Retry-After` when it sent one. */
  RATE_LIMITED: 'IMS_RATE_LIMITED',
  /** IMS answered with a 5xx. */
  SERVER_ERROR: 'IMS_SERVER_ERROR',
  /** The connection failed (DNS, refused, reset, TLS). */
  NETWORK: 'IMS_NETWORK',
  /** IMS did not answer within `timeoutMs`. */
  TIMEOUT: 'IMS_TIMEOUT',
  /** IMS answered something that is not a usable token response. */
  BAD_RESPONSE: 'IMS_BAD_RESPONSE',
  /** The caller's `AbortSignal` fired. */
  ABORTED: 'IMS_ABORTED',
  /** A string handed to {@link decodeImsToken} is not an IMS access token. */
  INVALID_TOKEN: 'IMS_INVALID_TOKEN',
  /** The provider was closed. */
  CLOSED: 'IMS_CLOSED',
  /** The I/O Management API refused (HTTP 403): the API is not added to the project, or the token lacks its scopes. */
  FORBIDDEN: 'IMS_FORBIDDEN',
  /** The I/O Management API does not know the organization, credential or secret (HTTP 404). */
  NOT_FOUND: 'IMS_NOT_FOUND',
  /** The credential already has the two secrets Adobe allows; one must be deleted before another is added. */
  SECRET_LIMIT: 'IMS_SECRET_LIMIT',
  /** A secret rotation stopped; the report says which step and what was undone. */
  ROTATION_FAILED: 'IMS_ROTATION_FAILED',
  /**
   * The token store (a `TokenStore` of yours, `FileStore`, `RedisStore`) failed where the provider could not
   * mint locally instead. A store that fails on a read or a write is a miss and only logged; this is the rest.
   */
  STORE: 'IMS_STORE',
} as const;

/** One of the stable error codes. */
export type ImsTokenErrorCode = (typeof ImsTokenErrorCode)[keyof typeof ImsTokenErrorCode];

const BRAND = Symbol.for('ims-token.ImsTokenError');

const HINTS: Record<ImsTokenErrorCode, string> = {
  IMS_CONFIG: 'Fix the named option or environment variable (see the README of @ims-token/core).',
  IMS_INVALID_CLIENT:
    'Check IMS_CLIENT_ID and IMS_CLIENT_SECRET against the OAuth Server-to-Server credential in Adobe Developer Console; the secret may have been rotated or deleted.',
  IMS_INVALID_SCOPE:
    'Request only scopes the credential has: Developer Console lists them under the OAuth Server-to-Server credential (IMS_SCOPES).',
  IMS_UNAUTHORIZED_CLIENT:
    'The credential may not use the client_credentials grant or is disabled; check the project in Adobe Developer Console.',
  IMS_RATE_LIMITED: 'IMS is throttling this integration; cache tokens (they live 24 h) and retry after the delay.',
  IMS_SERVER_ERROR: 'IMS is failing; this is retried automatically. Check https://status.adobe.com if it persists.',
  IMS_NETWORK: 'Could not reach IMS: check IMS_URL, DNS and outbound HTTPS from this host (set HTTPS_PROXY if it needs a proxy).',
  IMS_TIMEOUT: 'IMS did not answer in time; raise timeoutMs or check the network path to IMS.',
  IMS_BAD_RESPONSE: 'IMS answered something unexpected: check IMS_URL points at IMS (https://ims-na1.adobelogin.com).',
  IMS_ABORTED: 'The request was cancelled by its AbortSignal.',
  IMS_INVALID_TOKEN: 'Pass an IMS access token (a JWT with three dot-separated parts).',
  IMS_CLOSED: 'The token provider was closed; create a new one.',
  IMS_FORBIDDEN:
    'Add the I/O Management API to the project in Adobe Developer Console and request its scopes (read_client_secret, manage_client_secrets).',
  IMS_NOT_FOUND:
    'Check IMS_ORG_ID, the numeric org id (not the …@AdobeOrg code), and IMS_CREDENTIAL_ID: both are in the Developer Console URL of the credential, …/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/oauthservertoserver.',
  IMS_SECRET_LIMIT:
    'Adobe allows two secrets per credential: delete the one no service uses (listClientSecrets shows when each was last used), then add or rotate again.',
  IMS_STORE:
    'The token store failed: check what it depends on (the Redis server, the cache directory and its permissions); the error cause names what it threw.',
  IMS_ROTATION_FAILED:
    'Read the rotation report: every step says what was done and undone, and its reason says what to do next; the old secret was not deleted unless the report says so.',
};

/**
 * The hint of an `IMS_INVALID_CLIENT` whose description names `client_id` (`invalid client_id parameter`):
 * IMS does not know the client id, so no secret can help.
 */
export const INVALID_CLIENT_ID_HINT =
  "IMS does not know this client ID: check IMS_CLIENT_ID against the Client ID (API key) shown on the project's OAuth Server-to-Server credential in Adobe Developer Console.";

/** Fields an {@link ImsTokenError} may carry besides its code and message. */
export interface ImsTokenErrorDetails {
  /** HTTP status of the IMS answer, when there was one. */
  status?: number;
  /** IMS's `error` field, e.g. `invalid_client`. */
  imsError?: string;
  /** IMS's `error_description`, e.g. `invalid client_secret parameter`. */
  imsErrorDescription?: string;
  /** The `x-debug-id` header of the IMS answer: quote it in Adobe support tickets. */
  debugId?: string;
  /** Whether trying again later can succeed. */
  retryable?: boolean;
  /** How long IMS asked us to wait (`Retry-After`), in ms. */
  retryAfterMs?: number;
  /** A one-line fix for a person; defaults to the code's hint. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /**
   * The option, argument or environment variable at fault (`clientId`, `IMS_SCOPES`, `allowedHosts[1]` …),
   * for `IMS_CONFIG` errors. Programs map it (a CLI to its flag, a form to its input) instead of parsing the message.
   */
  field?: string;
}

const RETRYABLE: ReadonlySet<ImsTokenErrorCode> = new Set<ImsTokenErrorCode>([
  'IMS_RATE_LIMITED',
  'IMS_SERVER_ERROR',
  'IMS_NETWORK',
  'IMS_TIMEOUT',
]);

/**
 * The only error type ims-token throws. It never carries a client secret or a full access token.
 *
 * @example
 * ```ts
 * try { await provider.getToken() } catch (err) {
 *   if (ImsTokenError.is(err) && err.code === 'IMS_INVALID_CLIENT') alertOnCall(err.hint)
 * }
 * ```
 */
export class ImsTokenError extends Error {
  override readonly name = 'ImsTokenError';
  readonly code: ImsTokenErrorCode;
  readonly status: number | undefined;
  readonly imsError: string | undefined;
  readonly imsErrorDescription: string | undefined;
  readonly debugId: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly hint: string;
  /** The option, argument or environment variable at fault, when one is (`IMS_CONFIG`). Never its value. */
  readonly field: string | undefined;

  constructor(code: ImsTokenErrorCode, message: string, details: ImsTokenErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.imsError = details.imsError;
    this.imsErrorDescription = details.imsErrorDescription;
    this.debugId = details.debugId;
    this.retryable = details.retryable ?? RETRYABLE.has(code);
    this.retryAfterMs = details.retryAfterMs;
    this.hint = details.hint ?? HINTS[code];
    this.field = details.field;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for an `ImsTokenError` from any installed copy of `@ims-token/core`. */
  static is(value: unknown): value is ImsTokenError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** A plain, secret-free view for logs and API answers. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      hint: this.hint,
      status: this.status,
      imsError: this.imsError,
      imsErrorDescription: this.imsErrorDescription,
      debugId: this.debugId,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      field: this.field,
    };
  }
}

/**
 * The one way to report a bad option, argument or environment variable: an `IMS_CONFIG` error whose
 * message is `<field> <problem>.` and whose `field` names what is at fault, never its value.
 *
 * @example
 * ```ts
 * throw configError('timeoutMs', 'must be a whole number of milliseconds')
 * // ImsTokenError IMS_CONFIG: "timeoutMs must be a whole number of milliseconds." (err.field === 'timeoutMs')
 * ```
 */
export function configError(field: string, problem: string, options: { hint?: string; cause?: unknown } = {}): ImsTokenError {
  return new ImsTokenError('IMS_CONFIG', `${field} ${problem}.`, {
    field,
    hint:
      options.hint ??
      (/^[A-Z][A-Z0-9_]+$/.test(field)
        ? `Set ${field} in the environment of the process (or in the .env file your app or \`ims-token --env-file\` loads).`
        : `Fix the option ${field}: the README of the package you call lists every option.`),
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
  });
}

/**
 * The exit codes of `ims-token`, stable across releases (scripts branch on them).
 *
 * | code | meaning |
 * |---|---|
 * | 0 | ok |
 * | 1 | unexpected error (a bug: please report it) |
 * | 2 | usage or configuration error (a flag, an environment variable, a token that cannot be decoded) |
 * | 3 | IMS rejected the credentials (client id, secret, scopes, or the credential is disabled) |
 * | 4 | IMS unreachable or failing (network, DNS, TLS, timeout, 5xx, 429, an answer that is not a token) |
 * | 5 | `ims-token doctor` found a problem |
 * | 6 | the I/O Management API refused a `secrets` command: the project lacks the I/O Management API (`IMS_FORBIDDEN`), wrong org, credential or secret uuid (`IMS_NOT_FOUND`), two secrets already or the last one (`IMS_SECRET_LIMIT`) |
 * | 7 | `secrets rotate` failed after adding a secret (`IMS_ROTATION_FAILED`): the steps say what was undone (also: another rotation held the target's lock too long; nothing changed) |
 * | 130 | cancelled (Ctrl-C) |
 *
 * `ims-token exec` exits with its command's code (126 when it cannot be run, 127 when it is not found).
 *
 * @example
 * ```ts
 * import { run, EXIT_CODES } from '@ims-token/cli'
 * if ((await run(['token', '--json'])) === EXIT_CODES.CREDENTIALS) alert('the client secret was rejected')
 * ```
 */
export const EXIT_CODES = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  CREDENTIALS: 3,
  IMS_UNAVAILABLE: 4,
  DOCTOR_FAILED: 5,
  SECRETS_REFUSED: 6,
  ROTATION_FAILED: 7,
  CANCELLED: 130,
} as const;

/**
 * One of {@link EXIT_CODES}.
 *
 * @example
 * ```ts
 * const code: ExitCode = EXIT_CODES.USAGE
 * ```
 */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code for an `ImsTokenError` code. */
export function exitCodeFor(code: string): ExitCode {
  switch (code) {
    case 'IMS_CONFIG':
    case 'IMS_INVALID_TOKEN':
      return EXIT_CODES.USAGE;
    case 'IMS_INVALID_CLIENT':
    case 'IMS_INVALID_SCOPE':
    case 'IMS_UNAUTHORIZED_CLIENT':
      return EXIT_CODES.CREDENTIALS;
    case 'IMS_RATE_LIMITED':
    case 'IMS_SERVER_ERROR':
    case 'IMS_NETWORK':
    case 'IMS_TIMEOUT':
    case 'IMS_BAD_RESPONSE':
      return EXIT_CODES.IMS_UNAVAILABLE;
    case 'IMS_FORBIDDEN':
    case 'IMS_NOT_FOUND':
    case 'IMS_SECRET_LIMIT':
      return EXIT_CODES.SECRETS_REFUSED;
    case 'IMS_ROTATION_FAILED':
      return EXIT_CODES.ROTATION_FAILED;
    case 'IMS_ABORTED':
      return EXIT_CODES.CANCELLED;
    default:
      return EXIT_CODES.UNEXPECTED;
  }
}

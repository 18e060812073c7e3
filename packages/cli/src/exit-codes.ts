import type { ImsTokenErrorCode } from '@ims-token/core';
/**
 * The exit codes of `ims-token`, stable across releases (scripts branch on them). What each means is
 * {@link EXIT_CODE_DOCS}, the one source of the table in `ims-token help exit-codes` and in the README.
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

/**
 * The exit code for each `ImsTokenError` code: a `Record` over core's codes, so a code core adds cannot reach
 * users as "unexpected error" unnoticed — the CLI stops compiling until it is placed here.
 */
const EXIT_CODE_OF: Record<ImsTokenErrorCode, ExitCode> = {
  IMS_CONFIG: EXIT_CODES.USAGE,
  IMS_INVALID_TOKEN: EXIT_CODES.USAGE,
  IMS_STORE: EXIT_CODES.USAGE,
  IMS_INVALID_CLIENT: EXIT_CODES.CREDENTIALS,
  IMS_INVALID_SCOPE: EXIT_CODES.CREDENTIALS,
  IMS_UNAUTHORIZED_CLIENT: EXIT_CODES.CREDENTIALS,
  IMS_RATE_LIMITED: EXIT_CODES.IMS_UNAVAILABLE,
  IMS_SERVER_ERROR: EXIT_CODES.IMS_UNAVAILABLE,
  IMS_NETWORK: EXIT_CODES.IMS_UNAVAILABLE,
  IMS_TIMEOUT: EXIT_CODES.IMS_UNAVAILABLE,
  IMS_BAD_RESPONSE: EXIT_CODES.IMS_UNAVAILABLE,
  IMS_FORBIDDEN: EXIT_CODES.SECRETS_REFUSED,
  IMS_NOT_FOUND: EXIT_CODES.SECRETS_REFUSED,
  IMS_SECRET_LIMIT: EXIT_CODES.SECRETS_REFUSED,
  IMS_ROTATION_FAILED: EXIT_CODES.ROTATION_FAILED,
  IMS_ABORTED: EXIT_CODES.CANCELLED,
  IMS_CLOSED: EXIT_CODES.UNEXPECTED,
};

/** The exit code for an `ImsTokenError` code (an unknown code — from a newer core — is `UNEXPECTED`). */
export function exitCodeFor(code: ImsTokenErrorCode | (string & {})): ExitCode {
  return Object.hasOwn(EXIT_CODE_OF, code) ? EXIT_CODE_OF[code as ImsTokenErrorCode] : EXIT_CODES.UNEXPECTED;
}

/**
 * What each exit code means: the rows of the exit-code table (`ims-token help exit-codes`, the README's
 * "Exit codes"). `code` is a number or, for `exec`, a description.
 *
 * @example
 * ```ts
 * EXIT_CODE_DOCS.find((r) => r.code === EXIT_CODES.USAGE)?.meaning
 * ```
 */
export const EXIT_CODE_DOCS: ReadonlyArray<{ readonly code: number | string; readonly meaning: string }> = [
  { code: EXIT_CODES.OK, meaning: 'ok' },
  { code: EXIT_CODES.UNEXPECTED, meaning: 'unexpected error (please report it)' },
  {
    code: EXIT_CODES.USAGE,
    meaning:
      'usage or configuration error (an option, a variable, a token that cannot be decoded, an existing file `init` may not change, a token cache that is not yours or cannot be used: `IMS_STORE`)',
  },
  {
    code: EXIT_CODES.CREDENTIALS,
    meaning: 'IMS rejected the credentials: `IMS_INVALID_CLIENT`, `IMS_INVALID_SCOPE`, `IMS_UNAUTHORIZED_CLIENT`',
  },
  {
    code: EXIT_CODES.IMS_UNAVAILABLE,
    meaning: 'IMS unreachable or failing: `IMS_NETWORK`, `IMS_TIMEOUT`, `IMS_SERVER_ERROR`, `IMS_RATE_LIMITED`, `IMS_BAD_RESPONSE`',
  },
  { code: EXIT_CODES.DOCTOR_FAILED, meaning: '`doctor` found a problem' },
  {
    code: EXIT_CODES.SECRETS_REFUSED,
    meaning:
      'the I/O Management API refused a `secrets` command: `IMS_FORBIDDEN` (add the I/O Management API to the project), `IMS_NOT_FOUND` (wrong org ID, credential ID or secret uuid), `IMS_SECRET_LIMIT` (two secrets already; or `delete` of the last one). Nothing was changed',
  },
  {
    code: EXIT_CODES.ROTATION_FAILED,
    meaning:
      "`secrets rotate` failed after adding a secret: `IMS_ROTATION_FAILED` (verifying or storing the new secret failed and it was deleted again — the message says if that failed too —, or deleting the old secret failed after the new one was stored; also when another rotation held the target's lock for over 2 minutes, and nothing was changed)",
  },
  { code: "126 / 127, or the command's", meaning: "`exec`: cannot run / not found / the command's own exit code" },
  {
    code: EXIT_CODES.CANCELLED,
    meaning: 'cancelled (Ctrl-C at an `init` or `secrets delete` prompt, or during `secrets rotate`, which deletes a secret it added)',
  },
];

/**
 * The exit-code table as Markdown (`markdown`, the README's) or as text for a terminal (`text`, wrapped).
 *
 * @example
 * ```ts
 * process.stdout.write(exitCodeTable('text'))
 * ```
 */
export function exitCodeTable(format: 'markdown' | 'text'): string {
  if (format === 'markdown') {
    return `| code | meaning |\n|---|---|\n${EXIT_CODE_DOCS.map((r) => `| ${r.code} | ${r.meaning} |\n`).join('')}`;
  }
  const rows = EXIT_CODE_DOCS.map(
    (r) => [String(r.code).replace("126 / 127, or the command's", '126/127'), r.meaning.replace(/`/g, '')] as const,
  );
  const width = Math.max(...rows.map(([c]) => c.length));
  const wrap = (text: string, indent: number): string => {
    const lines: string[] = [];
    let line = '';
    for (const word of text.split(' ')) {
      if (line && line.length + word.length + 1 > 100 - indent) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
    return lines.join(`\n${' '.repeat(indent)}`);
  };
  return `Exit codes:\n${rows.map(([c, m]) => `  ${c.padEnd(width)}  ${wrap(m, width + 4)}\n`).join('')}`;
}

import { serveUntil } from '@ims-token/core';
import type { ImsToken } from '@ims-token/core';
import { captureLogger, renderings } from '@ims-token/test-kit';
import type { CapturedLogger } from '@ims-token/test-kit';

/** One line of the table. */
export interface Row {
  scenario: string;
  /** Calls that got what they asked for (a token, or the API's answer to a good call). */
  served: number;
  /** Calls that failed (an error, or a good API call answered with anything but 200). */
  failed: number;
  /** Of those, failures at a moment when a token that could still be served existed (the goal is 0). */
  failedWhileValid: number;
  /** Tokens handed out whose `expiresAt` ≤ the clock's now at hand-out (the goal is 0). */
  expired: number;
  /** Tokens the emulator minted during the scenario. */
  mints: number;
  /** The bound the scenario asserts on `mints`, as text (e.g. `≤ 3`). */
  mintBound: string;
  /** Secrets and full tokens found in any output: logger lines, errors, reports, the emulator's and Redis's output. */
  leaks: number;
  /** What else the scenario saw. */
  note: string;
  /** Set when a goal is not met because of a known defect (the scenario's test is then marked `it.fails`). */
  knownFailure?: string;
}

/**
 * Counts what one scenario's callers got, against the scenario's clock, and gathers every output for the leak scan.
 * All the scenario's providers share its `logger`.
 */
export class Meter {
  served = 0;
  failed = 0;
  failedWhileValid = 0;
  expired = 0;
  /** Every full token handed out, and every secret in play: none may appear in any output. */
  readonly secrets = new Set<string>();
  readonly tokens = new Set<string>();
  /** Outputs besides the logger's lines: error renderings, reports, server output. */
  readonly texts: string[] = [];
  readonly log: CapturedLogger = captureLogger();
  /** The latest `serveUntil` of any token handed out: before it, a servable token existed. */
  #validUntil = -Infinity;
  #errorCodes = new Map<string, number>();

  constructor(
    private readonly clock: () => number,
    secrets: readonly string[] = [],
  ) {
    for (const s of secrets) this.secrets.add(s);
  }

  /** Records a token handed out now. */
  token(t: ImsToken): void {
    this.served++;
    this.tokens.add(t.accessToken);
    if (t.expiresAt <= this.clock()) this.expired++;
    this.#validUntil = Math.max(this.#validUntil, serveUntil(t));
  }

  /**
   * Records a failed call (its error is kept for the leak scan). `validExisted` says whether a servable token existed,
   * for callers that never see the token (API calls); by default, whether one handed out earlier is still servable.
   */
  failure(err: unknown, validExisted = this.clock() < this.#validUntil): void {
    this.failed++;
    if (validExisted) this.failedWhileValid++;
    this.texts.push(renderings(err));
    const code = (err as { code?: unknown })?.code;
    const key = typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
    this.#errorCodes.set(key, (this.#errorCodes.get(key) ?? 0) + 1);
  }

  /** Runs one caller: a token or a failure. */
  async call(get: () => Promise<ImsToken>): Promise<ImsToken | undefined> {
    try {
      const t = await get();
      this.token(t);
      return t;
    } catch (err) {
      this.failure(err);
      return undefined;
    }
  }

  /** How often each error code was seen, e.g. `IMS_SERVER_ERROR×2`. */
  errorSummary(): string {
    return [...this.#errorCodes].map(([code, n]) => `${code}×${n}`).join(', ');
  }

  /** How many secrets and full tokens appear anywhere in the outputs (each value found counts once). */
  leaks(extra: readonly string[] = []): number {
    const text = [...this.log.lines, ...this.texts, ...extra].join('\n');
    let found = 0;
    for (const s of [...this.secrets, ...this.tokens]) if (s && text.includes(s)) found++;
    return found;
  }
}

function cell(v: string | number): string {
  return String(v).replace(/\|/g, '\\|');
}

/** The table as Markdown: one line per scenario. */
export function renderTable(rows: readonly Row[], title: string): string {
  const head = [
    'scenario',
    'served',
    'failed',
    'failed while a valid token existed',
    'expired served',
    'mints',
    'mint bound',
    'leaks',
    'notes',
  ];
  const lines = [
    `### ${title}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? '---' : '---:')).join('|')}|`,
  ];
  for (const r of rows) {
    const note = r.knownFailure ? `**KNOWN FAILURE:** ${r.knownFailure}; ${r.note}` : r.note;
    lines.push(
      `| ${[r.scenario, r.served, r.failed, r.failedWhileValid, r.expired, r.mints, r.mintBound, r.leaks, note].map(cell).join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

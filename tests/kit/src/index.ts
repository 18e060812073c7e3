import { inspect } from 'node:util';

/** The logger shape of core's `Logger` (pino-like), without depending on core. */
export interface LineLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that keeps every call, all levels, as text; it is also reachable as `.logger`. */
export interface CapturedLogger extends LineLogger {
  readonly lines: string[];
  readonly logger: LineLogger;
}

/** A pino-like logger that keeps every call as one line of text (level, JSON object, message), for leak scans. */
export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const put =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`);
    };
  const logger: LineLogger = { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') };
  return { ...logger, lines, logger };
}

/** Every way a value can be shown: `util.inspect` (hidden too), JSON, and for errors message, stack and cause chain. */
export function renderings(value: unknown): string {
  const parts: string[] = [inspect(value, { depth: 10, showHidden: true })];
  try {
    parts.push(JSON.stringify(value));
  } catch {
    // cycles, BigInt
  }
  let e: unknown = value;
  for (let i = 0; i < 8 && e !== undefined && e !== null; i++) {
    if (e instanceof Error) parts.push(e.message, String(e.stack));
    else if (i > 0) parts.push(inspect(e), String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/** Fails when any of `secrets` (client secrets, access tokens) appears in `text`; the message shows 4 characters at most. */
export function expectNoLeak(text: string, secrets: readonly (string | undefined)[]): void {
  for (const s of secrets) {
    if (s && text.includes(s))
      throw new Error(`leaked a secret or token (${s.slice(0, 4)}…) in: ${text.slice(0, 200).split(s).join('[LEAK]')}`);
  }
}

export { callWithOneRetry, startApiStandIn, tokenOf, GATEWAY_401 } from './unauthorized';
export type { ApiStandIn, AuthHeadersLike, RetryOutcome, UnauthorizedSource } from './unauthorized';

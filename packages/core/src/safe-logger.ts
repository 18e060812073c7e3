import type { Logger } from './config';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const noop = (): void => {};

/**
 * The caller's logger (methods it lacks are silent) with every call guarded, as event listeners are: a
 * logger that throws (a closed transport, a bug) must not turn a log line into a failed `getToken()`, a
 * rotation stopped half-way or, in a background refresh, an unhandled rejection that ends the process. What
 * it threw is dropped: there is nowhere left to report it.
 */
export function guardLogger(logger: Logger | undefined): Required<Logger> {
  const guarded = {} as Required<Logger>;
  for (const level of LEVELS) {
    const f = logger?.[level];
    guarded[level] =
      typeof f !== 'function'
        ? noop
        : (obj: object, msg?: string): void => {
            try {
              f.call(logger, obj, msg);
            } catch {
              // see above
            }
          };
  }
  return guarded;
}

import { ImsTokenError } from './errors';
import { backoffDelay } from './http';
import { sleep } from './sleep';

/** How {@link withRetries} retries. */
export interface RetryPolicy {
  /** Retries after the first try (so at most `maxRetries + 1` tries). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Ends a wait between tries at once, with `stopped()`. */
  signal?: AbortSignal | undefined;
  stopped: () => ImsTokenError;
  /** A further condition on a retryable error (a POST is repeated only when that is known to be safe). */
  canRetry?: (error: ImsTokenError) => boolean;
  /** Told before each wait: the error, the 1-based try that failed, the delay. */
  onRetry?: (error: ImsTokenError, attempt: number, delayMs: number) => void;
}

/**
 * The one retry loop of core (IMS token requests, I/O Management API calls): runs `fn` (given the 0-based try),
 * and retries an `ImsTokenError` that is `retryable` with exponential backoff and full jitter, honouring its
 * `retryAfterMs` (a `Retry-After` longer than `maxDelayMs` ends the retries). Anything else is thrown at once.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!ImsTokenError.is(err)) throw err;
      const delay =
        err.retryable && attempt < policy.maxRetries && (policy.canRetry?.(err) ?? true)
          ? backoffDelay(attempt, policy.baseDelayMs, policy.maxDelayMs, err.retryAfterMs)
          : undefined;
      if (delay === undefined) throw err;
      policy.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, policy.signal, policy.stopped);
    }
  }
}

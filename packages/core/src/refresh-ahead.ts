import { dc } from './diagnostics';
import type { Entry } from './entry';
import { ImsTokenError } from './errors';
import { emitEvent } from './provider-context';
import type { ProviderContext } from './provider-context';
import { backgroundFailure } from './store-access';

/**
 * Refresh-ahead: in its refresh window the cached token is still served while one background fetch gets the
 * next. Nobody waits for that fetch, so its failure is reported here — a warning, `ims-token:refresh-error`,
 * the `refresh-error` event — and the next try waits a pause, well before the token stops being served.
 */
export class RefreshAhead {
  readonly #ctx: ProviderContext;
  readonly #fetch: () => Promise<Entry>;
  readonly #current: () => Entry | undefined;
  #nextAt = 0;

  /** `current` is the entry served meanwhile; `fetch` starts the background fetch. */
  constructor(ctx: ProviderContext, current: () => Entry | undefined, fetch: () => Promise<Entry>) {
    this.#ctx = ctx;
    this.#fetch = fetch;
    this.#current = current;
  }

  /** Starts a background fetch, unless one is in flight (`busy`) or a failed one's pause is not over. */
  start(now: number, busy: boolean): void {
    if (busy || now < this.#nextAt) return;
    this.#ctx.counters.backgroundRefreshes++;
    this.#fetch().catch((err: unknown) => this.#failed(err));
  }

  /** A token was taken into use: its window may start a fetch at once. */
  reset(): void {
    this.#nextAt = 0;
  }

  #failed(err: unknown): void {
    const o = this.#ctx;
    const error = ImsTokenError.is(err) ? err : backgroundFailure(err);
    o.counters.refreshFailures++;
    const e = this.#current();
    // Try again after a pause, well before the current token stops being served.
    const left = e ? e.serveUntil - o.clock() : 0;
    this.#nextAt = o.clock() + Math.max(50, Math.min(30_000, left / 4, error.retryAfterMs ?? Infinity));
    o.logger.warn(
      { code: error.code, debugId: error.debugId, servingUntil: e?.serveUntil },
      'ims-token: background refresh failed; still serving the current token',
    );
    if (dc.refreshError.hasSubscribers) dc.refreshError.publish({ ...o.fields, error, expiresAt: e?.token.expiresAt });
    emitEvent(o, 'refresh-error', error);
  }
}

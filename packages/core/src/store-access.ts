import type { Logger } from './config';
import { dc, traced } from './diagnostics';
import type { CredentialFields, StoreOp } from './diagnostics';
import { ImsTokenError } from './errors';
import type { TokenStore } from './store';
import type { ImsToken } from './token';

/** The name and code of what was thrown, never its message (a store's message may quote a URL with a password). */
export function causeOf(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  return Object.assign(new Error(String(code ?? err.name)), { name: err.name, ...(code !== undefined ? { code } : {}) });
}

/**
 * The provider's way to its {@link TokenStore}: every call traced on `ims-token:store` (when someone listens),
 * and what a store throws outside an `ImsTokenError` turned into an honest `IMS_STORE` (an `ImsTokenError` —
 * a FileStore's `IMS_CONFIG`, a lock waiter's `IMS_ABORTED`, the lock holder's mint — passes as is).
 */
export class StoreAccess {
  readonly store: TokenStore;
  readonly #key: string;
  readonly #name: string;
  readonly #dc: CredentialFields;
  readonly #logger: Required<Logger>;
  readonly #counters: { storeErrors: number };

  constructor(store: TokenStore, key: string, fields: CredentialFields, logger: Required<Logger>, counters: { storeErrors: number }) {
    this.store = store;
    this.#key = key;
    this.#name = (store as { constructor?: { name?: string } }).constructor?.name ?? 'Object';
    this.#dc = fields;
    this.#logger = logger;
    this.#counters = counters;
  }

  /** `undefined` when the store has no `withLock`. */
  withLock<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> | undefined {
    const withLock = this.store.withLock;
    if (typeof withLock !== 'function') return undefined;
    return this.#call('lock', () =>
      withLock.call<TokenStore, [string, () => Promise<T>, { signal: AbortSignal }], Promise<T>>(this.store, this.#key, fn, { signal }),
    );
  }

  /** The store's `get()`, with a failure logged as a miss; a store's `IMS_CONFIG` (a cache directory it must not use) is thrown. */
  async read(): Promise<ImsToken | undefined> {
    try {
      return await this.#call('get', () => this.store.get(this.#key));
    } catch (err) {
      if (ImsTokenError.is(err) && err.code === 'IMS_CONFIG') throw err;
      this.failed('get', err);
      return undefined;
    }
  }

  /** The store's `set()`, with a failure logged: the provider goes on without the store. */
  async write(token: ImsToken): Promise<void> {
    await this.#call('set', () => this.store.set(this.#key, token)).catch((err: unknown) => this.failed('set', err));
  }

  /** The store's `delete()`, with a failure logged, as {@link write}. */
  async remove(accessToken: string | undefined): Promise<void> {
    await this.#call('delete', () => this.store.delete(this.#key, accessToken)).catch((err: unknown) => this.failed('delete', err));
  }

  /** A store call failed and the provider goes on without it: count and log it (the code, never the message). */
  failed(op: StoreOp, err: unknown): void {
    this.#counters.storeErrors++;
    const e = (ImsTokenError.is(err) && err.code === 'IMS_STORE' ? err.cause : err) as { code?: unknown; name?: unknown };
    this.#logger.warn(
      { op, error: String(e?.code ?? e?.name ?? 'error') },
      'ims-token: token store failed; minting locally (availability over sharing)',
    );
  }

  #call<T>(op: StoreOp, fn: () => Promise<T>): Promise<T> {
    const call = traced(
      dc.store,
      () => ({ ...this.#dc, op, store: this.#name }),
      async () => fn(), // (a store that throws synchronously rejects like any other)
      (value, ctx) => {
        if (op === 'get') ctx.hit = value !== undefined;
      },
    );
    return call.catch((err: unknown) => {
      if (ImsTokenError.is(err)) throw err;
      const what = String((err as { code?: unknown })?.code ?? (err as Error)?.name ?? 'an error');
      throw new ImsTokenError('IMS_STORE', `The token store (${this.#name}) failed (${op}): ${what}.`, {
        cause: causeOf(err),
        retryable: true,
      });
    });
  }
}

/**
 * A background refresh that failed with something other than an ImsTokenError. The only outside code on that
 * path is the store (the logger and listeners are guarded, a secret function's error is IMS_CONFIG, a store's
 * error is already IMS_STORE), so that is what it is called: never a network failure with a DNS hint.
 */
export function backgroundFailure(err: unknown): ImsTokenError {
  return new ImsTokenError('IMS_STORE', `The background refresh failed: ${String((err as Error)?.name ?? 'error')}.`, {
    cause: causeOf(err),
  });
}

import { ImsTokenError } from './errors';

/**
 * Lets callers stop waiting for a shared promise with their own `AbortSignal`. One 'abort' listener per
 * signal, however many calls wait with it: a long-lived signal shared by many concurrent calls must not
 * trigger `MaxListenersExceededWarning`.
 */
export class AbortableWaits {
  readonly #waiters = new WeakMap<AbortSignal, Set<() => void>>();

  /** `shared`, or `IMS_ABORTED` as soon as `signal` aborts (the shared work goes on for the others). */
  wait<T>(shared: Promise<T>, signal: AbortSignal): Promise<T> {
    let waiting = this.#waiters.get(signal);
    if (!waiting) {
      const set = (waiting = new Set());
      this.#waiters.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          this.#waiters.delete(signal);
          for (const cancel of set) cancel();
        },
        { once: true },
      );
    }
    const set = waiting;
    return new Promise<T>((resolve, reject) => {
      const cancel = (): void => reject(new ImsTokenError('IMS_ABORTED', 'getToken() was cancelled by its AbortSignal.'));
      set.add(cancel);
      shared.then(resolve, reject).finally(() => set.delete(cancel));
    });
  }
}

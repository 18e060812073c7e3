/** A minimal typed event emitter: `on()` returns its own unsubscribe function. */
export class Emitter<Events extends { [K in keyof Events]: (arg: never) => void }> {
  readonly #listeners = new Map<keyof Events, Set<(arg: never) => void>>();

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof Events>(event: K, arg: Parameters<Events[K]>[0], onListenerError: (err: unknown) => void): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of set) {
      try {
        (l as (a: typeof arg) => void)(arg);
      } catch (err) {
        onListenerError(err);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

import type { Attributes, BatchObservableCallback, BatchObservableResult } from '@opentelemetry/api';
import type { ProviderMessage, TokenProvider } from '@ims-token/core';
import { ATTR } from './attributes';
import type { Instruments } from './metrics';

/**
 * The providers announced on `ims-token:provider`, held weakly: instrumenting never keeps a provider alive,
 * and one that closed (or was collected) stops being observed at the next collection.
 */
export class ProviderRegistry {
  readonly #refs = new Set<WeakRef<TokenProvider>>();
  readonly #known = new WeakSet<TokenProvider>();

  onMessage(m: ProviderMessage): void {
    const p = m.provider;
    if (!p || typeof p.status !== 'function') return;
    if (m.closed) {
      this.#known.delete(p);
      for (const ref of this.#refs) if (ref.deref() === p) this.#refs.delete(ref);
    } else if (!this.#known.has(p)) {
      this.#known.add(p);
      this.#refs.add(new WeakRef(p));
    }
  }

  clear(): void {
    this.#refs.clear();
  }

  /** The observable instruments' callback: one `status()` per live provider per collection. */
  callback(i: Instruments): BatchObservableCallback {
    return (result: BatchObservableResult): void => {
      // Providers of one credential (same client and scopes) share one series: calls add up, the shortest
      // remaining life and the highest secret index win, so an operator sees the worst of them.
      const series = new Map<
        string,
        { attrs: Attributes; hits: number; misses: number; remaining?: number; lifetime?: number; index?: number }
      >();
      for (const ref of this.#refs) {
        const p = ref.deref();
        if (!p) {
          this.#refs.delete(ref);
          continue;
        }
        let s: ReturnType<TokenProvider['status']>;
        try {
          s = p.status();
        } catch {
          continue; // a closed or broken provider reports nothing rather than failing the whole collection
        }
        if (s.state === 'closed') {
          this.#refs.delete(ref);
          continue;
        }
        const scopes = [...s.scopes].sort().join(',');
        const key = `${s.clientId}\n${scopes}`;
        let e = series.get(key);
        if (!e) series.set(key, (e = { attrs: { [ATTR.clientId]: s.clientId, [ATTR.scopes]: scopes }, hits: 0, misses: 0 }));
        e.hits += s.counters.hits;
        e.misses += s.counters.misses;
        if (s.expiresInMs !== undefined) e.remaining = Math.min(e.remaining ?? Infinity, s.expiresInMs / 1000);
        if (s.expiresAt !== undefined && s.issuedAt !== undefined)
          e.lifetime = Math.max(e.lifetime ?? 0, (s.expiresAt - s.issuedAt) / 1000);
        if (s.secret.count > 0) e.index = Math.max(e.index ?? 0, s.secret.index);
      }
      for (const e of series.values()) {
        result.observe(i.getTokenCalls, e.hits, { ...e.attrs, [ATTR.cacheResult]: 'hit' });
        result.observe(i.getTokenCalls, e.misses, { ...e.attrs, [ATTR.cacheResult]: 'miss' });
        if (e.remaining !== undefined) result.observe(i.remainingLife, e.remaining, e.attrs);
        if (e.lifetime !== undefined) result.observe(i.lifetime, e.lifetime, e.attrs);
        if (e.index !== undefined) result.observe(i.secretIndex, e.index, e.attrs);
      }
    };
  }
}

import { dc } from './diagnostics';
import type { InvalidateVerdict } from './diagnostics';
import type { Entry } from './entry';
import type { ProviderContext } from './provider-context';
import { redactToken } from './redact';
import { UnauthorizedPolicy } from './unauthorized';

/**
 * What a 401-driven `invalidate(token)` does to the provider's token: `stale` — nothing, it was already
 * replaced (the caller retries with the current one); `refuse` — nothing, the caller passes the 401 on;
 * `reread` — drop it from memory and read the store again; `drop` — drop it and delete it from the store.
 */
export type Invalidation = 'stale' | 'refuse' | 'reread' | 'drop';

/**
 * The provider's side of the 401 policy ({@link UnauthorizedPolicy}): which token a 401 is judged by, and
 * what each verdict is reported as (diagnostics, counters, the back-off warning). Synchronous, like the policy.
 */
export class ProviderUnauthorized extends UnauthorizedPolicy {
  readonly #ctx: ProviderContext;

  constructor(ctx: ProviderContext) {
    super(ctx.clock);
    this.#ctx = ctx;
  }

  /** An operator's drop of `current` (`invalidate()`): unconditional, whatever the back-off says. */
  operatorDrop(current: Entry | undefined): void {
    if (current) this.remember(current.token.accessToken);
    this.dropped();
  }

  /** A 401 for `accessToken`, while the provider holds `current` (and last used `last`). */
  judge(accessToken: string, current: Entry | undefined, last: Entry | undefined): Invalidation {
    if (current ? current.token.accessToken !== accessToken : this.wasDropped(accessToken) || this.replacing(accessToken)) {
      this.#publish('stale');
      return 'stale';
    }
    // Without a cached token (dropped for its age while this request was in flight), judge by the last one.
    const known = current ?? (last?.token.accessToken === accessToken ? last : undefined);
    const verdict = this.onUnauthorized(
      known ? { accessToken, issuedAt: known.token.issuedAt, source: known.source, serveUntil: known.serveUntil } : accessToken,
    );
    this.#publish(verdict === 'strike' ? 'refuse' : verdict, verdict === 'strike');
    if (verdict === 'refuse' || verdict === 'strike') {
      this.#ctx.counters.invalidationsRefused++;
      if (verdict === 'strike') {
        const b = this.backoff();
        this.#ctx.logger.warn(
          { token: redactToken(accessToken), backoffUntil: b?.until, level: b?.level },
          'ims-token: an API refused a freshly refreshed token too (401): the 401 is not about the token; 401s will not refresh it during the back-off',
        );
      }
      return 'refuse';
    }
    this.#ctx.counters.invalidations++;
    if (verdict === 'reread') return 'reread';
    this.remember(accessToken);
    return 'drop';
  }

  #publish(verdict: InvalidateVerdict, strike = false): void {
    if (dc.invalidate.hasSubscribers) dc.invalidate.publish({ ...this.#ctx.fields, verdict, ...(strike ? { strike: true } : {}) });
  }
}

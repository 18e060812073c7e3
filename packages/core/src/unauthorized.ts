/**
 * The 401 policy: when may an API's 401 make the provider drop its token and get another?
 *
 * A 401 can mean the token is bad (revoked, say) — then a fresh token cures it — or it can be about
 * something else (a path that always answers 401, a misconfigured gateway, a hostile client of ours) —
 * then every refresh is an IMS mint for nothing, and a client could turn its requests into mints.
 * One rule, applied here for every adapter and every store:
 *
 * - The first 401 for the current token drops it: the caller retries once with a fresh one (`refresh`).
 * - The token that replaced it is **on probation** for {@link PROBATION_MS}. A 401 for it proves a fresh
 *   token does not cure this 401: that is a **strike**. The 401 is passed on and, for a back-off period,
 *   401s cause no refresh at all (`refuse`): the token is kept, the store is left alone. Adapters do not
 *   report the 401 of their one retry, so the strike usually comes with the next request's 401 for that
 *   token; hence a probation of minutes, not seconds — it also holds an attacker who sends one request a
 *   minute to about one mint per back-off period instead of one per request.
 * - The back-off is {@link BACKOFF_BASE_MS} after the first strike and doubles with each strike up to
 *   {@link BACKOFF_MAX_MS}. When it ends, the next 401 may refresh once more (a probe); if that fresh token
 *   is refused too, the next, longer back-off starts.
 * - Quiet time lowers it again: every {@link QUIET_MS} after a back-off ended without a new strike takes
 *   one step off (halves the next back-off).
 * - A 401 for a token already past its serving window (it expired in flight: short-lived tokens under
 *   load) is explained by its age. It is always refreshed — it would be replaced anyway — and counts as
 *   nothing: no strike, no probation, not held back by a back-off.
 *
 * A fleet sharing a store: every process keeps its own back-off, so each could still mint once per
 * period — and a process joining late (or whose first 401 comes later) would delete the token the others
 * just shared and mint again. So a 401 for a token **this process took from the store** (another process
 * minted it) that was issued within the current back-off period (at least {@link BACKOFF_BASE_MS}) neither
 * deletes it from the store nor marks it refused: the process re-reads the store (`reread`), and what it
 * finds — usually the same token, or a newer one another process stored — is its refreshed token, on
 * probation. Whoever minted a token decides about it with the plain first-401 rule, so a single process
 * (or a token that really was revoked) is never held up by this. The price: a token another process minted
 * less than 30 s ago and that really was revoked is replaced only after this process's first back-off —
 * far rarer than a fleet of late joiners each minting on an always-401 path.
 */

/** The first back-off after a fresh token did not cure a 401. */
export const BACKOFF_BASE_MS = 30_000;
/** The longest back-off. */
export const BACKOFF_MAX_MS = 600_000;
/** How long a token that replaced a 401-refused one stays on probation. */
export const PROBATION_MS = 600_000;
/** Quiet time after a back-off that takes one step off the next one. */
export const QUIET_MS = 600_000;
/** The level at which the back-off reaches its cap (30 s × 2^5 ≥ 10 min). */
const MAX_LEVEL = 1 + Math.ceil(Math.log2(BACKOFF_MAX_MS / BACKOFF_BASE_MS));

/** What the provider does with a 401 for its current token. */
export type UnauthorizedVerdict =
  /** Drop the token, delete it from the store (compare), mark it refused; the caller retries once. */
  | 'refresh'
  /**
   * As `refresh`, but the 401 is explained by the token's age: it is past its serving window (it expired in
   * flight), so it would be replaced anyway. Neither a strike nor held back by a back-off, and its
   * replacement is not on probation: short-lived tokens under load must not look like an always-401 path.
   */
  | 'expired'
  /** Drop the token from memory only and read the store again; the caller retries once. */
  | 'reread'
  /** Keep everything; the caller passes the 401 on (a back-off is in force). */
  | 'refuse'
  /** As `refuse`, and a back-off starts now: a fresh token did not cure the 401. */
  | 'strike';

/** What the provider knows about the token that got the 401. */
export interface RefusedToken {
  accessToken: string;
  issuedAt: number;
  /** `store`: this provider took it from the store (another provider or process minted it). */
  source: 'ims' | 'store';
  /** Until when (epoch ms) the provider hands the token out. */
  serveUntil: number;
}

/** The back-off state, for `status()`. */
export interface UnauthorizedBackoff {
  /** Until when (epoch ms) 401s cause no refresh. */
  until: number;
  /** Strikes in a row (1 → 30 s, 2 → 60 s, … 6 and more → 10 min), after quiet-time decay. */
  level: number;
}

function delayFor(level: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (Math.max(1, level) - 1));
}

/** The state machine behind `TokenProvider.invalidate(token)`. Synchronous: concurrent 401s see each other at once. */
export class UnauthorizedPolicy {
  readonly #clock: () => number;
  #level = 0;
  #until = -Infinity;
  /** The token dropped on a first 401 (`old`), and the one that replaced it once adopted (`token`). */
  #probation: { old: string; token: string | undefined; since: number } | undefined;

  /** The last few tokens dropped (on a 401 or by an operator): never taken back from the store. */
  readonly #dropped: string[] = [];

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  /** Remembers that `accessToken` was dropped: {@link wasDropped} is true for it (the last 8 are kept). */
  remember(accessToken: string): void {
    if (this.#dropped.includes(accessToken)) return;
    this.#dropped.push(accessToken);
    if (this.#dropped.length > 8) this.#dropped.shift();
  }

  wasDropped(accessToken: string): boolean {
    return this.#dropped.includes(accessToken);
  }

  /** True while `accessToken` was just dropped on a 401 and its replacement is still being fetched. */
  replacing(accessToken: string): boolean {
    return this.#probation?.old === accessToken && this.#probation.token === undefined;
  }

  /** Decides about a 401 for the current token (or for a token while none is cached). */
  onUnauthorized(refused: RefusedToken | string): UnauthorizedVerdict {
    const now = this.#clock();
    const accessToken = typeof refused === 'string' ? refused : refused.accessToken;
    const p = this.#probation;
    if (typeof refused !== 'string' && now >= refused.serveUntil) {
      if (p?.token === accessToken) this.#probation = undefined;
      return 'expired';
    }
    if (now < this.#until) return 'refuse';
    if (p !== undefined && p.token === accessToken && now - p.since < PROBATION_MS) {
      // A fresh token did not cure it: not about the token. Back off.
      this.#level = Math.min(MAX_LEVEL, this.#decayed(now) + 1);
      this.#until = now + delayFor(this.#level);
      this.#probation = undefined;
      return 'strike';
    }
    this.#probation = { old: accessToken, token: undefined, since: now };
    if (typeof refused !== 'string' && refused.source === 'store' && now - refused.issuedAt < delayFor(this.#decayed(now))) {
      return 'reread';
    }
    return 'refresh';
  }

  /** The provider took `accessToken` into use: after a 401-driven drop, it is the refreshed token. */
  adopted(accessToken: string): void {
    const p = this.#probation;
    if (p !== undefined && p.token === undefined) {
      p.token = accessToken;
      p.since = this.#clock();
    }
  }

  /** An operator dropped the token (`invalidate()` without one): what comes next is no 401 refresh. */
  dropped(): void {
    this.#probation = undefined;
  }

  /** The back-off in force, if any. */
  backoff(): UnauthorizedBackoff | undefined {
    return this.#clock() < this.#until ? { until: this.#until, level: this.#level } : undefined;
  }

  /** The level after quiet time: one step off per {@link QUIET_MS} since the back-off ended. */
  #decayed(now: number): number {
    if (this.#level === 0 || now < this.#until) return this.#level;
    return Math.max(0, this.#level - Math.floor((now - this.#until) / QUIET_MS));
  }
}

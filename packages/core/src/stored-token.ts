import { serveUntil } from './cache';
import type { CacheExpectation } from './cache-file';
import { timesFor } from './entry';
import type { Timing } from './entry';
import { ImsTokenError } from './errors';
import type { ImsTokenErrorCode } from './errors';
import type { ProviderContext } from './provider-context';
import type { StoreAccess } from './store-access';
import { isBearerToken } from './token';
import type { ImsToken } from './token';

/** Failures that `staleIfError` papers over: IMS is unreachable or failing, not the credential. */
const STALE_IF: ReadonlySet<ImsTokenErrorCode> = new Set<ImsTokenErrorCode>([
  'IMS_NETWORK',
  'IMS_TIMEOUT',
  'IMS_SERVER_ERROR',
  'IMS_RATE_LIMITED',
  'IMS_BAD_RESPONSE',
]);

/**
 * The tokens a provider takes from its store rather than from IMS: one rule decides which ({@link accepts}),
 * for `#readStore` and for `staleIfError` alike; whether one still has the life to be served, too.
 */
export class StoredTokens {
  readonly #ctx: ProviderContext;
  readonly #store: StoreAccess;
  readonly #expect: CacheExpectation;
  readonly #timing: Timing;
  readonly #refused: (accessToken: string) => boolean;

  /** `expect`: the provider's key, client and scopes; `refused`: whether an API refused a token (a 401). */
  constructor(
    ctx: ProviderContext,
    store: StoreAccess,
    expect: CacheExpectation,
    timing: Timing,
    refused: (accessToken: string) => boolean,
  ) {
    this.#ctx = ctx;
    this.#store = store;
    this.#expect = expect;
    this.#timing = timing;
    this.#refused = refused;
  }

  accepts(token: ImsToken | undefined): token is ImsToken {
    // (any store, also one of yours: a token that cannot go into an Authorization header is a miss)
    return (
      token !== undefined &&
      token.clientId === this.#expect.clientId &&
      isBearerToken(token.accessToken) &&
      !this.#refused(token.accessToken)
    );
  }

  /** The store's token, if accepted and within its serving window (for a `background` refresh: before its refresh time). */
  async read(background: boolean): Promise<ImsToken | undefined> {
    const token = await this.#store.read();
    if (!this.accepts(token)) return undefined;
    const t = timesFor(token, this.#timing);
    const now = this.#ctx.clock();
    return now >= t.serveUntil || (background && now >= t.refreshAt) ? undefined : token;
  }

  /**
   * `staleIfError`: for a failure that is not about the credential, the token the provider used last, or the
   * store's, while it has the default margin of life (with a warning); else `err` is thrown.
   */
  async stale(err: unknown, last: ImsToken | undefined): Promise<ImsToken> {
    if (!ImsTokenError.is(err) || !STALE_IF.has(err.code)) throw err;
    const now = this.#ctx.clock();
    const usable = (t: ImsToken | undefined): t is ImsToken => this.accepts(t) && now < serveUntil(t);
    let token = last;
    if (!usable(token)) token = await this.#store.read().catch(() => undefined);
    if (!usable(token)) throw err;
    this.#ctx.logger.warn(
      { code: err.code, debugId: err.debugId, expiresAt: token.expiresAt },
      'ims-token: could not get a new token; serving the last one while it lives (staleIfError)',
    );
    return token;
  }
}

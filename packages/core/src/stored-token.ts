import { serveUntil } from './cache';
import { plausibleCachedToken } from './cache-file';
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
 * The tokens a provider takes from its store rather than from IMS. A store may be shared — a `MemoryStore` by
 * providers, a `FileStore` or `RedisStore` by processes — or be one of yours, and whoever can write to it may
 * have put any token under this provider's key. One rule decides ({@link accepts}), the one the CLI applies to
 * its cache through {@link plausibleCachedToken}: a token IMS could have given this credential (this client,
 * these scopes, `issuedAt ≤ expiresAt`, a lifetime IMS gives), that can go into an `Authorization` header,
 * and that no API refused. Anything else is a miss (the provider mints and stores its own), with one warning
 * per token that IMS did not give this credential (through the logger; without one, a process warning).
 */
export class StoredTokens {
  readonly #ctx: ProviderContext;
  readonly #store: StoreAccess;
  readonly #expect: CacheExpectation;
  readonly #timing: Timing;
  readonly #refused: (accessToken: string) => boolean;
  #warned: string | undefined;

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
    if (token === undefined || !isBearerToken(token.accessToken) || this.#refused(token.accessToken)) return false;
    if (plausibleCachedToken(token, undefined, this.#expect)) return true;
    if (this.#warned !== token.accessToken) {
      this.#warned = token.accessToken; // (kept in memory like the tokens served; never logged)
      const msg =
        'ims-token: ignoring a stored token that IMS did not give this credential (another client or scopes, or a lifetime IMS never gives); minting a new one';
      this.#ctx.logger.warn({ cacheKey: this.#expect.key }, msg);
      if (this.#ctx.silent) process.emitWarning(msg, { code: 'IMS_TOKEN_IMPLAUSIBLE_STORED_TOKEN' });
    }
    return false;
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

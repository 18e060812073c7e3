import type { ImsAuthHeaders } from './auth-headers';
import { cacheKeyFor } from './cache';
import { resolveOptions } from './config';
import type { ResolvedOptions, TokenProviderOptions } from './config';
import { coarse, coarseClockUsable } from './coarse-clock';
import { AbortableWaits } from './abortable';
import { dc, traced } from './diagnostics';
import { entryFor, entryStatus, newCounters, stateOf, timesFor, tokenEvent } from './entry';
import type { Entry, Timing } from './entry';
import type { CredentialFields, MintReason } from './diagnostics';
import { Emitter } from './emitter';
import { ImsTokenError } from './errors';
import { ImsMinter, closedError } from './ims-mint';
import { ProviderUnauthorized } from './invalidation';
import { NegativeCache } from './negative-cache';
import { emitEvent } from './provider-context';
import type { ProviderContext } from './provider-context';
import { guardLogger } from './safe-logger';
import { SecretSource } from './secret-source';
import type { SecretSnapshot } from './secret-source';
import { MemoryStore } from './store';
import { RefreshAhead } from './refresh-ahead';
import { StoreAccess } from './store-access';
import { StoredTokens } from './stored-token';
import type { ImsToken } from './token';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
export type { ImsAuthHeaders } from './auth-headers';
/** Marks a store that the provider created (fromEnv) and so closes with itself. */
export const OWNED_STORE: unique symbol = Symbol.for('ims-token.ownedStore') as never;
/** A store that fromEnv created may take the provider's logger (so Redis outages are reported). */
export const ATTACH_LOGGER: unique symbol = Symbol.for('ims-token.attachLogger') as never;

export type { GetTokenOptions, TokenState, TokenProviderStatus, TokenEvent, TokenProviderEvents, TokenProvider } from './provider-types';
import type { GetTokenOptions, TokenProviderEvents, TokenProviderStatus, TokenProvider } from './provider-types';

/** How a token is being fetched: `force` skips the store (`forceRefresh`); `background` is a refresh-ahead nobody waits for. */
interface Fetch {
  force: boolean;
  background: boolean;
}

/**
 * The pipeline of `getToken()`, top to bottom:
 *
 * 1. `getToken` — the hot path: a cached token, by the coarse clock, with no I/O and no allocation.
 * 2. `#serve` — the cached token by the precise clock (starting a {@link RefreshAhead} in its window), or a miss.
 * 3. `#joinOrFetch` — a miss joins the fetch in flight (single-flight), or starts one (`#startFetch`); a
 *    forced caller never joins an unforced fetch. {@link AbortableWaits} lets one caller stop waiting.
 * 4. `#fetch` — the store first (another process may have minted; `#readStore` takes only what
 *    {@link StoredTokens} accepts), then the {@link NegativeCache}, then a mint under the store's lock
 *    (`#mintUnderLock`): one mint per fleet.
 * 5. `#mintAndStore` — IMS through {@link ImsMinter} (retries, failover), the store written, the token used.
 * 6. `#use` — the token becomes the entry served, with its refresh and serving times ({@link timesFor}).
 *
 * Beside it: `invalidate(token)` asks the 401 policy ({@link ProviderUnauthorized}) what a 401 does.
 */
class Provider implements TokenProvider {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly imsUrl: string;
  readonly cacheKey: string;
  readonly #o: ResolvedOptions;
  readonly #clock: () => number;
  readonly #store: StoreAccess;
  readonly #secrets: SecretSource;
  readonly #minter: ImsMinter;
  readonly #events = new Emitter<TokenProviderEvents>();
  readonly #closing = new AbortController();
  readonly #timing: Timing;
  #entry: Entry | undefined;
  /** The last entry taken into use, kept after #entry was dropped for its age: a late 401 for it is judged by it. */
  #last: Entry | undefined;
  #inflight: Promise<Entry> | undefined;
  /** The fetch in flight ignores the store and the cached token (a `forceRefresh`). */
  #inflightForced = false;
  readonly #waits = new AbortableWaits();
  readonly #ahead: RefreshAhead;
  readonly #negative: NegativeCache;
  readonly #unauthorized: ProviderUnauthorized;
  readonly #stored: StoredTokens;
  #lastError: TokenProviderStatus['lastError'];
  #closed = false;
  /** Set when invalidate() dropped the token: the next mint's reason (diagnostics). */
  #dropped = false;
  /** The credential fields of every diagnostics message. */
  readonly #dc: CredentialFields;
  readonly #c = newCounters();
  readonly #ctx: ProviderContext;

  constructor(options: TokenProviderOptions) {
    const o = { ...resolveOptions(options) };
    o.logger = guardLogger(o.logger);
    this.#o = o;
    this.#clock = o.clock;
    this.clientId = o.clientId;
    this.scopes = Object.freeze([...o.scopes]);
    this.imsUrl = o.imsUrl;
    this.cacheKey = cacheKeyFor(o.imsUrl, o.clientId, o.scopes);
    this.#dc = { clientId: this.clientId, scopes: [...o.scopes].sort().join(','), cacheKey: this.cacheKey };
    const store = o.store ?? new MemoryStore({ clock: o.clock });
    const attach = (store as unknown as Record<symbol, unknown>)[ATTACH_LOGGER];
    if (typeof attach === 'function') attach.call(store, o.logger);
    this.#store = new StoreAccess(store, this.cacheKey, this.#dc, o.logger, this.#c);
    this.#secrets = new SecretSource(o.secretInput, o.clientSecretFile, (source, count) => {
      if (dc.secretReload.hasSubscribers) dc.secretReload.publish({ ...this.#dc, source, count });
    });
    this.#minter = new ImsMinter({
      options: o,
      secrets: this.#secrets,
      fields: this.#dc,
      counters: this.#c,
      closing: this.#closing.signal,
      isClosed: () => this.#closed,
      fail: (err, snap) => this.#fail(err, snap),
      failedOver: (from, to, reason) => this.#failedOver(from, to, reason),
    });
    this.#timing = {
      refreshWindowMs: o.refreshWindowMs,
      minRemainingMs: options.minRemainingMs !== undefined ? o.minRemainingMs : undefined,
      jitter: Math.random(),
    };
    const silent = options.logger === undefined;
    const ctx = (this.#ctx = { clock: o.clock, fields: this.#dc, logger: o.logger, counters: this.#c, events: this.#events, silent });
    this.#ahead = new RefreshAhead(
      ctx,
      () => this.#entry,
      () => this.#startFetch({ force: false, background: true }),
    );
    this.#negative = new NegativeCache(o.negativeCacheMs, o.clock);
    this.#unauthorized = new ProviderUnauthorized(ctx);
    const expect = { key: this.cacheKey, clientId: this.clientId, scopes: this.scopes };
    this.#stored = new StoredTokens(ctx, this.#store, expect, this.#timing, (t) => this.#unauthorized.wasDropped(t));
    if (dc.provider.hasSubscribers) dc.provider.publish({ provider: this, ...this.#dc });
  }

  getToken(options?: GetTokenOptions): Promise<ImsToken> {
    // The hot path: no I/O, no allocation, no clock call (see coarse-clock.ts).
    const e = this.#entry;
    if (options === undefined && e !== undefined && coarse.now < e.hotUntil && coarseClockUsable()) {
      this.#c.hits++;
      return e.promise;
    }
    return this.#serve(options).then((entry) => entry.token);
  }

  getAuthHeaders(options?: GetTokenOptions): Promise<ImsAuthHeaders> {
    const e = this.#entry;
    if (options === undefined && e !== undefined && coarse.now < e.hotUntil && coarseClockUsable()) {
      this.#c.hits++;
      return e.headers;
    }
    return this.#serve(options).then((entry) => entry.headers);
  }

  async #serve(options: GetTokenOptions | undefined): Promise<Entry> {
    if (this.#closed) throw closedError();
    const signal = options?.signal;
    if (signal?.aborted) throw new ImsTokenError('IMS_ABORTED', 'getToken() was cancelled before it started.');
    const force = options?.forceRefresh === true;
    const now = this.#clock();
    const e = this.#entry;
    if (!force && e !== undefined) {
      if (now < e.refreshAt) {
        this.#c.hits++;
        return e;
      }
      if (now < e.serveUntil) {
        this.#c.hits++;
        this.#ahead.start(now, this.#inflight !== undefined);
        return e;
      }
      this.#entry = undefined; // too close to expiry: never hand it out
    }
    this.#c.misses++;
    let shared = this.#joinOrFetch(force);
    if (options?.staleIfError === true && !force) shared = shared.catch((err: unknown) => this.#stale(err));
    return signal ? this.#waits.wait(shared, signal) : shared;
  }

  /** `staleIfError`: the last token used, or the store's, while it has the default margin of life; else `err`. */
  async #stale(err: unknown): Promise<Entry> {
    const token = await this.#stored.stale(err, this.#last?.token);
    return entryFor(token, 'store', this.#timing, false); // served this once, never taken into use
  }

  #joinOrFetch(force: boolean): Promise<Entry> {
    const inflight = this.#inflight;
    if (!inflight) return this.#startFetch({ force, background: false });
    if (!force || this.#inflightForced) return inflight;
    // A forced caller wants the token it holds replaced: the fetch in flight may well answer with that very
    // token (from the store), so it must not join it. It mints once that fetch settled.
    return this.#startFetch({ force: true, background: false }, inflight);
  }

  #startFetch(how: Fetch, after?: Promise<unknown>): Promise<Entry> {
    const fetch = (): Promise<Entry> => this.#fetch(how);
    const p = (after ? after.then(fetch, fetch) : fetch()).finally(() => {
      if (this.#inflight === p) {
        this.#inflight = undefined;
        this.#inflightForced = false;
      }
    });
    this.#inflight = p;
    this.#inflightForced = how.force;
    return p;
  }

  async #fetch(how: Fetch): Promise<Entry> {
    // A token another provider or process stored wins over everything, even our own negative cache.
    if (!how.force) {
      const stored = await this.#readStore(how);
      if (stored) return stored;
    }
    let snap = await this.#secrets.read();
    // A secret file IMS rejected is read again first: it may have been fixed meanwhile.
    if (this.#negative.rejected(snap.fingerprint) && this.#secrets.kind === 'file') snap = await this.#secrets.read(true);
    const rejected = this.#negative.rejected(snap.fingerprint);
    if (rejected) {
      this.#c.negativeCacheHits++;
      throw rejected;
    }
    return this.#mintUnderLock(how, snap);
  }

  /** Across processes: one lock holder mints; the others, once they get the lock, find its token in the store. */
  async #mintUnderLock(how: Fetch, snap: SecretSnapshot): Promise<Entry> {
    let ran = false;
    const locked = this.#store.withLock(async () => {
      ran = true;
      return (!how.force && (await this.#readStore(how))) || this.#mintAndStore(how, snap);
    }, this.#closing.signal);
    if (!locked) return this.#mintAndStore(how, snap);
    try {
      return await locked;
    } catch (err) {
      if (this.#closed) throw closedError();
      if (ran || (ImsTokenError.is(err) && err.code !== 'IMS_STORE')) throw err;
      this.#store.failed('lock', err);
      return this.#mintAndStore(how, snap);
    }
  }

  async #mintAndStore(how: Fetch, snap: SecretSnapshot, late = false): Promise<Entry> {
    const reason: MintReason = how.force ? 'forced' : how.background ? 'refresh-ahead' : this.#dropped ? 'invalidated' : 'cold';
    let token: ImsToken;
    try {
      token = await traced(
        dc.mint,
        () => ({ ...this.#dc, reason, background: how.background }),
        () => this.#minter.mint(snap),
        (t) => ({ expiresAt: t.expiresAt, issuedAt: t.issuedAt, secretIndex: this.#minter.secretIndex }),
      );
    } catch (err) {
      // While our mint failed, another provider sharing a lock-less store (a shared MemoryStore, a store of
      // yours) may have stored a good token: serve it rather than fail our callers. A forced caller wants a
      // new token, so it gets the error.
      const stored = how.force || this.#closed ? undefined : await this.#readStore(how);
      if (stored) return stored;
      throw err;
    }
    this.#lastError = undefined;
    this.#negative.clear();
    const { serveUntil } = timesFor(token, this.#timing);
    if (this.#clock() >= serveUntil) {
      // Past its serving window on arrival: never hand it out, never store it for others. A token that would have
      // served had it come at once came late — the clock jumped (a machine resumed from sleep) or the answer was
      // held — and a request sent now is timed from now: once more. One too short-lived to serve at all is an error.
      if (!late && serveUntil > token.issuedAt && !this.#closed) return this.#mintAndStore(how, snap, true);
      throw this.#fail(
        new ImsTokenError(
          'IMS_BAD_RESPONSE',
          `IMS answered with a token of ${token.expiresAt - token.issuedAt} ms that was already within its last margin of life when the answer arrived (${this.#clock() - token.issuedAt} ms after the request).`,
        ),
        snap,
      );
    }
    await this.#store.write(token);
    return this.#use(token, 'ims');
  }

  async #readStore(how: Fetch): Promise<Entry | undefined> {
    const token = await this.#stored.read(how.background);
    if (!token) return undefined;
    this.#c.storeHits++;
    return this.#use(token, 'store');
  }

  #fail(err: ImsTokenError, snap: SecretSnapshot): ImsTokenError {
    this.#lastError = { code: err.code, message: err.message, at: this.#clock(), ...(err.debugId ? { debugId: err.debugId } : {}) };
    this.#negative.note(err, snap.fingerprint);
    this.#o.logger.error({ code: err.code, status: err.status, imsError: err.imsError, debugId: err.debugId }, `ims-token: ${err.message}`);
    return err;
  }

  #failedOver(from: number, to: number, reason: ImsTokenError): void {
    this.#c.failovers++;
    if (dc.failover.hasSubscribers) dc.failover.publish({ ...this.#dc, fromIndex: from, toIndex: to });
    this.#o.logger.warn({ from, to }, 'ims-token: client secret rejected; failed over to the other configured secret');
    emitEvent(this.#ctx, 'secret-failover', { from, to, reason: reason.code });
  }

  /** Takes `token` into use: the entry served from now on. */
  #use(token: ImsToken, source: 'ims' | 'store'): Entry {
    const entry = entryFor(token, source, this.#timing, this.#o.defaultClock);
    this.#entry = this.#last = entry;
    this.#dropped = false;
    this.#ahead.reset();
    this.#unauthorized.adopted(token.accessToken);
    emitEvent(this.#ctx, 'token', tokenEvent(entry));
    return entry;
  }

  async invalidate(accessToken?: string): Promise<boolean> {
    if (accessToken === undefined) {
      // An operator's drop: unconditional, whatever the 401 back-off says.
      this.#unauthorized.operatorDrop(this.#entry);
      this.#entry = undefined;
      this.#dropped = true;
      await this.#store.remove(undefined);
      return true;
    }
    // The 401 policy decides synchronously, so a burst of 401s sees each other's verdicts.
    const what = this.#unauthorized.judge(accessToken, this.#entry, this.#last);
    if (what === 'stale') return true; // already replaced (or being replaced): the retry gets the current token and costs no mint
    if (what === 'refuse') return false;
    this.#entry = undefined;
    this.#dropped = true;
    if (what === 'reread') return true; // another process's fresh token: read the store again, keep it there
    await this.#store.remove(accessToken);
    return true;
  }

  setSecrets(secrets: string | readonly string[]): void {
    this.#secrets.set(typeof secrets === 'string' ? [secrets] : secrets);
    this.#negative.clear();
  }

  status(): TokenProviderStatus {
    const now = this.#clock();
    const e = this.#entry;
    const backoff = this.#unauthorized.backoff();
    return {
      state: stateOf(e, now, this.#closed, this.#inflight !== undefined, this.#lastError !== undefined),
      clientId: this.clientId,
      scopes: this.scopes,
      imsUrl: this.imsUrl,
      cacheKey: this.cacheKey,
      ...entryStatus(e, now),
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(backoff ? { unauthorizedBackoff: backoff } : {}),
      secret: { source: this.#secrets.kind, index: this.#minter.secretIndex, count: this.#secrets.current?.secrets.length ?? 0 },
      counters: { ...this.#c },
    };
  }

  on<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): void {
    this.#events.off(event, listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#entry = this.#last = undefined;
    this.#closing.abort();
    this.#events.clear();
    if (dc.provider.hasSubscribers) dc.provider.publish({ provider: this, closed: true, ...this.#dc });
    const store = this.#store.store;
    await Promise.all([
      this.#minter.close(),
      (store as unknown as Record<symbol, unknown>)[OWNED_STORE] === true ? store.close?.().catch(() => undefined) : undefined,
    ]);
  }

  toJSON(): TokenProviderStatus {
    return this.status();
  }

  [INSPECT](): string {
    const s = this.status();
    return `TokenProvider { clientId: '${s.clientId}', scopes: [${s.scopes.join(', ')}], state: '${s.state}', imsUrl: '${s.imsUrl}' }`;
  }
}

/**
 * Creates a token provider for one OAuth Server-to-Server credential and scope set.
 * Options are validated at once: a bad option throws `IMS_CONFIG` naming the field, never its value.
 *
 * @example
 * ```ts
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * const ims = createTokenProvider(fromEnv())           // IMS_CLIENT_ID, IMS_CLIENT_SECRET, IMS_SCOPES
 * const res = await fetch('https://firefly-api.adobe.io/v3/images/generate', {
 *   method: 'POST', headers: { ...(await ims.getAuthHeaders()), 'content-type': 'application/json' }, body,
 * })
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  return new Provider(options);
}

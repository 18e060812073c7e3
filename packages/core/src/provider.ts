import { authHeadersFor } from './auth-headers';
import type { ImsAuthHeaders } from './auth-headers';
import { cacheKeyFor, serveUntil } from './cache';
import { resolveOptions } from './config';
import type { ResolvedOptions, TokenProviderOptions } from './config';
import { COARSE_MIN_MARGIN_MS, coarse, coarseClockUsable, startCoarseClock } from './coarse-clock';
import { dc, traced } from './diagnostics';
import type { CredentialFields, InvalidateVerdict, MintReason, StoreOp } from './diagnostics';
import { Emitter } from './emitter';
import { ImsTokenError } from './errors';
import type { ImsTokenErrorCode } from './errors';
import { backoffDelay, createDefaultDispatcher } from './http';
import type { Transport } from './http';
import { rejectsClientId, requestToken } from './ims-client';
import { redactToken } from './redact';
import { SecretSource } from './secret-source';
import { UnauthorizedPolicy } from './unauthorized';
import type { UnauthorizedBackoff } from './unauthorized';
import { sleep } from './sleep';
import type { SecretSnapshot, SecretSourceKind } from './secret-source';
import { MemoryStore } from './store';
import type { TokenStore } from './store';
import { isBearerToken } from './token';
import type { ImsToken } from './token';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
export type { ImsAuthHeaders } from './auth-headers';
/** Marks a store that the provider created (fromEnv) and so closes with itself. */
export const OWNED_STORE: unique symbol = Symbol.for('ims-token.ownedStore') as never;
/** A store that fromEnv created may take the provider's logger (so Redis outages are reported). */
export const ATTACH_LOGGER: unique symbol = Symbol.for('ims-token.attachLogger') as never;

/** Options of {@link TokenProvider.getToken}. */
export interface GetTokenOptions {
  /** Stops waiting for this caller (the shared request goes on for the others). */
  signal?: AbortSignal;
  /** Ignore the cached token and mint a new one. */
  forceRefresh?: boolean;
}

/** What the provider is doing, for health checks. */
export type TokenState = 'empty' | 'fetching' | 'valid' | 'refreshing' | 'expiring' | 'failed' | 'closed';

/** A snapshot of the provider without the token value (safe to log or serve). */
export interface TokenProviderStatus {
  state: TokenState;
  clientId: string;
  scopes: readonly string[];
  imsUrl: string;
  cacheKey: string;
  /** When the current token expires (epoch ms). */
  expiresAt?: number;
  issuedAt?: number;
  /** Milliseconds of life left on the current token. */
  expiresInMs?: number;
  /** When the background refresh starts (epoch ms). */
  refreshAt?: number;
  /** First 6 characters of the current token. */
  tokenPreview?: string;
  lastError?: { code: ImsTokenErrorCode; message: string; at: number; debugId?: string };
  /**
   * Present while 401s cause no refresh (see {@link TokenProvider.invalidate}): until when, and the level
   * (1 → 30 s, doubling per failed refresh up to 10 min).
   */
  unauthorizedBackoff?: UnauthorizedBackoff;
  secret: { source: SecretSourceKind; index: number; count: number };
  counters: {
    /** getToken() answered from memory. */
    hits: number;
    /** getToken() calls that needed a token from the store or IMS. */
    misses: number;
    /** HTTP requests sent to IMS (including retries). */
    imsRequests: number;
    /** Tokens minted by IMS. */
    mints: number;
    /** Tokens taken from the store. */
    storeHits: number;
    backgroundRefreshes: number;
    refreshFailures: number;
    failovers: number;
    storeErrors: number;
    /** Calls refused without asking IMS, after a hard rejection. */
    negativeCacheHits: number;
    /** `invalidate(token)` calls (401s) that dropped the token: the caller retried with a fresh one. */
    invalidations: number;
    /** `invalidate(token)` calls (401s) answered `false`: passed on without a refresh, by the 401 back-off. */
    invalidationsRefused: number;
  };
}

/** What the `token` event tells: never the token itself. */
export interface TokenEvent {
  source: 'ims' | 'store';
  expiresAt: number;
  issuedAt: number;
  scopes: readonly string[];
  clientId: string;
  tokenPreview: string;
}

/** Events of a {@link TokenProvider}. */
export interface TokenProviderEvents {
  /** A new token was taken into use. */
  token: (event: TokenEvent) => void;
  /** A background refresh failed; the current token is still served while it lives. */
  'refresh-error': (error: ImsTokenError) => void;
  /** The first secret was rejected and the second one worked; the provider keeps using it. */
  'secret-failover': (event: { from: number; to: number; reason: ImsTokenErrorCode }) => void;
}

/** Gets, caches and refreshes IMS access tokens for one credential and scope set. */
export interface TokenProvider {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly imsUrl: string;
  /** The store key of this credential (hash of IMS URL, client id and sorted scopes; never of the secret). */
  readonly cacheKey: string;
  /** A token with at least `minRemainingMs` of life. Concurrent callers share one IMS request. */
  getToken(options?: GetTokenOptions): Promise<ImsToken>;
  /** `{ authorization: 'Bearer …', 'x-api-key': clientId }` for the current token. */
  getAuthHeaders(options?: GetTokenOptions): Promise<ImsAuthHeaders>;
  /**
   * Reports that an API answered 401 to a request sent with `accessToken`. Resolves `true` when the caller
   * should retry once with a fresh token from `getAuthHeaders()`, `false` when it should pass the 401 on
   * without a retry. Core decides, so that no client can turn its requests into IMS mints:
   *
   * - The first 401 for the cached token drops it (only while it is still the cached one, so a burst of
   *   401s for one token causes one refresh; every caller of the burst gets `true`). A 401 for a token that
   *   was already replaced resolves `true` at once: the retry uses the current token and costs no mint.
   * - If the token that replaced it gets a 401 too, the 401 is not about the token: it resolves `false`, and
   *   for 30 s — doubling with each refresh that does not help, up to 10 min, and lowered again by quiet
   *   time — every `invalidate(token)` resolves `false`, keeps the token and leaves the store alone.
   * - A 401 for a token already past its serving window (it expired in flight) is explained by its age: it
   *   is replaced (as it would be anyway) and resolves `true`, back-off or not.
   * - In a fleet sharing a store, a 401 for a token another process minted within the back-off period
   *   (at least 30 s) re-reads the store instead of deleting the token and minting: a late joiner does not
   *   mint for the fleet.
   *
   * Without an argument it is an operator's action: it drops whatever is cached, deletes it from the
   * store, whatever the back-off says, and resolves `true`.
   *
   * @example
   * ```ts
   * let h = await ims.getAuthHeaders()
   * let res = await fetch(url, { headers: h })
   * if (res.status === 401 && (await ims.invalidate(h.authorization.slice(7)))) {
   *   h = await ims.getAuthHeaders()
   *   res = await fetch(url, { headers: h }) // once; a second 401 is the answer
   * }
   * ```
   */
  invalidate(accessToken?: string): Promise<boolean>;
  /** Replaces the client secrets in a running process (after a rotation). */
  setSecrets(secrets: string | readonly string[]): void;
  /** A synchronous snapshot, without the token. */
  status(): TokenProviderStatus;
  on<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): () => void;
  off<K extends keyof TokenProviderEvents>(event: K, listener: TokenProviderEvents[K]): void;
  /** Stops in-flight requests and releases the HTTP agent (and a store it created). */
  close(): Promise<void>;
}

interface Entry {
  /** Before this (by the coarse clock) the entry is served without reading the precise clock; -Infinity disables it. */
  hotUntil: number;
  token: ImsToken;
  /** Minted by this provider, or taken from the store (another provider or process minted it). */
  source: 'ims' | 'store';
  promise: Promise<ImsToken>;
  headers: Promise<ImsAuthHeaders>;
  refreshAt: number;
  serveUntil: number;
}

const HARD: ReadonlySet<ImsTokenErrorCode> = new Set<ImsTokenErrorCode>([
  'IMS_INVALID_CLIENT',
  'IMS_INVALID_SCOPE',
  'IMS_UNAUTHORIZED_CLIENT',
]);

class Provider implements TokenProvider {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly imsUrl: string;
  readonly cacheKey: string;
  readonly #o: ResolvedOptions;
  readonly #clock: () => number;
  readonly #store: TokenStore;
  readonly #secrets: SecretSource;
  readonly #events = new Emitter<TokenProviderEvents>();
  readonly #closing = new AbortController();
  readonly #jitter = Math.random();
  readonly #userMinRemaining: boolean;
  #entry: Entry | undefined;
  /** The last entry taken into use, kept after #entry was dropped for its age: a late 401 for it is judged by it. */
  #last: Entry | undefined;
  #inflight: Promise<Entry> | undefined;
  #nextBackgroundAt = 0;
  #hardFailure: { error: ImsTokenError; until: number; fingerprint: string } | undefined;
  #secretIndex = 0;
  #secretFingerprint = '';
  #invalidated: string[] = [];
  readonly #unauthorized: UnauthorizedPolicy;
  #lastError: TokenProviderStatus['lastError'];
  #agent: Transport | undefined;
  #closed = false;
  /** Set when invalidate() dropped the token: the next mint's reason (diagnostics). */
  #dropped = false;
  /** The credential fields of every diagnostics message. */
  readonly #dc: CredentialFields;
  readonly #tokenUrl: string;
  readonly #c: TokenProviderStatus['counters'] = {
    hits: 0,
    misses: 0,
    imsRequests: 0,
    mints: 0,
    storeHits: 0,
    backgroundRefreshes: 0,
    refreshFailures: 0,
    failovers: 0,
    storeErrors: 0,
    negativeCacheHits: 0,
    invalidations: 0,
    invalidationsRefused: 0,
  };

  constructor(options: TokenProviderOptions) {
    const o = resolveOptions(options);
    this.#o = o;
    this.#clock = o.clock;
    this.clientId = o.clientId;
    this.scopes = Object.freeze([...o.scopes]);
    this.imsUrl = o.imsUrl;
    this.cacheKey = cacheKeyFor(o.imsUrl, o.clientId, o.scopes);
    this.#store = o.store ?? new MemoryStore({ clock: o.clock });
    const attach = (this.#store as unknown as Record<symbol, unknown>)[ATTACH_LOGGER];
    if (typeof attach === 'function') attach.call(this.#store, o.logger);
    this.#dc = { clientId: this.clientId, scopes: [...o.scopes].sort().join(','), cacheKey: this.cacheKey };
    const u = new URL(o.tokenUrl);
    this.#tokenUrl = `${u.origin}${u.pathname}`;
    this.#secrets = new SecretSource(o.secretInput, o.clientSecretFile, (source, count) => {
      if (dc.secretReload.hasSubscribers) dc.secretReload.publish({ ...this.#dc, source, count });
    });
    this.#userMinRemaining = options.minRemainingMs !== undefined;
    this.#unauthorized = new UnauthorizedPolicy(o.clock);
    if (dc.provider.hasSubscribers) dc.provider.publish({ provider: this, ...this.#dc });
  }

  getToken(options?: GetTokenOptions): Promise<ImsToken> {
    // The hot path: no I/O, no allocation, no clock call (see coarse-clock.ts).
    const e = this.#entry;
    if (options === undefined && e !== undefined && coarse.now < e.hotUntil && coarseClockUsable()) {
      this.#c.hits++;
      return e.promise;
    }
    return this.#slow(options).then((entry) => entry.token);
  }

  getAuthHeaders(options?: GetTokenOptions): Promise<ImsAuthHeaders> {
    const e = this.#entry;
    if (options === undefined && e !== undefined && coarse.now < e.hotUntil && coarseClockUsable()) {
      this.#c.hits++;
      return e.headers;
    }
    return this.#slow(options).then((entry) => entry.headers);
  }

  async #slow(options: GetTokenOptions | undefined): Promise<Entry> {
    if (this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The token provider was closed.');
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
        this.#startBackgroundRefresh(now);
        return e;
      }
      this.#entry = undefined; // too close to expiry: never hand it out
    }
    this.#c.misses++;
    const shared = this.#acquire(force);
    if (!signal) return shared;
    return new Promise<Entry>((resolve, reject) => {
      const onAbort = (): void => reject(new ImsTokenError('IMS_ABORTED', 'getToken() was cancelled by its AbortSignal.'));
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  #acquire(force: boolean): Promise<Entry> {
    if (this.#inflight) return this.#inflight;
    return this.#launch(force, false);
  }

  #launch(force: boolean, background: boolean): Promise<Entry> {
    const p = this.#obtain(force, background).finally(() => {
      if (this.#inflight === p) {
        this.#inflight = undefined;
      }
    });
    this.#inflight = p;
    return p;
  }

  #startBackgroundRefresh(now: number): void {
    if (this.#inflight || now < this.#nextBackgroundAt) return;
    this.#c.backgroundRefreshes++;
    this.#launch(false, true).catch((err: unknown) => {
      const error = ImsTokenError.is(err) ? err : new ImsTokenError('IMS_NETWORK', 'Background refresh failed.', { cause: err });
      this.#c.refreshFailures++;
      const e = this.#entry;
      // Try again after a pause, well before the current token stops being served.
      const left = e ? e.serveUntil - this.#clock() : 0;
      this.#nextBackgroundAt = this.#clock() + Math.max(50, Math.min(30_000, left / 4, error.retryAfterMs ?? Infinity));
      this.#o.logger.warn(
        { code: error.code, debugId: error.debugId, servingUntil: e?.serveUntil },
        'ims-token: background refresh failed; still serving the current token',
      );
      if (dc.refreshError.hasSubscribers) dc.refreshError.publish({ ...this.#dc, error, expiresAt: e?.token.expiresAt });
      this.#events.emit('refresh-error', error, (le) => this.#listenerError(le));
    });
  }

  async #obtain(force: boolean, background: boolean): Promise<Entry> {
    // A token another provider or process stored wins over everything, even our own negative cache.
    if (!force) {
      const stored = await this.#storeGet(background);
      if (stored) return stored;
    }
    let snap = await this.#secrets.read();
    const hard = this.#hardFailure;
    if (hard && this.#clock() < hard.until) {
      if (hard.fingerprint === snap.fingerprint && this.#secrets.kind === 'file') snap = await this.#secrets.read(true);
      if (hard.fingerprint === snap.fingerprint) {
        this.#c.negativeCacheHits++;
        throw hard.error;
      }
    }
    const reason: MintReason = force ? 'forced' : background ? 'refresh-ahead' : this.#dropped ? 'invalidated' : 'cold';
    const mint = async (): Promise<Entry> => {
      const token = await traced(
        dc.mint,
        () => ({ ...this.#dc, reason, background }),
        () => this.#mint(snap),
        (t) => ({ expiresAt: t.expiresAt, issuedAt: t.issuedAt, secretIndex: this.#secretIndex }),
      );
      if (this.#clock() >= this.#times(token).serveUntil) {
        // IMS answered so late (or with so short a life) that the token is past its serving window on arrival:
        // never hand it out, and never store it for others.
        throw this.#fail(
          new ImsTokenError(
            'IMS_BAD_RESPONSE',
            `IMS answered with a token of ${token.expiresAt - token.issuedAt} ms that was already within its last margin of life when the answer arrived (${this.#clock() - token.issuedAt} ms after the request).`,
          ),
          snap,
        );
      }
      try {
        await this.#storeCall('set', () => this.#store.set(this.cacheKey, token));
      } catch (err) {
        this.#storeError('set', err);
      }
      return this.#adopt(token, 'ims');
    };
    const withLock = this.#store.withLock;
    if (typeof withLock !== 'function') return mint();
    // Across processes: one holder mints; the others, once they get the lock, find its token in the store.
    let ran = false;
    try {
      return await this.#storeCall('lock', () =>
        withLock.call<TokenStore, [string, () => Promise<Entry>, { signal: AbortSignal }], Promise<Entry>>(
          this.#store,
          this.cacheKey,
          async () => {
            ran = true;
            return (!force && (await this.#storeGet(background))) || mint();
          },
          { signal: this.#closing.signal },
        ),
      );
    } catch (err) {
      if (this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The token provider was closed.');
      if (ran || ImsTokenError.is(err)) throw err;
      this.#storeError('lock', err);
      return mint();
    }
  }

  async #storeGet(background: boolean): Promise<Entry | undefined> {
    let token: ImsToken | undefined;
    try {
      token = await this.#storeCall('get', () => this.#store.get(this.cacheKey));
    } catch (err) {
      if (ImsTokenError.is(err) && err.code === 'IMS_CONFIG') throw err;
      this.#storeError('get', err);
      return undefined;
    }
    // (any store, also one of yours: a token that cannot go into an Authorization header is a miss)
    if (!token || token.clientId !== this.clientId || !isBearerToken(token.accessToken) || this.#invalidated.includes(token.accessToken)) {
      return undefined;
    }
    const t = this.#times(token);
    const now = this.#clock();
    if (now >= t.serveUntil || (background && now >= t.refreshAt)) return undefined;
    this.#c.storeHits++;
    return this.#adopt(token, 'store');
  }

  /** One store call, traced on `ims-token:store` when someone listens. */
  #storeCall<T>(op: StoreOp, fn: () => Promise<T>): Promise<T> {
    return traced(
      dc.store,
      () => ({ ...this.#dc, op, store: (this.#store as { constructor?: { name?: string } }).constructor?.name ?? 'Object' }),
      fn,
      (value, ctx) => {
        if (op === 'get') ctx.hit = value !== undefined;
      },
    );
  }

  #storeError(op: string, err: unknown): void {
    this.#c.storeErrors++;
    const e = err as { code?: unknown; name?: unknown };
    this.#o.logger.warn(
      { op, error: String(e?.code ?? e?.name ?? 'error') },
      'ims-token: token store failed; minting locally (availability over sharing)',
    );
  }

  async #mint(snap: SecretSnapshot): Promise<ImsToken> {
    if (snap.fingerprint !== this.#secretFingerprint) {
      this.#secretFingerprint = snap.fingerprint;
      this.#secretIndex = 0;
    }
    const secrets = snap.secrets;
    const idx = this.#secretIndex < secrets.length ? this.#secretIndex : 0;
    try {
      return await this.#mintWithRetries(secrets[idx]!, idx);
    } catch (err) {
      if (!ImsTokenError.is(err)) throw err;
      if (err.code === 'IMS_INVALID_CLIENT' && !rejectsClientId(err)) {
        if (this.#secrets.kind === 'file') {
          const fresh = await this.#secrets.read(true);
          if (fresh.fingerprint !== snap.fingerprint) return this.#mint(fresh);
        }
        if (secrets.length === 2) {
          const other = 1 - idx;
          try {
            const token = await this.#mintWithRetries(secrets[other]!, other);
            this.#secretIndex = other;
            this.#c.failovers++;
            if (dc.failover.hasSubscribers) dc.failover.publish({ ...this.#dc, fromIndex: idx, toIndex: other });
            this.#o.logger.warn({ from: idx, to: other }, 'ims-token: client secret rejected; failed over to the other configured secret');
            this.#events.emit('secret-failover', { from: idx, to: other, reason: err.code }, (le) => this.#listenerError(le));
            return token;
          } catch (err2) {
            throw this.#fail(ImsTokenError.is(err2) ? err2 : err, snap);
          }
        }
      }
      throw this.#fail(err, snap);
    }
  }

  #fail(err: ImsTokenError, snap: SecretSnapshot): ImsTokenError {
    this.#lastError = { code: err.code, message: err.message, at: this.#clock(), ...(err.debugId ? { debugId: err.debugId } : {}) };
    if (HARD.has(err.code) && this.#o.negativeCacheMs > 0) {
      this.#hardFailure = { error: err, until: this.#clock() + this.#o.negativeCacheMs, fingerprint: snap.fingerprint };
    }
    this.#o.logger.error({ code: err.code, status: err.status, imsError: err.imsError, debugId: err.debugId }, `ims-token: ${err.message}`);
    return err;
  }

  async #mintWithRetries(secret: string, secretIndex: number): Promise<ImsToken> {
    const o = this.#o;
    if (!o.dispatcher && !this.#agent) {
      const agent = await createDefaultDispatcher(8);
      if (this.#agent || this.#closed) void agent.close();
      else this.#agent = agent;
    }
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The token provider was closed.');
      this.#c.imsRequests++;
      try {
        const request = (): ReturnType<typeof requestToken> =>
          requestToken({
            tokenUrl: o.tokenUrl,
            clientId: o.clientId,
            clientSecret: secret,
            scopes: o.scopes,
            timeoutMs: o.timeoutMs,
            dispatcher: o.dispatcher ?? this.#agent,
            clock: this.#clock,
            signal: this.#closing.signal,
            known: this.#secrets.known(),
          });
        const { token, debugId } = await traced(
          dc.imsRequest,
          () => ({ ...this.#dc, url: this.#tokenUrl, attempt: attempt + 1, secretIndex }),
          request,
          (r, ctx) => {
            ctx.status = r.status;
            if (r.debugId !== undefined) ctx.debugId = r.debugId;
          },
          (err, ctx) => {
            if (!ImsTokenError.is(err)) return;
            if (err.status !== undefined) ctx.status = err.status;
            if (err.debugId !== undefined) ctx.debugId = err.debugId;
          },
        );
        this.#c.mints++;
        this.#lastError = undefined;
        this.#hardFailure = undefined;
        o.logger.debug({ debugId, expiresAt: token.expiresAt, token: redactToken(token.accessToken) }, 'ims-token: minted a token');
        return token;
      } catch (err) {
        if (!ImsTokenError.is(err)) throw err;
        if (err.code === 'IMS_ABORTED' && this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The token provider was closed.');
        const delay =
          err.retryable && attempt < o.maxRetries
            ? backoffDelay(attempt, o.retryBaseDelayMs, o.retryMaxDelayMs, err.retryAfterMs)
            : undefined;
        if (delay === undefined) throw err; // #mint records it (#fail) once it gives up on every secret
        o.logger.debug(
          { code: err.code, attempt: attempt + 1, delayMs: Math.round(delay), debugId: err.debugId },
          'ims-token: retrying the token request',
        );
        await sleep(delay, this.#closing.signal, () => new ImsTokenError('IMS_CLOSED', 'The token provider was closed.'));
      }
    }
  }

  #times(token: ImsToken): { refreshAt: number; serveUntil: number } {
    const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
    const window = (this.#o.refreshWindowMs ?? Math.min(3_600_000, lifetime / 10)) * (1 + 0.2 * this.#jitter);
    const until = serveUntil(token, this.#userMinRemaining ? this.#o.minRemainingMs : undefined);
    const refreshAt = Math.floor(Math.max(token.issuedAt, Math.min(until, token.expiresAt - window)));
    return { refreshAt, serveUntil: until };
  }

  #adopt(token: ImsToken, source: 'ims' | 'store'): Entry {
    const { refreshAt, serveUntil } = this.#times(token);
    let hotUntil = -Infinity;
    if (this.#o.defaultClock && serveUntil - refreshAt >= COARSE_MIN_MARGIN_MS) {
      startCoarseClock();
      hotUntil = refreshAt;
    }
    const entry: Entry = {
      hotUntil,
      token,
      source,
      promise: Promise.resolve(token),
      headers: Promise.resolve(authHeadersFor(token)),
      refreshAt,
      serveUntil,
    };
    this.#entry = this.#last = entry;
    this.#dropped = false;
    this.#nextBackgroundAt = 0;
    this.#unauthorized.adopted(token.accessToken);
    this.#events.emit(
      'token',
      {
        source,
        expiresAt: token.expiresAt,
        issuedAt: token.issuedAt,
        scopes: token.scopes,
        clientId: token.clientId,
        tokenPreview: redactToken(token.accessToken),
      },
      (le) => this.#listenerError(le),
    );
    return entry;
  }

  #listenerError(err: unknown): void {
    this.#o.logger.error({ error: String((err as Error)?.message ?? err) }, 'ims-token: an event listener threw');
  }

  async invalidate(accessToken?: string): Promise<boolean> {
    const e = this.#entry;
    if (accessToken === undefined) {
      // An operator's drop: unconditional, whatever the 401 back-off says.
      this.#entry = undefined;
      this.#dropped = true;
      if (e) this.#remember(e.token.accessToken);
      this.#unauthorized.dropped();
      await this.#storeDelete(undefined);
      return true;
    }
    if (e ? e.token.accessToken !== accessToken : this.#invalidated.includes(accessToken) || this.#unauthorized.replacing(accessToken)) {
      this.#publishInvalidate('stale');
      return true; // already replaced (or being replaced): the retry gets the current token and costs no mint
    }
    // The policy (unauthorized.ts) decides synchronously, so a burst of 401s sees each other's verdicts.
    // Without a cached token (dropped for its age while this request was in flight), judge by the last one.
    const known = e ?? (this.#last?.token.accessToken === accessToken ? this.#last : undefined);
    const verdict = this.#unauthorized.onUnauthorized(
      known ? { accessToken, issuedAt: known.token.issuedAt, source: known.source, serveUntil: known.serveUntil } : accessToken,
    );
    this.#publishInvalidate(verdict === 'strike' ? 'refuse' : verdict, verdict === 'strike');
    if (verdict === 'refuse' || verdict === 'strike') {
      this.#c.invalidationsRefused++;
      if (verdict === 'strike') {
        const b = this.#unauthorized.backoff();
        this.#o.logger.warn(
          { token: redactToken(accessToken), backoffUntil: b?.until, level: b?.level },
          'ims-token: an API refused a freshly refreshed token too (401): the 401 is not about the token; 401s will not refresh it during the back-off',
        );
      }
      return false;
    }
    this.#c.invalidations++;
    this.#entry = undefined;
    this.#dropped = true;
    if (verdict === 'reread') return true; // another process's fresh token: read the store again, keep it there
    this.#remember(accessToken);
    await this.#storeDelete(accessToken);
    return true;
  }

  #publishInvalidate(verdict: InvalidateVerdict, strike = false): void {
    if (dc.invalidate.hasSubscribers) dc.invalidate.publish({ ...this.#dc, verdict, ...(strike ? { strike: true } : {}) });
  }

  /** Never take `accessToken` back from the store (the last few dropped tokens are remembered). */
  #remember(accessToken: string): void {
    if (this.#invalidated.includes(accessToken)) return;
    this.#invalidated.push(accessToken);
    if (this.#invalidated.length > 8) this.#invalidated.shift();
  }

  async #storeDelete(accessToken: string | undefined): Promise<void> {
    try {
      await this.#storeCall('delete', () => this.#store.delete(this.cacheKey, accessToken));
    } catch (err) {
      this.#storeError('delete', err);
    }
  }

  setSecrets(secrets: string | readonly string[]): void {
    this.#secrets.set(typeof secrets === 'string' ? [secrets] : secrets);
    this.#hardFailure = undefined;
  }

  status(): TokenProviderStatus {
    const now = this.#clock();
    const e = this.#entry;
    let state: TokenState;
    if (this.#closed) state = 'closed';
    else if (e && now < e.refreshAt) state = 'valid';
    else if (e && now < e.serveUntil) state = this.#inflight ? 'refreshing' : 'expiring';
    else if (this.#inflight) state = 'fetching';
    else if (this.#lastError) state = 'failed';
    else state = 'empty';
    const snap = this.#secrets.current;
    const backoff = this.#unauthorized.backoff();
    return {
      state,
      clientId: this.clientId,
      scopes: this.scopes,
      imsUrl: this.imsUrl,
      cacheKey: this.cacheKey,
      ...(e
        ? {
            expiresAt: e.token.expiresAt,
            issuedAt: e.token.issuedAt,
            expiresInMs: Math.max(0, e.token.expiresAt - now),
            refreshAt: e.refreshAt,
            tokenPreview: redactToken(e.token.accessToken),
          }
        : {}),
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(backoff ? { unauthorizedBackoff: backoff } : {}),
      secret: { source: this.#secrets.kind, index: this.#secretIndex, count: snap?.secrets.length ?? 0 },
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
    const agent = this.#agent;
    this.#agent = undefined;
    await Promise.all([
      agent ? agent.close().catch(() => undefined) : undefined,
      (this.#store as unknown as Record<symbol, unknown>)[OWNED_STORE] === true ? this.#store.close?.().catch(() => undefined) : undefined,
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

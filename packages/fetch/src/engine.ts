import { configError } from '@ims-token/core';
import type { ImsAuthHeaders, Logger } from '@ims-token/core';
import type { Dispatcher } from 'undici';
import { toLegacy } from './adapter';
import type { LegacyHandler } from './adapter';
import { AUTH, KEY, callerCredentials, withHeaders, withoutCredentials } from './headers';
import { DEFAULT_ALLOWED_HOSTS, compileAllowedHosts, createHrefDecider } from './hosts';
import type { HostRule } from './hosts';
import { authHeadersOf, checkLogger, checkProvider } from './options';
import type { ImsCredentialOptions, ImsCredentialSource } from './options';
import { ImsRequest } from './request';

export type DispatchOptions = Dispatcher.DispatchOptions & { maxRedirections?: number | null; signal?: unknown };
export type AnyHandler = Dispatcher.DispatchHandler | LegacyHandler;
/** The next dispatcher's `dispatch`, which gets the request with the credentials added. */
export type Dispatch = (opts: DispatchOptions, handler: AnyHandler) => boolean;

/** Where one request stands against `allowedHosts`, across all its hops (redirects, or fetch's own hops). */
export const FRESH = 0;
export const IN = 1; // started at an allowed host and has not left
export const LEFT = 2; // started at an allowed host, then a hop went elsewhere: no credentials, ever again
export const OUTSIDE = 3; // started elsewhere: nothing is added, nothing removed
export type Phase = typeof FRESH | typeof IN | typeof LEFT | typeof OUTSIDE;

/** The state of one request, shared by all its hops. */
export interface Chain {
  phase: Phase;
  /** The credential headers the caller set at the first allowed hop (AUTH | KEY), or -1 before. */
  own: number;
  /** The one 401 replay has been used. */
  retried: boolean;
  /** fetch: the caller can send the body again, so a 401 the dispatcher cannot replay is replayed above it. */
  replayAbove: boolean;
  /** fetch: core said to retry a 401 that the dispatcher could not replay. */
  again: boolean;
  /** The dispatcher saw the request at all. */
  seen: boolean;
  /** The token failure delivered to the handler, if any. */
  error: unknown;
}

export function newChain(replayAbove = false): Chain {
  return { phase: FRESH, own: -1, retried: false, replayAbove, again: false, seen: false, error: undefined };
}

/** Moves a chain on by one hop to an allowed (or not allowed) origin; returns the new phase. */
export function advance(chain: Chain, allowed: boolean): Phase {
  chain.seen = true;
  if (chain.phase === FRESH) chain.phase = allowed ? IN : OUTSIDE;
  else if (chain.phase === IN && !allowed) chain.phase = LEFT;
  return chain.phase;
}

function originKey(origin: unknown): string {
  return typeof origin === 'string' ? origin : origin instanceof URL ? origin.origin : String(origin);
}

/** Options the engine reads; every adapter's options extend these. */
export interface EngineOptions extends ImsCredentialOptions {
  maxRedirections?: number;
}

/**
 * The one credential path: decides per hop whether a request may carry credentials, adds them, and hands
 * anything that needs watching (a 401, a redirect to follow) to an {@link ImsRequest}. Every adapter of the
 * package (`createImsFetch`, `createImsDispatcher`, `imsInterceptor`, and through them express's `imsProxy`
 * and `req.ims.fetch`) is this engine with a different face.
 */
export class ImsEngine {
  readonly provider: ImsCredentialSource;
  readonly clientId: string;
  readonly allowedHosts: readonly string[];
  readonly maxRedirections: number;
  readonly auth: () => ImsAuthHeaders | Promise<ImsAuthHeaders>;
  readonly #allows: HostRule;
  readonly #decide: (href: string) => boolean;
  readonly #logger: Logger | undefined;
  readonly #warned = new Set<string>();
  #lastOrigin: string | undefined = undefined;
  #lastAllowed = false;

  constructor(options: EngineOptions, fn: string) {
    this.provider = checkProvider(options, fn);
    this.clientId = this.provider.clientId;
    this.allowedHosts = [...(options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS)];
    this.#allows = compileAllowedHosts(options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS);
    this.#decide = createHrefDecider(this.#allows);
    this.#logger = checkLogger(options.logger, fn);
    const max = options.maxRedirections ?? 0;
    if (!Number.isInteger(max) || max < 0) throw configError('maxRedirections', `of ${fn}() must be a whole number ≥ 0`);
    this.maxRedirections = max;
    this.auth = authHeadersOf(this.provider);
  }

  /** Whether a request to this origin (a string like `https://x.adobe.io` or a URL) may carry credentials. */
  allowed(origin: unknown): boolean {
    if (typeof origin === 'string') {
      // The decision is a pure function of the string: the origin of the last request (most clients talk to
      // one API host) is answered without scanning it or looking it up again.
      if (origin === this.#lastOrigin) return this.#lastAllowed;
      const allowed = this.#decide(origin);
      this.#lastOrigin = origin;
      this.#lastAllowed = allowed;
      return allowed;
    }
    if (origin instanceof URL) return this.#allows(origin.protocol, origin.hostname);
    return false;
  }

  /** Sends one request on through `next`, with the credentials it may carry; `chain` carries fetch's hops. */
  dispatch(next: Dispatch, opts: DispatchOptions, handler: AnyHandler, chain?: Chain): boolean {
    let follow = this.maxRedirections;
    const asked = opts.maxRedirections;
    if (asked !== undefined && asked !== null) {
      follow = asked;
      if (asked !== 0) opts = { ...opts, maxRedirections: 0 }; // below us nobody follows: undici refuses it anyway
    }
    const allowed = this.allowed(opts.origin);
    if (follow > 0) return new ImsRequest(this, next, opts, toLegacy(handler), chain ?? newChain(), follow).send(allowed);
    const phase = chain ? advance(chain, allowed) : allowed ? IN : OUTSIDE;
    if (phase === OUTSIDE) {
      // Watched only until this origin has had its one warning about a 401 without credentials.
      if (this.#warned.has(originKey(opts.origin))) return next(opts, handler);
      return new ImsRequest(this, next, opts, toLegacy(handler), chain ?? newChain(), 0).send(allowed);
    }
    if (phase === LEFT) return next({ ...opts, headers: withoutCredentials(opts.headers) }, handler);
    let own = chain ? chain.own : -1;
    if (own < 0) {
      own = callerCredentials(opts.headers);
      if (chain) chain.own = own;
    }
    if (own & AUTH) {
      // The caller's own token: add only the API key, and never replay on their behalf.
      return own & KEY
        ? next(opts, handler)
        : next({ ...opts, headers: withHeaders(opts.headers, { 'x-api-key': this.clientId }) }, handler);
    }
    const c = chain ?? newChain();
    c.own = own;
    return new ImsRequest(this, next, opts, toLegacy(handler), c, 0).send(allowed);
  }

  /** `provider.invalidate(token)` as core answers it: `true` = retry once with a fresh token. Never rejects. */
  invalidate(token: string): Promise<boolean> {
    try {
      return this.provider.invalidate(token).then(
        (retry) => retry === true,
        () => false,
      );
    } catch {
      return Promise.resolve(false);
    }
  }

  /** One warning per origin that answered 401 to a request without credentials because its host is not allowed. */
  warnNotAllowed(origin: unknown): void {
    const key = originKey(origin);
    if (this.#warned.has(key) || this.#warned.size >= 1000) return;
    this.#warned.add(key);
    let protocol = '';
    try {
      protocol = new URL(key).protocol;
    } catch {
      // an origin undici accepted is a URL; if not, the generic wording below still holds
    }
    const why =
      protocol === 'http:'
        ? 'credentials go over https only (plain http only to a loopback host named in allowedHosts)'
        : 'its host is not in allowedHosts';
    const msg =
      `ims-token: ${key} answered 401 to a request sent without Adobe IMS credentials: ${why} ` +
      `(allowedHosts: ${this.allowedHosts.join(', ')}). If it is an Adobe API, add its host to allowedHosts.`;
    this.warn({ origin: key, allowedHosts: this.allowedHosts }, msg, 'IMS_HOST_NOT_ALLOWED');
  }

  /** A warning through the logger (guarded: a logger that throws breaks nothing), else one process warning. */
  warn(obj: object, msg: string, code: string): void {
    try {
      if (this.#logger) this.#logger.warn!(obj, msg);
      else process.emitWarning(msg, { code });
    } catch {
      // a broken logger must not break a request
    }
  }
}

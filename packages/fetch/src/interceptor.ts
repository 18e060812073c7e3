import type { Duplex } from 'node:stream';
import type { ImsAuthHeaders } from '@ims-token/core';
import type { Dispatcher } from 'undici';
import { DEFAULT_ALLOWED_HOSTS, compileAllowedHosts, createHrefDecider } from './hosts';
import { AUTH, KEY, authHeadersOf, checkProvider, credentialFlag, credentialsFor, tokenOf } from './options';
import type { ImsCredentialSource } from './options';

/**
 * Options of {@link imsInterceptor}.
 *
 * @example
 * ```ts
 * const options: ImsInterceptorOptions = { provider, allowedHosts: ['*.adobe.io'] }
 * ```
 */
export interface ImsInterceptorOptions {
  /** Where tokens come from: a `TokenProvider` of `@ims-token/core`. */
  provider: ImsCredentialSource;
  /**
   * Hosts that get `Authorization` and `x-api-key`: exact names, IP literals or `*.suffix` patterns.
   * HTTPS only, except plain http to a loopback host named exactly. Default: `['*.adobe.io']`.
   */
  allowedHosts?: readonly string[];
}

type Headers_ = Dispatcher.DispatchOptions['headers'];
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Dispatch = Dispatcher.Dispatch;

/** Which of the two credential headers the caller set (AUTH | KEY bits), in any of undici's header forms. */
function callerSet(h: Headers_): number {
  if (h === null || h === undefined) return 0;
  let f = 0;
  const see = (name: unknown): void => {
    f |= credentialFlag(String(name));
  };
  if (Array.isArray(h)) {
    if (h.length > 0 && Array.isArray(h[0])) for (const pair of h as unknown as [string, unknown][]) see(pair[0]);
    else for (let i = 0; i < h.length; i += 2) see(h[i]);
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of h as Iterable<[string, unknown]>) see(pair[0]);
  } else {
    for (const k in h) see(k);
  }
  return f;
}

/** The request's headers plus `add`, as a new object (a record stays a record; other forms become a flat array). */
function withHeaders(h: Headers_, add: Record<string, string>): NonNullable<Headers_> {
  if (h === null || h === undefined) return add;
  if (!Array.isArray(h) && typeof (h as Iterable<unknown>)[Symbol.iterator] !== 'function')
    return { ...(h as Record<string, string>), ...add };
  const flat: string[] = [];
  if (Array.isArray(h) && !(h.length > 0 && Array.isArray(h[0]))) flat.push(...h);
  else for (const [k, v] of h as Iterable<[string, string | string[] | undefined]>) if (v !== undefined) flat.push(k, v as string);
  for (const k in add) flat.push(k, add[k]!);
  return flat;
}

/** Handed to a handler that fails before any dispatch happened (like undici's dns interceptor does with `null`). */
function idleController(): Controller {
  let reason: Error | null = null;
  return {
    get aborted() {
      return reason !== null;
    },
    get paused() {
      return false;
    },
    get reason() {
      return reason;
    },
    abort(r: Error) {
      reason ??= r;
    },
    pause() {},
    resume() {},
  };
}

function fail(handler: Handler, controller: Controller | null, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  if (typeof handler.onResponseError === 'function') handler.onResponseError(controller ?? idleController(), error);
  else handler.onError?.(error);
}

/**
 * Wraps the caller's handler for one request whose body can be replayed: a first `401` is swallowed and
 * the request is sent again with a fresh token. It is also the controller the caller sees, stable across
 * both attempts (as undici's RetryHandler does), so pause/abort reach whichever attempt is running.
 */
class RetryOn401 implements Handler, Controller {
  readonly #handler: Handler;
  readonly #dispatch: Dispatch;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #own: number;
  readonly #provider: ImsCredentialSource;
  readonly #token: string;
  #target: Controller | null = null;
  #paused = false;
  #abortReason: Error | null = null;
  #started = false;
  #swallow = false;
  #retried = false;

  constructor(
    handler: Handler,
    dispatch: Dispatch,
    opts: Dispatcher.DispatchOptions,
    own: number,
    provider: ImsCredentialSource,
    token: string,
  ) {
    this.#handler = handler;
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#own = own;
    this.#provider = provider;
    this.#token = token;
  }

  /** Invalidates exactly the token that got the 401 and builds the request again with a fresh one. */
  async #refresh(): Promise<Dispatcher.DispatchOptions> {
    await this.#provider.invalidate(this.#token);
    const fresh = await this.#provider.getAuthHeaders();
    return { ...this.#opts, headers: withHeaders(this.#opts.headers, credentialsFor(this.#own, fresh)) };
  }

  // --- the controller the caller sees

  get aborted(): boolean {
    return this.#abortReason !== null || (this.#target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused || (this.#target?.paused ?? false);
  }
  get reason(): Error | null {
    return this.#abortReason ?? this.#target?.reason ?? null;
  }
  get rawHeaders(): Controller['rawHeaders'] {
    return this.#target?.rawHeaders ?? null;
  }
  get rawTrailers(): Controller['rawTrailers'] {
    return this.#target?.rawTrailers ?? null;
  }
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    this.#target?.abort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }

  // --- the handler undici calls

  onRequestStart(controller: Controller, context: unknown): void {
    this.#target = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
    else if (this.#paused) controller.pause();
    if (!this.#started) {
      this.#started = true;
      this.#handler.onRequestStart?.(this, context);
    }
  }

  onRequestUpgrade(_c: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: Duplex): void {
    this.#handler.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStart(
    _c: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode === 401 && !this.#retried) {
      this.#retried = true;
      this.#swallow = true;
      return;
    }
    this.#handler.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (!this.#swallow) this.#handler.onResponseData?.(this, chunk);
  }

  onResponseEnd(_c: Controller, trailers: Record<string, string | string[] | undefined>): void {
    if (!this.#swallow) {
      this.#handler.onResponseEnd?.(this, trailers);
      return;
    }
    this.#swallow = false;
    this.#refresh().then(
      (opts) => {
        if (this.#abortReason) return fail(this.#handler, this, this.#abortReason);
        try {
          this.#dispatch(opts, this);
        } catch (err) {
          fail(this.#handler, this, err);
        }
      },
      (err: unknown) => fail(this.#handler, this, err),
    );
  }

  onResponseError(_c: Controller, err: Error): void {
    this.#handler.onResponseError?.(this, err);
  }
}

/**
 * For a request whose body cannot be replayed: the 401 reaches the caller, but the refused token is still
 * dropped (compare semantics), so the next request does not repeat it.
 */
class InvalidateOn401 implements Handler {
  readonly #handler: Handler;
  readonly #provider: ImsCredentialSource;
  readonly #token: string;

  constructor(handler: Handler, provider: ImsCredentialSource, token: string) {
    this.#handler = handler;
    this.#provider = provider;
    this.#token = token;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context);
  }
  onRequestUpgrade(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    socket: Duplex,
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }
  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode === 401) void this.#provider.invalidate(this.#token);
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }
  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }
  onResponseEnd(controller: Controller, trailers: Record<string, string | string[] | undefined>): void {
    this.#handler.onResponseEnd?.(controller, trailers);
  }
  onResponseError(controller: Controller, err: Error): void {
    this.#handler.onResponseError?.(controller, err);
  }
}

function isReplayable(body: unknown): boolean {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * An undici interceptor that adds `Authorization: Bearer <token>` and `x-api-key: <client id>` to requests
 * for allowed hosts (default `*.adobe.io`, HTTPS only), unless the caller set them. Compose it on an
 * `Agent`, or set that agent as the global dispatcher so the global `fetch` gets it too.
 *
 * - A `401` from an allowed host invalidates exactly that token and replays the request once with a fresh
 *   one when the body can be sent again (none, string, Buffer/Uint8Array); otherwise the 401 passes through
 *   (and the token is still dropped, so the next request gets a fresh one).
 * - Each dispatch is judged on its own origin, so each redirect hop is too — as long as the redirects are
 *   followed outside this interceptor: `fetch()` does that, and so does undici's `redirect` interceptor when
 *   it comes after this one in `compose(...)`. Do not put `redirect` before it.
 * - A token failure goes to the handler (`onResponseError`) as the `ImsTokenError` of `@ims-token/core`;
 *   `request()` rejects with it, `fetch()` rejects with a `TypeError` whose `cause` is it.
 *
 * Throws `ImsTokenError` `IMS_CONFIG` for a bad `provider` or `allowedHosts`.
 *
 * @example
 * ```ts
 * import { Agent, setGlobalDispatcher, interceptors } from 'undici'
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * import { imsInterceptor } from '@ims-token/fetch'
 *
 * const provider = createTokenProvider(fromEnv())
 * setGlobalDispatcher(new Agent().compose(imsInterceptor({ provider }), interceptors.redirect({ maxRedirections: 5 })))
 * const res = await fetch('https://firefly-api.adobe.io/v3/images/generate', { method: 'POST', body })
 * ```
 */
export function imsInterceptor(options: ImsInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const provider = checkProvider(options, 'imsInterceptor');
  const allows = compileAllowedHosts(options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS);
  const clientId = provider.clientId;
  const decide = createHrefDecider(allows);
  const authHeaders = authHeadersOf(provider);
  const originAllowed = (origin: string | URL | undefined): boolean =>
    origin === undefined ? false : typeof origin === 'string' ? decide(origin) : allows(origin.protocol, origin.hostname);

  return (dispatch: Dispatch): Dispatch => {
    const send = (opts: Dispatcher.DispatchOptions, handler: Handler, own: number, auth: ImsAuthHeaders): boolean => {
      const next = { ...opts, headers: withHeaders(opts.headers, credentialsFor(own, auth)) };
      if (typeof handler.onRequestStart !== 'function') return dispatch(next, handler); // a legacy handler: undici adapts it
      const token = tokenOf(auth.authorization);
      if (!isReplayable(opts.body)) return dispatch(next, new InvalidateOn401(handler, provider, token));
      return dispatch(next, new RetryOn401(handler, dispatch, opts, own, provider, token));
    };

    return function imsDispatch(opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
      if (!originAllowed(opts.origin)) return dispatch(opts, handler);
      const own = callerSet(opts.headers);
      if (own & AUTH) {
        // The caller brought their own token: add only the API key, and do not retry on their behalf.
        if (own & KEY) return dispatch(opts, handler);
        return dispatch({ ...opts, headers: withHeaders(opts.headers, { 'x-api-key': clientId }) }, handler);
      }
      const auth = authHeaders();
      if (!(auth instanceof Promise)) return send(opts, handler, own, auth); // cached token: no detour

      // Waiting for IMS: a caller's AbortSignal (undici request() passes it along) ends the wait at once.
      const signal = (opts as { signal?: unknown }).signal as AbortSignal | undefined;
      const watch = signal !== undefined && signal !== null && typeof signal.addEventListener === 'function';
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        fail(handler, null, signal?.reason ?? new Error('The request was aborted.'));
      };
      if (watch) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      auth.then(
        (a) => {
          if (watch) signal.removeEventListener('abort', onAbort);
          if (done) return;
          done = true;
          try {
            send(opts, handler, own, a);
          } catch (err) {
            fail(handler, null, err);
          }
        },
        (err: unknown) => {
          if (watch) signal.removeEventListener('abort', onAbort);
          if (done) return;
          done = true;
          fail(handler, null, err);
        },
      );
      return true;
    };
  };
}

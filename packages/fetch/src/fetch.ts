import { configError } from '@ims-token/core';
import type { Dispatcher } from 'undici';
import { FRESH, ImsEngine } from './engine';
import type { AnyHandler, Chain, Dispatch, DispatchOptions } from './engine';
import { loadUndici } from './load';
import type { ImsCredentialOptions } from './options';

/**
 * A function with the signature of the global `fetch`, as {@link createImsFetch} returns it.
 *
 * @example
 * ```ts
 * const imsFetch: ImsFetch = createImsFetch({ provider })
 * ```
 */
export type ImsFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Any `fetch`-shaped function that honours undici's `dispatcher` init option: Node's global `fetch`, undici's
 * `fetch` (whose `Request`/`Response` types differ a little from the global ones), or a wrapper around one.
 *
 * @example
 * ```ts
 * import { fetch as undiciFetch } from 'undici'
 * const transport: FetchLike = undiciFetch
 * createImsFetch({ provider, fetch: transport })
 * ```
 */
export type FetchLike = (input: never, init?: never) => Promise<Response>;

/**
 * Options of {@link createImsFetch}.
 *
 * @example
 * ```ts
 * const options: ImsFetchOptions = { provider, allowedHosts: ['*.adobe.io', 'api.example.com'] }
 * ```
 */
export interface ImsFetchOptions extends ImsCredentialOptions {
  /**
   * The `fetch` to call; it must pass `init.dispatcher` on (Node's global `fetch` and undici's do). Default: `globalThis.fetch`.
   */
  fetch?: FetchLike;
  /** The undici dispatcher that sends the requests (a call's own `init.dispatcher` wins). Default: the global dispatcher. */
  dispatcher?: Dispatcher;
}

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** The global dispatcher that Node's fetch and every copy of undici share, without loading undici when it is set. */
function globalDispatcher(): Dispatcher {
  return ((globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as Dispatcher | undefined) ?? loadUndici().getGlobalDispatcher();
}

/** Bodies fetch can send again: none, string, bytes, Blob, URLSearchParams, FormData. */
function isReplayable(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  const tag = Object.prototype.toString.call(body);
  return tag === '[object URLSearchParams]' || tag === '[object FormData]' || tag === '[object Blob]' || tag === '[object File]';
}

function isDispatcher(d: unknown): d is Dispatcher {
  return typeof d === 'object' && d !== null && typeof (d as Dispatcher).dispatch === 'function';
}

/**
 * Returns a `fetch` that adds `Authorization: Bearer <token>` and `x-api-key: <client id>` to HTTPS requests
 * for allowed hosts (default `*.adobe.io`), unless the caller set them; other requests pass untouched. It is
 * `fetch` with {@link createImsDispatcher}'s credential path as its dispatcher, one per call:
 *
 * - fetch follows redirects itself (modes, limits, `res.url` as usual); every hop is judged on its host, and
 *   once a hop leaves the allowed hosts no later hop gets credentials, ours or the caller's.
 * - A `401` that carried our token goes to `provider.invalidate(token)`; when core answers `true` the request
 *   is sent once more with a fresh token if its body can be sent again (none, string, bytes, Blob,
 *   URLSearchParams, FormData; not a stream). Otherwise the 401 is returned.
 * - A token failure rejects with the `ImsTokenError` of `@ims-token/core` (e.g. `IMS_INVALID_CLIENT`).
 * - A 401 from a host that got no credentials because it is not allowed logs one warning per origin.
 *
 * Throws `ImsTokenError` `IMS_CONFIG` (with `field`) for a bad `provider`, `fetch`, `dispatcher` or `allowedHosts`.
 *
 * @example
 * ```ts
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * import { createImsFetch } from '@ims-token/fetch'
 *
 * const imsFetch = createImsFetch({ provider: createTokenProvider(fromEnv()) })
 * const res = await imsFetch('https://firefly-api.adobe.io/v3/images/generate', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ prompt: 'a lighthouse at dusk' }),
 * })
 * ```
 */
export function createImsFetch(options: ImsFetchOptions): ImsFetch {
  const engine = new ImsEngine(options, 'createImsFetch');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw configError('fetch', 'of createImsFetch() must be a function with the signature of fetch');
  }
  const base = (options.fetch ?? globalThis.fetch) as ImsFetch | undefined;
  if (typeof base !== 'function') {
    throw configError('fetch', 'of createImsFetch() is needed: this runtime has no global fetch (pass fetch from undici)');
  }
  const fixed = options.dispatcher;
  if (fixed !== undefined && !isDispatcher(fixed)) {
    throw configError('dispatcher', 'of createImsFetch() must be an undici Dispatcher (an Agent, a Pool …)');
  }
  // Resolved per hop, not at creation: Node's fetch sets the global dispatcher only when it first runs.
  const toGlobal: Dispatch = (opts, handler) => globalDispatcher().dispatch(opts, handler as Dispatcher.DispatchHandler);
  const toFixed: Dispatch | undefined = fixed && ((opts, handler) => fixed.dispatch(opts, handler as Dispatcher.DispatchHandler));
  let ignored = false;

  /** After fetch answered: replay a 401 above the dispatcher when core said so, and say when nothing was added. */
  function settle(call: FetchCall, input: string | URL | Request, hopInit: RequestInit, res: Response): Response | Promise<Response> {
    if (call.again) {
      // Core said to retry a 401 whose body only fetch can send again (a stream under the dispatcher).
      call.again = false;
      call.phase = FRESH;
      if (res.body && !res.bodyUsed) res.body.cancel().catch(() => undefined);
      return base!(input, hopInit).catch((err: unknown) => call.fail(err));
    }
    if (!call.seen && !ignored && /^https?:/i.test(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)) {
      ignored = true;
      engine.warn(
        {},
        "ims-token: the fetch given to createImsFetch() did not use init.dispatcher, so no credentials could be added; pass a fetch that does (Node's global fetch or undici's)",
        'IMS_FETCH_IGNORES_DISPATCHER',
      );
    }
    return res;
  }

  return function imsFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = typeof input === 'object' && !(input instanceof URL) ? input : undefined;
    const own = (init as { dispatcher?: unknown } | undefined)?.dispatcher;
    const next = isDispatcher(own)
      ? (opts: DispatchOptions, h: AnyHandler) => own.dispatch(opts, h as Dispatcher.DispatchHandler)
      : (toFixed ?? toGlobal);
    const call = new FetchCall(engine, next, isReplayable(init?.body !== undefined ? init.body : (request?.body ?? null)));
    const hopInit = { ...init, dispatcher: call } as unknown as RequestInit;
    return base!(input, hopInit).then(
      (res) => settle(call, input, hopInit, res),
      (err: unknown) => call.fail(err),
    );
  };
}

/**
 * One `imsFetch()` call: the dispatcher fetch is given for it (so all of fetch's hops for one call meet the
 * same state: once a redirect left the allowed hosts, credentials never come back) and that state itself.
 */
class FetchCall implements Chain {
  phase: Chain['phase'] = FRESH;
  own = -1;
  retried = false;
  again = false;
  seen = false;
  error: unknown = undefined;
  readonly #engine: ImsEngine;
  readonly #next: Dispatch;
  readonly replayAbove: boolean;

  constructor(engine: ImsEngine, next: Dispatch, replayAbove: boolean) {
    this.#engine = engine;
    this.#next = next;
    this.replayAbove = replayAbove;
  }

  dispatch(opts: DispatchOptions, handler: AnyHandler): boolean {
    return this.#engine.dispatch(this.#next, opts, handler, this);
  }

  /** fetch() wraps a dispatcher's error in TypeError('fetch failed'); a token failure is ours to report as it is. */
  fail(err: unknown): never {
    if (this.error !== undefined && (err === this.error || (err as { cause?: unknown }).cause === this.error)) throw this.error;
    throw err;
  }
}

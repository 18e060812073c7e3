import { configError } from '@ims-token/core';
import type { Dispatcher } from 'undici';
import { FRESH, ImsEngine, newChain } from './engine';
import type { AnyHandler, Dispatch, DispatchOptions } from './engine';
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
  let ignored = false;

  return async function imsFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = typeof input === 'object' && !(input instanceof URL) ? input : undefined;
    const chain = newChain(isReplayable(init?.body !== undefined ? init.body : (request?.body ?? null)));
    const own = (init as { dispatcher?: unknown } | undefined)?.dispatcher;
    const inner = isDispatcher(own) ? own : fixed;
    // Resolved per hop, not now: Node's fetch sets the global dispatcher only when it first runs.
    const next: Dispatch = (opts, handler) => (inner ?? globalDispatcher()).dispatch(opts, handler as Dispatcher.DispatchHandler);
    const dispatcher = { dispatch: (opts: DispatchOptions, handler: AnyHandler) => engine.dispatch(next, opts, handler, chain) };
    const hopInit = { ...init, dispatcher } as RequestInit;
    try {
      let res = await base(input, hopInit);
      if (chain.again) {
        // Core said to retry a 401 whose body only fetch can send again (a stream under the dispatcher).
        chain.again = false;
        chain.phase = FRESH;
        if (res.body && !res.bodyUsed) res.body.cancel().catch(() => undefined);
        res = await base(input, hopInit);
      }
      if (!chain.seen && !ignored && /^https?:/i.test(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)) {
        ignored = true;
        engine.warn(
          {},
          "ims-token: the fetch given to createImsFetch() did not use init.dispatcher, so no credentials could be added; pass a fetch that does (Node's global fetch or undici's)",
          'IMS_FETCH_IGNORES_DISPATCHER',
        );
      }
      return res;
    } catch (err) {
      // fetch() wraps a dispatcher's error in TypeError('fetch failed'); a token failure is ours to report as it is.
      if (chain.error !== undefined && (err === chain.error || (err as { cause?: unknown }).cause === chain.error)) throw chain.error;
      throw err;
    }
  };
}

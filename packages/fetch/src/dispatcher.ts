import { configError } from '@ims-token/core';
import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';
import { ImsEngine } from './engine';
import type { AnyHandler, Dispatch, DispatchOptions } from './engine';
import { loadUndici } from './load';
import type { ImsCredentialOptions } from './options';

/**
 * Options of {@link createImsDispatcher}.
 *
 * @example
 * ```ts
 * const options: ImsDispatcherOptions = { provider, dispatcher: new Agent({ connections: 16 }), maxRedirections: 5 }
 * ```
 */
export interface ImsDispatcherOptions extends ImsCredentialOptions {
  /**
   * The dispatcher that sends the requests (an `Agent`, a `Pool`, a `ProxyAgent` …). `close()` and `destroy()`
   * are passed on to it. Default: the global dispatcher at the time of the call (never closed by this one).
   */
  dispatcher?: Dispatcher;
  /**
   * Redirects to follow, judging every hop (undici's `request()` follows none by default). A request's own
   * `maxRedirections` option wins. fetch() follows redirects itself and asks for none. Default `0`.
   */
  maxRedirections?: number;
}

type Ctor = new (engine: ImsEngine, inner: Dispatcher, owned: boolean) => Dispatcher;
let ImsDispatcher: Ctor | undefined;

function dispatcherClass(undici: typeof Undici): Ctor {
  return (ImsDispatcher ??= class ImsDispatcher extends undici.Dispatcher {
    readonly #engine: ImsEngine;
    readonly #inner: Dispatcher;
    readonly #owned: boolean;
    readonly #next: Dispatch;

    constructor(engine: ImsEngine, inner: Dispatcher, owned: boolean) {
      super();
      this.#engine = engine;
      this.#inner = inner;
      this.#owned = owned;
      this.#next = (opts, handler) => inner.dispatch(opts, handler as Dispatcher.DispatchHandler);
    }

    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      return this.#engine.dispatch(this.#next, opts as DispatchOptions, handler as AnyHandler);
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      const done = this.#owned ? this.#inner.close() : Promise.resolve();
      if (callback === undefined) return done;
      done.then(callback, callback);
    }

    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
      const callback = typeof a === 'function' ? a : b;
      const err = typeof a === 'function' ? null : (a ?? null);
      const done = this.#owned ? this.#inner.destroy(err) : Promise.resolve();
      if (callback === undefined) return done;
      done.then(callback, callback);
    }
  });
}

/**
 * An undici `Dispatcher` that adds `Authorization: Bearer <token>` and `x-api-key: <client id>` to requests
 * for allowed hosts (default `*.adobe.io`, HTTPS only) and passes them to the dispatcher it wraps. It is the
 * one credential path of this package: `createImsFetch()` and `imsInterceptor()` are faces of it.
 *
 * - A caller-set `Authorization` is the caller's own token: only `x-api-key` is added, nothing is replayed.
 * - A `401` on a request that carried our token goes to `provider.invalidate(token)`; when core answers
 *   `true` the request is sent once more with a fresh token, if its body can be sent again (none, string,
 *   bytes); otherwise the 401 is passed on (a stream body's token is still dropped).
 * - With `maxRedirections`, it follows redirects itself and judges every hop: credentials, ours and the
 *   caller's, are dropped at the first hop off the allowed hosts and never come back later in the chain.
 * - Token failures reach the handler: `request()` rejects with the `ImsTokenError` of core, `fetch()` with a
 *   `TypeError` whose `cause` it is.
 *
 * Works with `request()`, `fetch(url, { dispatcher })` (undici's or Node's), `setGlobalDispatcher()` and
 * `.compose(...)`. Throws `ImsTokenError` `IMS_CONFIG` (with `field`) for a bad option.
 *
 * @example
 * ```ts
 * import { Agent, request, setGlobalDispatcher } from 'undici'
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * import { createImsDispatcher } from '@ims-token/fetch'
 *
 * const provider = createTokenProvider(fromEnv())
 * const dispatcher = createImsDispatcher({ provider, dispatcher: new Agent(), maxRedirections: 5 })
 * const { statusCode, body } = await request('https://firefly-api.adobe.io/v3/status/123', { dispatcher })
 * setGlobalDispatcher(dispatcher) // fetch('https://…adobe.io/…') is authorized too
 * ```
 */
export function createImsDispatcher(options: ImsDispatcherOptions): Dispatcher {
  const engine = new ImsEngine(options, 'createImsDispatcher');
  const given = options.dispatcher;
  if (given !== undefined && (typeof given !== 'object' || given === null || typeof given.dispatch !== 'function')) {
    throw configError('dispatcher', 'of createImsDispatcher() must be an undici Dispatcher (an Agent, a Pool …)');
  }
  const undici = loadUndici();
  return new (dispatcherClass(undici))(engine, given ?? undici.getGlobalDispatcher(), given !== undefined);
}

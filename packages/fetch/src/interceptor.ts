import type { Dispatcher } from 'undici';
import { ImsEngine } from './engine';
import type { AnyHandler, Dispatch, DispatchOptions } from './engine';
import type { ImsCredentialOptions } from './options';

/**
 * Options of {@link imsInterceptor}.
 *
 * @example
 * ```ts
 * const options: ImsInterceptorOptions = { provider, allowedHosts: ['*.adobe.io'], maxRedirections: 5 }
 * ```
 */
export interface ImsInterceptorOptions extends ImsCredentialOptions {
  /**
   * Redirects to follow, judging every hop (use this instead of undici's `interceptors.redirect()`).
   * A request's own `maxRedirections` option wins. Default `0`.
   */
  maxRedirections?: number;
}

/**
 * The credential path of {@link createImsDispatcher} as an undici interceptor, for `Agent.compose(...)` or a
 * global dispatcher: it adds `Authorization` and `x-api-key` to requests for allowed hosts (default
 * `*.adobe.io`, HTTPS only), replays a `401` once when core says so and the body allows it (none, string,
 * bytes), and follows redirects itself when given `maxRedirections`.
 *
 * Redirects: give it `maxRedirections` rather than composing `interceptors.redirect()`. If a redirect
 * interceptor runs *below* it (`compose(interceptors.redirect(), imsInterceptor())`, where the later one is
 * the outer one), the request fails with `IMS_CONFIG` before a hop is sent, since such a hop would leave with
 * our headers unjudged. Above it (`compose(imsInterceptor(), interceptors.redirect())`) each hop is judged on
 * its own host. `fetch()` follows redirects above any dispatcher, so each hop is judged on its own too.
 *
 * Throws `ImsTokenError` `IMS_CONFIG` (with `field`) for a bad option.
 *
 * @example
 * ```ts
 * import { Agent, request, setGlobalDispatcher } from 'undici'
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * import { imsInterceptor } from '@ims-token/fetch'
 *
 * const provider = createTokenProvider(fromEnv())
 * const agent = new Agent().compose(imsInterceptor({ provider, maxRedirections: 5 }))
 * const { statusCode } = await request('https://firefly-api.adobe.io/v3/status/123', { dispatcher: agent })
 * setGlobalDispatcher(agent)
 * ```
 */
export function imsInterceptor(options: ImsInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const engine = new ImsEngine(options, 'imsInterceptor');
  return (dispatch) => {
    const next = dispatch as unknown as Dispatch;
    return (opts, handler) => engine.dispatch(next, opts as DispatchOptions, handler as AnyHandler);
  };
}

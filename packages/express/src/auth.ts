import { createImsFetch } from '@ims-token/fetch';
import type { ImsFetch } from '@ims-token/fetch';
import type { GetTokenOptions, ImsAuthHeaders, ImsToken, TokenProvider } from '@ims-token/core';
import type { RequestHandler } from 'express';
import { checkProvider } from './problem';

/** What {@link imsAuth} puts on `req.ims`. Nothing is fetched until one of these is called. */
export interface ImsRequestContext {
  /** The current token (cached; minted on first use). `JSON.stringify` of it shows only 6 characters of the token. */
  token(options?: GetTokenOptions): Promise<ImsToken>;
  /** `{ authorization: 'Bearer …', 'x-api-key': clientId }`: spread it into the headers of an Adobe API call. */
  headers(options?: GetTokenOptions): Promise<ImsAuthHeaders>;
  /** `createImsFetch()` of `@ims-token/fetch`: adds both headers for allowed hosts, retries a 401 once. */
  fetch: ImsFetch;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // The open interface that express-serve-static-core's Request extends (@types/express 4 and 5).
    interface Request {
      /** Set by `imsAuth()` of `@ims-token/express`. */
      ims: ImsRequestContext;
    }
  }
}

/** Options of {@link imsAuth}. */
export interface ImsAuthOptions {
  /** A `TokenProvider` from `createTokenProvider()` of `@ims-token/core`. */
  provider: TokenProvider;
  /** Hosts `req.ims.fetch` sends credentials to (see `@ims-token/fetch`). Default `['*.adobe.io']`. */
  allowedHosts?: readonly string[];
  /** Get a token before the handler runs; a failure goes to `next(err)`. Default `false`. */
  eager?: boolean;
}

/**
 * Middleware that sets `req.ims` (`token()`, `headers()`, `fetch`) on every request. Lazy by default:
 * IMS is asked only when a handler needs a token, and then once for all concurrent requests.
 *
 * @example
 * ```ts
 * app.use(imsAuth({ provider }))
 * app.get('/me', async (req, res) => {
 *   const r = await req.ims.fetch('https://firefly-api.adobe.io/v3/images/generate', { method: 'POST', body })
 *   res.status(r.status).json(await r.json())
 * })
 * app.use(imsErrorHandler())
 * ```
 */
export function imsAuth(options: ImsAuthOptions): RequestHandler {
  const provider = checkProvider(options, 'imsAuth');
  const ims: ImsRequestContext = Object.freeze({
    token: (o?: GetTokenOptions) => provider.getToken(o),
    headers: (o?: GetTokenOptions) => provider.getAuthHeaders(o),
    fetch: createImsFetch({ provider, ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}) }),
  });
  if (options.eager === true) {
    return (req, _res, next) => {
      req.ims = ims;
      provider.getToken().then(() => next(), next);
    };
  }
  return (req, _res, next) => {
    req.ims = ims;
    next();
  };
}

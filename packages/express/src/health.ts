import { ImsTokenError, configError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import type { RequestHandler } from 'express';
import { checkProvider } from './problem';

/** Options of {@link imsHealth}. */
export interface ImsHealthOptions {
  /** A `TokenProvider` from `createTokenProvider()` of `@ims-token/core`. */
  provider: TokenProvider;
  /** How long a health check waits for a token before it answers 503. Default `2000` ms. */
  timeoutMs?: number;
}

/** The body of an {@link imsHealth} answer. Never the token. */
export type ImsHealthBody = { status: 'ok'; expiresIn: number; scopes: readonly string[] } | { status: 'unavailable'; code: string };

/**
 * A handler for a health route: it gets a token (cached, so usually instant; a cold service really asks
 * IMS, waiting at most `timeoutMs`) and answers `200 {status:'ok', expiresIn, scopes}` (seconds) or
 * `503 {status:'unavailable', code}`. It never shows the token.
 *
 * @example
 * ```ts
 * app.get('/healthz/ims', imsHealth({ provider }))
 * // 200 {"status":"ok","expiresIn":86012,"scopes":["openid","AdobeID"]}
 * // 503 {"status":"unavailable","code":"IMS_INVALID_CLIENT"}
 * ```
 */
export function imsHealth(options: ImsHealthOptions): RequestHandler {
  const provider = checkProvider(options, 'imsHealth');
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw configError('timeoutMs', 'of imsHealth() must be a positive whole number of milliseconds');
  }
  return (_req, res) => {
    const answer = (status: number, body: ImsHealthBody): void => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify(body));
    };
    provider.getToken({ signal: AbortSignal.timeout(timeoutMs) }).then(
      () => {
        const s = provider.status();
        answer(200, { status: 'ok', expiresIn: Math.floor((s.expiresInMs ?? 0) / 1000), scopes: s.scopes });
      },
      (err: unknown) => {
        const code = ImsTokenError.is(err) ? err.code : 'IMS_NETWORK';
        // Our own timeout fired: say why IMS is slow when the provider knows, else that it timed out.
        const known = code === 'IMS_ABORTED' ? (provider.status().lastError?.code ?? 'IMS_TIMEOUT') : code;
        answer(503, { status: 'unavailable', code: known });
      },
    );
  };
}

import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import type { ErrorRequestHandler, Request, Response } from 'express';

/** An RFC 9457 problem details body, as sent by {@link imsErrorHandler} and `imsProxy`. */
export interface ImsProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The `ImsTokenError` code, e.g. `IMS_NETWORK`. */
  code?: string;
  /** IMS's `x-debug-id`, for an Adobe support ticket. */
  debugId?: string;
  /** The request path (no query string). */
  instance?: string;
}

/** A pino-like logger: only `error(obj, msg)` is used. */
export interface ImsErrorLogger {
  error(obj: object, msg?: string): void;
}

/** Options of {@link imsErrorHandler}. */
export interface ImsErrorHandlerOptions {
  /** Gets `error({ err: error.toJSON() }, msg)` for every `ImsTokenError` handled. Default: `req.log` (pino-http) when set. */
  logger?: ImsErrorLogger;
}

const DOCS = 'https://github.com/ims-token/ims-token/tree/main/packages/express#';

/** The four problem types: [anchor, status, title, detail]. Fixed texts: nothing from IMS or the configuration. */
type ProblemType = readonly [string, number, string, string];
const UNAVAILABLE: ProblemType = ['ims-unavailable', 503, 'Adobe IMS unavailable', 'Adobe IMS could not be reached; try again later.'];
const THROTTLED: ProblemType = [
  'ims-unavailable',
  503,
  'Adobe IMS unavailable',
  'Adobe IMS is throttling token requests; try again later.',
];
const REJECTED: ProblemType = [
  'ims-credential-rejected',
  502,
  'Adobe IMS rejected the credential',
  "Adobe IMS rejected this service's credential.",
];
const BAD_ANSWER: ProblemType = [
  'ims-bad-response',
  502,
  'Unexpected answer from Adobe IMS',
  'Adobe IMS answered something that is not a token.',
];
const MISCONFIGURED: ProblemType = [
  'ims-configuration-error',
  500,
  'Adobe IMS configuration error',
  'The service is not configured correctly for Adobe IMS.',
];

const TYPES: Record<string, ProblemType> = {
  IMS_NETWORK: UNAVAILABLE,
  IMS_TIMEOUT: UNAVAILABLE,
  IMS_SERVER_ERROR: UNAVAILABLE,
  IMS_ABORTED: UNAVAILABLE,
  IMS_CLOSED: UNAVAILABLE,
  IMS_RATE_LIMITED: THROTTLED,
  IMS_INVALID_CLIENT: REJECTED,
  IMS_INVALID_SCOPE: REJECTED,
  IMS_UNAUTHORIZED_CLIENT: REJECTED,
  IMS_FORBIDDEN: REJECTED,
  IMS_NOT_FOUND: REJECTED,
  IMS_BAD_RESPONSE: BAD_ANSWER,
};

/** Maps an `ImsTokenError` to its problem details. */
function problemOf(err: ImsTokenError, instance: string): ImsProblem {
  const [anchor, status, title, detail] = TYPES[err.code] ?? MISCONFIGURED;
  return { type: DOCS + anchor, title, status, detail, code: err.code, debugId: err.debugId, instance };
}

/** Writes a problem+json answer with plain node:http calls (same on Express 4 and 5). */
export function sendProblem(res: Response, problem: ImsProblem, headers: Record<string, string> = {}): void {
  res.statusCode = problem.status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/problem+json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(problem));
}

/** The path of the request as the client sent it, without its query string. */
export function instanceOf(req: Request): string {
  const url = req.originalUrl || req.url;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Checks the `provider` option; throws `IMS_CONFIG` naming it. */
export function checkProvider(options: unknown, fn: string): TokenProvider {
  const p = (options as { provider?: Partial<TokenProvider> } | null | undefined)?.provider;
  if (typeof p?.getToken !== 'function' || typeof p.getAuthHeaders !== 'function' || typeof p.status !== 'function') {
    throw new ImsTokenError(
      'IMS_CONFIG',
      `Invalid option provider of ${fn}(): must be a TokenProvider from createTokenProvider() of @ims-token/core.`,
    );
  }
  return p as TokenProvider;
}

/**
 * Error middleware that answers an `ImsTokenError` with RFC 9457 `application/problem+json`:
 * `503` (+ `Retry-After` when known) when IMS is unreachable or throttling, `502` when it rejects the
 * credential or answers nonsense, `500` for a configuration error. The body has the code and IMS's debug
 * id, never a secret, token or client id; the full error goes to the logger. Other errors, and errors
 * after the headers were sent, go to `next(err)` untouched.
 *
 * @example
 * ```ts
 * app.use(imsAuth({ provider }))
 * app.use('/api', routes)
 * app.use(imsErrorHandler({ logger: pino() }))
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
export function imsErrorHandler(options: ImsErrorHandlerOptions = {}): ErrorRequestHandler {
  return function imsErrorHandler(err, req, res, next) {
    if (!ImsTokenError.is(err) || res.headersSent) return next(err);
    const problem = problemOf(err, instanceOf(req));
    const logger = options.logger ?? (req as { log?: ImsErrorLogger }).log;
    logger?.error({ err: err.toJSON() }, `Adobe IMS token error ${err.code}: answered ${problem.status}`);
    const headers: Record<string, string> = {};
    if (problem.status === 503 && err.retryAfterMs !== undefined)
      headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    sendProblem(res, problem, headers);
  };
}

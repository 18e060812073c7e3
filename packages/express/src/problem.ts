import { ImsTokenError, configError } from '@ims-token/core';
import type { ImsTokenErrorCode, TokenProvider } from '@ims-token/core';
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
  /**
   * Gets `error({ err: error.toJSON(), reqId }, msg)` for every `ImsTokenError` handled when the request has no
   * `req.log`: a request-scoped logger (pino-http's) always wins, since it carries the request id.
   */
  logger?: ImsErrorLogger;
}

const DOCS = 'https://github.com/ims-token/ims-token/tree/main/packages/express#';

/** A problem type: [anchor, status, title, detail]. Fixed texts: nothing from IMS or the configuration. */
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
const SECRET_LIMIT: ProblemType = [
  'ims-secret-limit',
  409,
  'Adobe credential has two secrets',
  'The credential already has the two client secrets Adobe allows; one must be deleted first.',
];
const ROTATION_FAILED: ProblemType = [
  'ims-rotation-failed',
  502,
  'Client secret rotation failed',
  'Rotating the client secret did not complete.',
];

/** Every code has its answer: a code added to core without one here fails to compile. */
const TYPES: Record<ImsTokenErrorCode, ProblemType> = {
  IMS_CONFIG: MISCONFIGURED,
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
  IMS_INVALID_TOKEN: BAD_ANSWER,
  IMS_SECRET_LIMIT: SECRET_LIMIT,
  IMS_ROTATION_FAILED: ROTATION_FAILED,
  IMS_STORE: UNAVAILABLE,
};

/** Maps an `ImsTokenError` to its problem details. */
function problemOf(err: ImsTokenError, instance: string): ImsProblem {
  // `?? MISCONFIGURED`: a newer copy of core may know a code this one does not.
  const [anchor, status, title, detail] = (TYPES as Partial<Record<string, ProblemType>>)[err.code] ?? MISCONFIGURED;
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
    throw configError('provider', `of ${fn}() must be a TokenProvider from createTokenProvider() of @ims-token/core`);
  }
  return p as TokenProvider;
}

/** The request id: `req.id` (pino-http, express-request-id …), else a sane `x-request-id` header. */
function requestId(req: Request): string | number | undefined {
  const id = (req as { id?: unknown }).id;
  if (typeof id === 'string' || typeof id === 'number') return id;
  const header = req.get('x-request-id');
  return header !== undefined && /^[\x21-\x7e]{1,128}$/.test(header) ? header : undefined;
}

/**
 * Where a line about this request goes: its own `req.log` (pino-http's child logger, which carries the request
 * id) when it has one, else `fallback` with `reqId` added to each line.
 */
export function requestLogger(req: Request, fallback: ImsErrorLogger | undefined): ImsErrorLogger | undefined {
  const own = (req as { log?: Partial<ImsErrorLogger> }).log;
  if (typeof own?.error === 'function') return own as ImsErrorLogger;
  if (!fallback) return undefined;
  const reqId = requestId(req);
  return reqId === undefined ? fallback : { error: (obj, msg) => fallback.error({ reqId, ...obj }, msg) };
}

/**
 * Error middleware that answers an `ImsTokenError` with RFC 9457 `application/problem+json`:
 * `503` (+ `Retry-After` when known) when IMS is unreachable or throttling, `502` when it rejects the
 * credential or answers nonsense (or a rotation failed), `409` when the credential already has two
 * secrets, `500` for a configuration error. The error is logged through `req.log` when the request has one. The body has the code and IMS's debug
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
    try {
      requestLogger(req, options.logger)?.error({ err: err.toJSON() }, `Adobe IMS token error ${err.code}: answered ${problem.status}`);
    } catch {
      // a logger that throws must not keep the client from its answer
    }
    const headers: Record<string, string> = {};
    if (problem.status === 503 && err.retryAfterMs !== undefined)
      headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    sendProblem(res, problem, headers);
  };
}

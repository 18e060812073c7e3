/**
 * RFC 9457 problem details for the app's own errors. Token errors (`ImsTokenError`) are answered by
 * `imsErrorHandler()` of `@ims-token/express` before these handlers run.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const TYPE = 'https://github.com/ims-token/ims-token/tree/main/apps/example#';

/** An error the app answers with a problem+json body: a status, a stable code and a fixed, safe text. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  readonly code: string;
  /** Extra members of the problem body (no secrets: they are sent to the client). */
  readonly extra: Record<string, unknown>;
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    detail: string,
    options: { cause?: unknown; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request body too large',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

/** Sends `application/problem+json`. */
export function sendProblem(
  req: Request,
  res: Response,
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  const q = req.originalUrl.indexOf('?');
  const body = {
    type: TYPE + code.toLowerCase(),
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    instance: q === -1 ? req.originalUrl : req.originalUrl.slice(0, q),
  };
  // Extension members may not replace the standard ones (RFC 9457 §3.2).
  for (const [k, v] of Object.entries(extra)) if (!(k in body)) (body as Record<string, unknown>)[k] = v;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/problem+json'); // setHeader: Express's res.set() would add a charset
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/** 404 for every route nobody answered. */
export function notFound(): RequestHandler {
  return (req, res) => sendProblem(req, res, 404, 'NOT_FOUND', `No route ${req.method} ${req.path}.`);
}

/**
 * The last error handler: `AppError` → its problem; a JSON body that does not parse → 400; anything else
 * → a logged 500 that says nothing about the cause.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof AppError) {
      if (err.status >= 500) logger.warn({ code: err.code, status: err.status, ...err.extra, cause: describe(err.cause) }, err.message);
      return sendProblem(req, res, err.status, err.code, err.message, err.extra, err.headers);
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') return sendProblem(req, res, 400, 'INVALID_JSON', 'The request body is not valid JSON.');
    if (e.type === 'entity.too.large') return sendProblem(req, res, 413, 'BODY_TOO_LARGE', 'The request body is too large.');
    logger.error({ err }, 'unhandled error');
    sendProblem(req, res, 500, 'INTERNAL', 'Something went wrong; the details are in the server log.');
  };
}

function describe(cause: unknown): string | undefined {
  if (!(cause instanceof Error)) return undefined;
  const inner = (cause as { cause?: unknown }).cause;
  return inner instanceof Error ? `${cause.message}: ${inner.message}` : cause.message;
}

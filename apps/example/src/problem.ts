/**
 * RFC 9457 problem details for the app's own errors. Token errors (`ImsTokenError`) are answered by
 * `imsErrorHandler()` of `@ims-token/express` before this handler runs.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler } from 'express';

/** Each `code` has an anchor in the README's error table; point this at your own docs. */
export const PROBLEM_TYPE_BASE = 'https://github.com/ims-token/ims-token/blob/main/apps/example/README.md#';

/** An error the app answers with a problem+json body: a status, a stable code and a fixed, safe text. */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    /** Extra members of the body (sent to the client: nothing secret) and response headers. */
    readonly more: { cause?: unknown; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail, { cause: more.cause });
  }
}

/** The last error handler: `AppError` → its problem; a body that is not JSON → 400; anything else → a logged 500. */
export function problemHandler(): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const type = (err as { type?: string }).type;
    const e =
      err instanceof AppError
        ? err
        : type === 'entity.parse.failed'
          ? new AppError(400, 'INVALID_JSON', 'The request body is not valid JSON.')
          : type === 'entity.too.large'
            ? new AppError(413, 'BODY_TOO_LARGE', 'The request body is too large.')
            : new AppError(500, 'INTERNAL', 'Something went wrong; the details are in the server log.', { cause: err });
    if (e.status >= 500) req.log.error({ err: e.cause ?? e, code: e.code }, e.message); // req.log carries the request id
    const body = {
      ...e.more.extra,
      type: PROBLEM_TYPE_BASE + e.code.toLowerCase(),
      title: STATUS_CODES[e.status] ?? 'Error',
      status: e.status,
      detail: e.message,
      code: e.code,
      instance: req.originalUrl.split('?')[0],
    };
    res.status(e.status).set(e.more.headers ?? {});
    res.setHeader('content-type', 'application/problem+json'); // res.type() would add a charset
    res.end(JSON.stringify(body));
  };
}

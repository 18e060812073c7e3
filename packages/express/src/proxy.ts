import type { IncomingMessage } from 'node:http';
import { ImsTokenError, configError, isLoopbackHost } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { createImsDispatcher } from '@ims-token/fetch';
import type { Request, RequestHandler, Response } from 'express';
import { loadUndici } from './load';
import { checkProvider, instanceOf, requestLogger, sendProblem } from './problem';
import type { ImsErrorLogger } from './problem';
import { isUnsafePath, readBody, reencode, wasParsed } from './proxy-body';
import { HOP_BY_HOP, RelayHandler, connectionNames } from './proxy-response';

/**
 * Options of {@link imsProxy}.
 *
 * @example
 * ```ts
 * const options: ImsProxyOptions = { provider, target: 'https://firefly-api.adobe.io/v3', maxSockets: 32, timeoutMs: 30_000 }
 * ```
 */
export interface ImsProxyOptions {
  /** A `TokenProvider` from `createTokenProvider()` of `@ims-token/core`. */
  provider: TokenProvider;
  /** Base URL of one Adobe API, e.g. `https://firefly-api.adobe.io/v3`. HTTPS (plain http only to loopback). */
  target: string | URL;
  /** Methods forwarded; others get `405`. Default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. */
  allowedMethods?: readonly string[];
  /** Request bodies up to this size are buffered so a `401` can be retried with a fresh token. Default 1 MiB. */
  maxBufferBytes?: number;
  /**
   * How long the upstream may stay silent (`504`), a buffered request body may take to arrive (`408`), and a
   * request may wait for a free upstream socket (`503`). Default 60 000 ms.
   */
  timeoutMs?: number;
  /** Upstream connections at most; further requests wait for one. Default 64. */
  maxSockets?: number;
  /** Requests that may wait for an upstream connection; past that the proxy answers `503` at once. Default 1024. */
  maxQueue?: number;
  /** Gets `error(obj, msg)` for every 5xx the proxy answers itself. Default: `req.log` (pino-http) when set. */
  logger?: ImsErrorLogger;
}

// The client's own credentials and routing headers never reach the API; x-forwarded-* are rebuilt.
const REQUEST_DROP: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'authorization',
  'cookie',
  'x-api-key',
  'expect',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);
const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

type Headers = Record<string, string | string[]>;

function copyHeaders(from: IncomingMessage['headers'], out: Headers): Headers {
  const named = connectionNames(from.connection);
  for (const [k, v] of Object.entries(from)) if (v !== undefined && !REQUEST_DROP.has(k) && !named?.has(k)) out[k] = v;
  return out;
}

function forwardedHeaders(req: Request): Headers {
  const trust = req.app.get('trust proxy fn') as (addr: string | undefined, i: number) => boolean;
  const xfh = req.get('x-forwarded-host');
  const host = xfh && trust(req.socket.remoteAddress, 0) ? xfh.split(',')[0]!.trim() : req.get('host');
  return {
    'x-forwarded-for': [...req.ips, req.socket.remoteAddress ?? ''].filter(Boolean).join(', '),
    'x-forwarded-proto': req.protocol,
    ...(host ? { 'x-forwarded-host': host } : {}),
  };
}

function positiveInteger(value: number, field: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw configError(field, `of imsProxy() must be a whole number ≥ ${min}`);
  return value;
}

/**
 * A reverse proxy to one Adobe API, with this service's credentials: mount it with
 * `app.use('/adobe', imsProxy({ provider, target }))` and `/adobe/x?y` is forwarded to `<target>/x?y`.
 * Requests go through `createImsDispatcher()` of `@ims-token/fetch` (the one credential and 401 path) over
 * a pool of at most `maxSockets` connections. Bodies stream both ways; the client's `Authorization`,
 * `Cookie`, `x-api-key`, `Host` and hop-by-hop headers are dropped, `x-forwarded-*` set (honouring
 * `trust proxy`), the two IMS headers added. A body up to `maxBufferBytes` is buffered so a `401` can be
 * replayed; one a parser already read is re-sent from `req.body`.
 *
 * Answers `400` to a path with an encoded `/` or `\`, a `;` or a dot segment, `405` to other methods,
 * `408` to a stalled body, `502`/`504` when the API is unreachable/silent, `503` when too many requests
 * wait — all `application/problem+json`. Token failures go to `next(err)` (see {@link imsErrorHandler}).
 *
 * @example
 * ```ts
 * app.use('/firefly', imsProxy({ provider, target: 'https://firefly-api.adobe.io/v3', allowedMethods: ['POST'] }))
 * app.use(imsErrorHandler())
 * ```
 */
export function imsProxy(options: ImsProxyOptions): RequestHandler {
  const provider = checkProvider(options, 'imsProxy');
  let base: URL;
  try {
    base = new URL(String(options.target));
  } catch {
    throw configError('target', 'of imsProxy() is not a valid URL (e.g. "https://firefly-api.adobe.io/v3")');
  }
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && isLoopbackHost(base.hostname)))
    throw configError('target', 'of imsProxy() must be an https URL (plain http only for a loopback host)');
  if (base.username || base.password || base.search || base.hash)
    throw configError('target', 'of imsProxy() must not contain credentials, a query or a fragment');
  const maxBufferBytes = positiveInteger(options.maxBufferBytes ?? 1024 * 1024, 'maxBufferBytes', 0);
  const timeoutMs = positiveInteger(options.timeoutMs ?? 60_000, 'timeoutMs', 1);
  const maxSockets = positiveInteger(options.maxSockets ?? 64, 'maxSockets', 1);
  const maxQueue = positiveInteger(options.maxQueue ?? 1024, 'maxQueue', 0);
  const methods = new Set((options.allowedMethods ?? DEFAULT_METHODS).map((m) => String(m).toUpperCase()));
  const allow = [...methods].join(', ');
  const basePath = base.pathname.replace(/\/+$/, '');
  const origin = base.origin;
  const pool = new (loadUndici().Pool)(origin, { connections: maxSockets, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const ims = createImsDispatcher({ provider, allowedHosts: [base.hostname], dispatcher: pool });
  let active = 0;

  function problem(
    req: Request,
    res: Response,
    status: number,
    title: string,
    detail: string,
    extra: Record<string, string> = {},
    err?: unknown,
  ): void {
    if (status >= 500) {
      const code = (err as { code?: unknown } | undefined)?.code;
      requestLogger(req, options.logger)?.error(
        { status, upstream: origin, ...(code ? { code } : {}) },
        `imsProxy answered ${status}: ${detail}`,
      );
    }
    sendProblem(res, { type: 'about:blank', title, status, detail, instance: instanceOf(req) }, extra);
  }

  async function forward(req: Request, res: Response, next: (err: unknown) => void, path: string): Promise<void> {
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const hasBody = (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
    const headers = copyHeaders(req.headers, forwardedHeaders(req));
    let body: Buffer | Request | null = null;
    if (hasBody && wasParsed(req)) {
      const again = reencode(req);
      if ('problem' in again) {
        const detail = `The request body was already read by a body parser: ${again.problem}. Mount imsProxy before body parsers.`;
        return problem(req, res, 500, 'Internal Server Error', detail);
      }
      body = again.body;
      delete headers['content-encoding']; // a parser inflated it
      if (again.contentType) headers['content-type'] = again.contentType;
      headers['content-length'] = String(body.length);
    } else if (hasBody && length !== undefined && length <= maxBufferBytes) {
      body = (await readBody(req, timeoutMs)) ?? null;
      if (body === null)
        return problem(req, res, 408, 'Request Timeout', 'The request body did not arrive in time.', { connection: 'close' });
      headers['content-length'] = String(body.length);
    } else if (hasBody) body = req;

    const relay = new RelayHandler(res, (err) => {
      if (ImsTokenError.is(err)) return next(err);
      const timedOut = TIMEOUTS.has(String((err as { code?: unknown }).code));
      if (timedOut) problem(req, res, 504, 'Gateway Timeout', 'The Adobe API did not answer in time.', {}, err);
      else problem(req, res, 502, 'Bad Gateway', 'The Adobe API could not be reached.', {}, err);
    });
    res.once('close', () => {
      if (!res.writableFinished) relay.cancel(new Error('the client went away'));
    });
    if (active > maxSockets) {
      // Every socket is busy: wait for one at most timeoutMs, then give up with 503 (and never send it).
      const timer = setTimeout(() => {
        relay.cancel(new Error('no upstream connection became free in time'));
        problem(req, res, 503, 'Service Unavailable', 'The Adobe API is busy with other requests; try again shortly.', {
          'retry-after': '1',
        });
      }, timeoutMs);
      relay.onStart = () => clearTimeout(timer);
      res.once('close', () => clearTimeout(timer));
    }
    ims.dispatch({ origin, path, method: req.method as 'GET', headers, body }, relay);
  }

  return (req, res, next) => {
    if (!methods.has(req.method)) {
      res.setHeader('allow', allow);
      return sendProblem(res, {
        type: 'about:blank',
        title: 'Method Not Allowed',
        status: 405,
        detail: `${req.method} is not forwarded here.`,
        instance: instanceOf(req),
      });
    }
    const q = req.url.indexOf('?');
    const url = new URL(origin + basePath + (req.url.startsWith('/') ? req.url : `/${req.url}`));
    if (isUnsafePath(q < 0 ? req.url : req.url.slice(0, q)) || (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`))) {
      const detail = 'The path has a dot segment, an encoded "/" or "\\", or a ";": it is not forwarded.';
      return problem(req, res, 400, 'Bad Request', detail);
    }
    if (active >= maxSockets + maxQueue) {
      const detail = 'Too many requests are waiting for the Adobe API; try again shortly.';
      return problem(req, res, 503, 'Service Unavailable', detail, { 'retry-after': '1' });
    }
    active++;
    res.once('close', () => active--);
    forward(req, res, next, url.pathname + url.search).catch((err: unknown) => {
      // A client that went away while its body was read: nothing left to answer.
      if (!res.headersSent && !res.destroyed) next(err);
    });
  };
}

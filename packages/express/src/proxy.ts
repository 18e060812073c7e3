import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import { ImsTokenError, isLoopbackHost } from '@ims-token/core';
import type { ImsAuthHeaders, TokenProvider } from '@ims-token/core';
import type { Request, RequestHandler, Response } from 'express';
import { checkProvider, instanceOf, sendProblem } from './problem';

/** Options of {@link imsProxy}. */
export interface ImsProxyOptions {
  /** A `TokenProvider` from `createTokenProvider()` of `@ims-token/core`. */
  provider: TokenProvider;
  /** Base URL of one Adobe API, e.g. `https://firefly-api.adobe.io/v3`. HTTPS (plain http only to loopback). */
  target: string | URL;
  /** Methods forwarded; others get `405`. Default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. */
  allowedMethods?: readonly string[];
  /** Request bodies up to this size are buffered so a `401` can be retried with a fresh token. Default 1 MiB. */
  maxBufferBytes?: number;
  /** Abort when the upstream socket is idle this long (`504` if nothing was sent yet). Default 60 000 ms. */
  timeoutMs?: number;
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
const RESPONSE_DROP = new Set(HOP_BY_HOP);
// The client's own credentials and routing headers never reach the API; x-forwarded-* are rebuilt.
const REQUEST_DROP = new Set([
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

const config = (message: string): ImsTokenError => new ImsTokenError('IMS_CONFIG', `Invalid option ${message}.`);

/** Header names listed in a `Connection` header (also hop-by-hop). */
function connectionNames(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  return new Set(
    String(value)
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
}

function copyHeaders(from: IncomingMessage['headers'], drop: Set<string>, out: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionNames(from.connection);
  for (const [k, v] of Object.entries(from)) if (v !== undefined && !drop.has(k) && !named?.has(k)) out[k] = v;
  return out;
}

function forwardedHeaders(req: Request): OutgoingHttpHeaders {
  const trust = req.app.get('trust proxy fn') as (addr: string | undefined, i: number) => boolean;
  const xfh = req.get('x-forwarded-host');
  const host = xfh && trust(req.socket.remoteAddress, 0) ? xfh.split(',')[0]!.trim() : req.get('host');
  return {
    'x-forwarded-for': [...req.ips, req.socket.remoteAddress ?? ''].filter(Boolean).join(', '),
    'x-forwarded-proto': req.protocol,
    ...(host ? { 'x-forwarded-host': host } : {}),
  };
}

function readBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) req.destroy(new Error('request body over maxBufferBytes'));
      else chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => reject(new Error('client closed')));
  });
}

/** A body a parser already read (express.json(), express.raw(), express.text()), as bytes. */
function parsedBody(req: Request): Buffer | undefined {
  const body: unknown = req.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  if (body !== undefined && /json/i.test(req.get('content-type') ?? '')) return Buffer.from(JSON.stringify(body));
  return undefined;
}

/**
 * A reverse proxy to one Adobe API, with this service's credentials: mount it with
 * `app.use('/adobe', imsProxy({ provider, target }))` and `/adobe/x?y` is forwarded to `<target>/x?y`.
 * Bodies stream both ways; the client's `Authorization`, `Cookie`, `x-api-key`, `Host` and hop-by-hop
 * headers are dropped, `x-forwarded-*` set (honouring `trust proxy`), the two IMS headers added. A `401`
 * invalidates that token and is retried once when the request body was buffered (≤ `maxBufferBytes`).
 * Token failures go to `next(err)` (see {@link imsErrorHandler}); an unreachable API is a `502`, a silent
 * one `504`; a client that goes away aborts the upstream request.
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
    throw config('target of imsProxy(): not a valid URL (e.g. "https://firefly-api.adobe.io/v3")');
  }
  const secure = base.protocol === 'https:';
  if (!secure && !(base.protocol === 'http:' && isLoopbackHost(base.hostname)))
    throw config('target of imsProxy(): must be an https URL (plain http only for a loopback host)');
  if (base.username || base.password || base.search || base.hash)
    throw config('target of imsProxy(): must not contain credentials, a query or a fragment');
  const maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isInteger(maxBufferBytes) || maxBufferBytes < 0) throw config('maxBufferBytes of imsProxy(): must be an integer ≥ 0');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw config('timeoutMs of imsProxy(): must be a positive integer (ms)');
  const methods = new Set((options.allowedMethods ?? DEFAULT_METHODS).map((m) => String(m).toUpperCase()));
  const allow = [...methods].join(', ');
  const basePath = base.pathname.replace(/\/+$/, '');
  const origin = base.origin;
  const agent = new (secure ? https : http).Agent({ keepAlive: true });
  const hostname = base.hostname.replace(/^\[|\]$/g, '');

  function send(
    req: Request,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer | 'stream' | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const up = (secure ? https : http).request({ hostname, port: base.port, method: req.method, path, headers, agent, signal });
      up.setTimeout(timeoutMs, () => up.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })));
      up.once('response', resolve);
      up.once('error', reject);
      if (body === 'stream') req.pipe(up);
      else up.end(body);
    });
  }

  function relay(upRes: IncomingMessage, res: Response): void {
    res.statusCode = upRes.statusCode ?? 502;
    for (const [k, v] of Object.entries(copyHeaders(upRes.headers, RESPONSE_DROP, {}))) res.setHeader(k, v!);
    pipeline(upRes, res, () => undefined);
  }

  async function forward(req: Request, res: Response, fail: (err: unknown) => void): Promise<void> {
    const url = new URL(origin + basePath + (req.url.startsWith('/') ? req.url : `/${req.url}`));
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) {
      return sendProblem(res, {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'The path leaves the proxied API.',
        instance: instanceOf(req),
      });
    }
    const ac = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const hasBody = (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
    let body = req.readableEnded && hasBody ? parsedBody(req) : undefined;
    const streamed = hasBody && body === undefined && !(length !== undefined && length <= maxBufferBytes);
    const headers = copyHeaders(req.headers, REQUEST_DROP, forwardedHeaders(req));
    if (body) headers['content-length'] = body.length;

    for (let attempt = 0; ; attempt++) {
      let auth: ImsAuthHeaders;
      try {
        auth = await provider.getAuthHeaders(); // the cached hot path; a client that leaves does not cancel a shared mint
      } catch (err) {
        return ac.signal.aborted ? undefined : fail(err);
      }
      if (ac.signal.aborted) return;
      if (hasBody && !streamed && body === undefined) body = await readBody(req, maxBufferBytes);
      let upRes: IncomingMessage;
      try {
        upRes = await send(req, url.pathname + url.search, { ...headers, ...auth }, streamed ? 'stream' : body, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) return;
        const timedOut = (err as { code?: string }).code === 'ETIMEDOUT';
        const [status, title] = timedOut ? [504, 'Gateway Timeout'] : [502, 'Bad Gateway'];
        return sendProblem(res, {
          type: 'about:blank',
          title,
          status,
          detail: timedOut ? 'The Adobe API did not answer in time.' : 'The Adobe API could not be reached.',
          instance: instanceOf(req),
        });
      }
      if (upRes.statusCode === 401 && attempt === 0) {
        // The token was refused: drop exactly it; replay only a body we hold, else pass the 401 on.
        await provider.invalidate(auth.authorization.slice(7));
        if (!streamed) {
          upRes.resume();
          continue;
        }
      }
      return relay(upRes, res);
    }
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
    forward(req, res, next).catch((err: unknown) => {
      // A client that went away while its body was read: nothing left to answer.
      if (!res.headersSent && !res.destroyed) next(err);
    });
  };
}

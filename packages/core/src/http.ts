import type * as Undici_ from 'undici';
import type { Dispatcher } from 'undici';
import { ImsTokenError } from './errors';

type Undici = typeof Undici_;
let undiciModule: Promise<Undici> | undefined;
/** undici costs ~80 ms to load: only the first HTTP request pays it, never a cached getToken(). */
export function loadUndici(): Promise<Undici> {
  undiciModule ??= import('undici');
  return undiciModule;
}

/**
 * The keep-alive agent for IMS and the I/O Management API when the caller gave no dispatcher. Behind a
 * corporate proxy (HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY) requests go through it.
 */
export async function createDefaultDispatcher(connections: number): Promise<Dispatcher> {
  const { Agent, EnvHttpProxyAgent } = await loadUndici();
  const proxied = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((v) => process.env[v]);
  const options = { keepAliveTimeout: 30_000, connections };
  return proxied ? new EnvHttpProxyAgent(options) : new Agent(options);
}

/** Answers bigger than this are refused, never held whole. */
export const MAX_BODY_BYTES = 256 * 1024;

/** Marks an `IMS_NETWORK` error whose request never left this host (refused, DNS): safe to repeat even a POST. */
export const NOT_SENT: unique symbol = Symbol('ims-token.notSent') as never;
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** True when `err` is marked {@link NOT_SENT}. */
export function wasNotSent(err: ImsTokenError): boolean {
  return (err as unknown as Record<symbol, unknown>)[NOT_SENT] === true;
}

/** What came back, read whole (at most {@link MAX_BODY_BYTES}). */
export interface Answer {
  status: number;
  text: string;
  /** The body when it is a JSON object. */
  json: Record<string, unknown> | undefined;
  debugId: string | undefined;
  contentType: string | undefined;
  retryAfter: string | undefined;
}

/** One HTTP exchange. */
export interface Exchange {
  url: string;
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Cancels the exchange: `IMS_ABORTED`. */
  signal?: AbortSignal | undefined;
  dispatcher: Dispatcher | undefined;
  /** How messages name the server, e.g. `IMS (ims-na1.adobelogin.com)`. */
  where: string;
  /** Hints for a person, per failure. */
  hints?: { timeout?: string; network?: string };
  /** The message of `IMS_ABORTED`. */
  abortedMessage?: string;
}

/** Reads a response body as text, destroying it and throwing `tooBig()` past `max` bytes. */
export async function readCapped(body: Dispatcher.ResponseData['body'], max: number, tooBig: () => ImsTokenError): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw tooBig();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Sends one request with a per-request timeout covering headers and body, and reads the answer whole.
 * A failure is an `ImsTokenError`: `IMS_ABORTED` (the signal), `IMS_TIMEOUT`, `IMS_NETWORK` (its cause keeps
 * the error's name and code, never its message: nothing of the request leaks through it) or
 * `IMS_BAD_RESPONSE` for an oversized body. HTTP error statuses are answers, not failures.
 */
export async function exchange(x: Exchange): Promise<Answer> {
  const { request } = await loadUndici();
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), x.timeoutMs);
  const onAbort = (): void => timeout.abort();
  x.signal?.addEventListener('abort', onAbort, { once: true });

  const fail = (err: unknown, phase: 'reach' | 'finish answering from'): ImsTokenError => {
    if (x.signal?.aborted) return new ImsTokenError('IMS_ABORTED', x.abortedMessage ?? 'The request was cancelled by its AbortSignal.');
    if (timeout.signal.aborted) {
      return new ImsTokenError(
        'IMS_TIMEOUT',
        `${x.where.charAt(0).toUpperCase()}${x.where.slice(1)} did not ${phase === 'reach' ? 'answer' : 'finish its answer'} within ${x.timeoutMs} ms.`,
        {
          ...(x.hints?.timeout ? { hint: x.hints.timeout } : {}),
        },
      );
    }
    const e = err as { code?: unknown; cause?: { code?: unknown } };
    const code = String(e?.code ?? e?.cause?.code ?? 'unknown');
    const cause = err instanceof Error ? Object.assign(new Error(code), { name: err.name, code }) : undefined;
    const error = new ImsTokenError('IMS_NETWORK', `Could not ${phase} ${x.where}: ${code}.`, {
      cause,
      ...(x.hints?.network ? { hint: x.hints.network } : {}),
    });
    Object.defineProperty(error, NOT_SENT, { value: phase === 'reach' && NOT_SENT_CODES.has(code) });
    return error;
  };

  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(x.url, {
        method: x.method,
        headers: x.headers,
        ...(x.body !== undefined ? { body: x.body } : {}),
        signal: timeout.signal,
        ...(x.dispatcher ? { dispatcher: x.dispatcher } : {}),
      });
    } catch (err) {
      throw fail(err, 'reach');
    }
    const debugId = header(res.headers, 'x-debug-id');
    let text: string;
    try {
      text = await readCapped(
        res.body,
        MAX_BODY_BYTES,
        () =>
          new ImsTokenError('IMS_BAD_RESPONSE', `${x.where} answered HTTP ${res.statusCode} with a body over ${MAX_BODY_BYTES} bytes.`, {
            status: res.statusCode,
            debugId,
          }),
      );
    } catch (err) {
      if (ImsTokenError.is(err)) throw err;
      throw fail(err, 'finish answering from');
    }
    let json: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = text === '' ? undefined : JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return {
      status: res.statusCode,
      text,
      json,
      debugId,
      contentType: header(res.headers, 'content-type'),
      retryAfter: header(res.headers, 'retry-after'),
    };
  } finally {
    clearTimeout(timer);
    x.signal?.removeEventListener('abort', onAbort);
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * How long to wait before try `attempt + 1`: full jitter over `min(maxMs, baseMs · 2^attempt)`, at least
 * the server's `Retry-After`. `undefined` when `Retry-After` asks for longer than `maxMs`: give up instead.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, retryAfterMs: number | undefined): number | undefined {
  const jitter = Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
  if (retryAfterMs === undefined) return jitter;
  return retryAfterMs > maxMs ? undefined : Math.max(jitter, retryAfterMs);
}

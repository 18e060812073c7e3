import type { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import type * as Undici_ from 'undici';
import type { Dispatcher } from 'undici';
import { ImsTokenError } from './errors';

type Undici = typeof Undici_;
let undiciModule: Promise<Undici> | undefined;
/**
 * undici costs ~80 ms to load, and its llhttp WebAssembly keeps a short-lived process alive ~250 ms at exit
 * while V8 finishes optimising it: it is loaded only when the caller passes a `dispatcher` or a proxy is
 * configured. Everything else speaks Node's own `http`/`https`.
 */
export function loadUndici(): Promise<Undici> {
  undiciModule ??= import('undici');
  return undiciModule;
}

/**
 * Node's own keep-alive agents, one per protocol, created on first use: the default way to IMS and the I/O
 * Management API (a cold process pays neither undici's load nor its WebAssembly). Idle sockets do not keep
 * the process alive (Node unrefs free sockets).
 */
export class NodeTransport {
  readonly #connections: number;
  #http: HttpAgent | undefined;
  #https: HttpAgent | undefined;
  #closed = false;

  constructor(connections: number) {
    this.#connections = connections;
  }

  /**
   * The request function and agent for `protocol` (`http:` or `https:`). `process.getBuiltinModule` loads
   * the module on first use, synchronously in both module formats (a dynamic `import()` from CommonJS would
   * start the ESM loader: ~10 ms of a cold start).
   */
  agentFor(protocol: string): { request: typeof httpRequest; agent: HttpAgent } {
    if (protocol === 'https:') {
      const https = process.getBuiltinModule('node:https');
      this.#https ??= new https.Agent({ keepAlive: true, maxSockets: this.#connections, timeout: 30_000 });
      if (this.#closed) this.#https.destroy();
      return { request: https.request as typeof httpRequest, agent: this.#https };
    }
    const http = process.getBuiltinModule('node:http');
    this.#http ??= new http.Agent({ keepAlive: true, maxSockets: this.#connections, timeout: 30_000 });
    if (this.#closed) this.#http.destroy();
    return { request: http.request, agent: this.#http };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#http?.destroy();
    this.#https?.destroy();
  }
}

/** How requests leave: Node's `http`/`https` ({@link NodeTransport}) or an undici `Dispatcher`. */
export type Transport = NodeTransport | Dispatcher;

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/**
 * The transport for IMS and the I/O Management API when the caller gave no dispatcher: Node's own agents,
 * or, behind a corporate proxy (HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY), undici's `EnvHttpProxyAgent`.
 */
export async function createDefaultDispatcher(connections: number): Promise<Transport> {
  if (!PROXY_VARIABLES.some((v) => process.env[v])) return new NodeTransport(connections);
  const { EnvHttpProxyAgent } = await loadUndici();
  return new EnvHttpProxyAgent({ keepAliveTimeout: 30_000, connections });
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
  /** The way out: Node's agents by default, or the caller's undici `Dispatcher`. */
  dispatcher: Transport | undefined;
  /** How messages name the server, e.g. `IMS (ims-na1.adobelogin.com)`. */
  where: string;
  /** Hints for a person, per failure. */
  hints?: { timeout?: string; network?: string };
  /** The message of `IMS_ABORTED`. */
  abortedMessage?: string;
}

/** Reads a response body as text, destroying it and throwing `tooBig()` past `max` bytes. */
export async function readCapped(
  body: AsyncIterable<unknown> & { destroy(): unknown },
  max: number,
  tooBig: () => ImsTokenError,
): Promise<string> {
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

/** The longest `x-debug-id` kept: IMS's are short ids; anything longer is not one. */
export const MAX_DEBUG_ID_LENGTH = 128;

/**
 * `x-debug-id` as it may reach a message, a log line or a problem document: visible ASCII only (no control
 * characters, spaces or non-ASCII: nothing that could forge a log line or a terminal escape), at most
 * {@link MAX_DEBUG_ID_LENGTH} characters; `undefined` when nothing is left. Adobe documents no format for it.
 */
export function sanitizeDebugId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, MAX_DEBUG_ID_LENGTH);
  return clean === '' ? undefined : clean;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** What either transport hands back before the body is read. */
interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<unknown> & { destroy(): unknown };
}

let sharedNodeTransport: NodeTransport | undefined;

/** One request through Node's `http`/`https`; settles when the response headers arrive. */
async function sendWithNode(transport: NodeTransport, x: Exchange, signal: AbortSignal): Promise<RawResponse> {
  const url = new URL(x.url);
  const { request, agent } = transport.agentFor(url.protocol);
  return new Promise<RawResponse>((resolve, reject) => {
    const headers = x.body === undefined ? x.headers : { ...x.headers, 'content-length': String(Buffer.byteLength(x.body)) };
    const req = request(url, { method: x.method, headers, agent, signal });
    let settled = false;
    req.on('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    req.once('response', (res: IncomingMessage) => {
      settled = true;
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    req.end(x.body);
  });
}

/** One request through the caller's undici `Dispatcher` (or the proxy agent). */
async function sendWithUndici(dispatcher: Dispatcher, x: Exchange, signal: AbortSignal): Promise<RawResponse> {
  const { request } = await loadUndici();
  return request(x.url, {
    method: x.method,
    headers: x.headers,
    ...(x.body !== undefined ? { body: x.body } : {}),
    signal,
    dispatcher,
  });
}

/**
 * Sends one request with a per-request timeout covering headers and body, and reads the answer whole.
 * A failure is an `ImsTokenError`: `IMS_ABORTED` (the signal), `IMS_TIMEOUT`, `IMS_NETWORK` (its cause keeps
 * the error's name and code, never its message: nothing of the request leaks through it) or
 * `IMS_BAD_RESPONSE` for an oversized body. HTTP error statuses are answers, not failures.
 */
export async function exchange(x: Exchange): Promise<Answer> {
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
    let res: RawResponse;
    try {
      const way = x.dispatcher ?? (sharedNodeTransport ??= new NodeTransport(8));
      res = way instanceof NodeTransport ? await sendWithNode(way, x, timeout.signal) : await sendWithUndici(way, x, timeout.signal);
    } catch (err) {
      throw fail(err, 'reach');
    }
    const debugId = sanitizeDebugId(header(res.headers, 'x-debug-id'));
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

import { ImsTokenError } from '@ims-token/core';
import { DEFAULT_ALLOWED_HOSTS, compileAllowedHosts, createHrefDecider } from './hosts';
import { AUTH, KEY, authHeadersOf, checkProvider, credentialFlag, credentialsFor, tokenOf } from './options';
import type { ImsCredentialSource } from './options';

/**
 * A function with the signature of the global `fetch`, as {@link createImsFetch} returns it.
 *
 * @example
 * ```ts
 * const imsFetch: ImsFetch = createImsFetch({ provider })
 * ```
 */
export type ImsFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Any `fetch`-shaped function: the global one, undici's (whose `Request`/`Response` types differ a little
 * from the global ones), or a test double. It is called with the arguments `fetch` takes.
 *
 * @example
 * ```ts
 * import { fetch as undiciFetch } from 'undici'
 * const transport: FetchLike = undiciFetch
 * createImsFetch({ provider, fetch: transport })
 * ```
 */
export type FetchLike = (input: never, init?: never) => Promise<Response>;

/**
 * Options of {@link createImsFetch}.
 *
 * @example
 * ```ts
 * const options: ImsFetchOptions = { provider, allowedHosts: ['*.adobe.io', 'api.example.com'] }
 * ```
 */
export interface ImsFetchOptions {
  /** Where tokens come from: a `TokenProvider` of `@ims-token/core`. */
  provider: ImsCredentialSource;
  /** The `fetch` to call (Node's global `fetch`, undici's `fetch`, a test double …). Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /**
   * Hosts that get `Authorization` and `x-api-key`: exact names, IP literals or `*.suffix` patterns.
   * HTTPS only, except plain http to a loopback host named exactly. Default: `['*.adobe.io']`.
   */
  allowedHosts?: readonly string[];
}

type HeadersInput = NonNullable<RequestInit['headers']>;
type Credentials = { authorization?: string; 'x-api-key'?: string };

const MAX_REDIRECTS = 20;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location', 'content-length'];
const noop = (): void => {};

function isHeadersObject(h: HeadersInput): h is Headers {
  return typeof (h as Headers).get === 'function' && typeof (h as Headers).has === 'function';
}

/** Which of the two credential headers the caller set (AUTH | KEY bits). */
function callerFlags(h: HeadersInput | undefined): number {
  if (h === undefined || h === null) return 0;
  let f = 0;
  if (isHeadersObject(h)) {
    if (h.has('authorization')) f |= AUTH;
    if (h.has('x-api-key')) f |= KEY;
  } else if (Array.isArray(h)) {
    for (const pair of h) f |= credentialFlag(String(pair[0]));
  } else {
    for (const k in h) f |= credentialFlag(k);
  }
  return f;
}

/** The caller's headers plus ours, without touching the caller's object. */
function withCredentials(h: HeadersInput | undefined, add: Credentials): HeadersInput {
  if (h === undefined || h === null) return add as Record<string, string>;
  if (isHeadersObject(h) || Array.isArray(h)) {
    const out = new Headers(h);
    for (const [k, v] of Object.entries(add)) out.set(k, v as string);
    return out;
  }
  return { ...h, ...add } as Record<string, string>;
}

/** Bodies fetch can send again: none, string, bytes, Blob, URLSearchParams, FormData. */
function isReplayable(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  const tag = Object.prototype.toString.call(body);
  return tag === '[object URLSearchParams]' || tag === '[object FormData]' || tag === '[object Blob]' || tag === '[object File]';
}

function networkError(message: string): TypeError {
  return new TypeError('fetch failed', { cause: new Error(message) });
}

function discard(res: Response): void {
  if (res.body && !res.bodyUsed) res.body.cancel().catch(noop);
}

function awaitWithSignal<T>(p: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Returns a `fetch` that adds `Authorization: Bearer <token>` and `x-api-key: <client id>` to HTTPS
 * requests for allowed hosts (default `*.adobe.io`), unless the caller set them. Other requests pass
 * through untouched.
 *
 * - A `401` from an allowed host invalidates exactly the token that was sent and retries once with a
 *   fresh one, when the body can be sent again (none, string, bytes, Blob, URLSearchParams, FormData).
 * - Redirects are followed here (up to 20), re-checking every hop: credentials are dropped as soon as a
 *   hop leaves `allowedHosts` or HTTPS. `redirect: 'manual'` and `'error'` are honoured.
 * - A token failure rejects with the `ImsTokenError` of `@ims-token/core` (e.g. `IMS_INVALID_CLIENT`).
 *
 * Throws `ImsTokenError` `IMS_CONFIG` for a bad `provider`, `fetch` or `allowedHosts`.
 *
 * @example
 * ```ts
 * import { createTokenProvider, fromEnv } from '@ims-token/core'
 * import { createImsFetch } from '@ims-token/fetch'
 *
 * const imsFetch = createImsFetch({ provider: createTokenProvider(fromEnv()) })
 * const res = await imsFetch('https://firefly-api.adobe.io/v3/images/generate', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ prompt: 'a lighthouse at dusk' }),
 * })
 * ```
 */
export function createImsFetch(options: ImsFetchOptions): ImsFetch {
  const provider = checkProvider(options, 'createImsFetch');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new ImsTokenError('IMS_CONFIG', 'Invalid option fetch: must be a function with the signature of fetch.');
  }
  const allows = compileAllowedHosts(options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS);
  const decide = createHrefDecider(allows);
  const authHeaders = authHeadersOf(provider);
  const base = (options.fetch ?? globalThis.fetch) as ImsFetch | undefined;
  if (typeof base !== 'function') {
    throw new ImsTokenError('IMS_CONFIG', 'Invalid option fetch: no global fetch in this runtime; pass one (e.g. fetch from undici).');
  }

  return async function imsFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    let request: Request | undefined;
    let url: URL | undefined;
    let href: string;
    if (typeof input === 'string') href = input;
    else if (input instanceof URL) {
      url = input;
      href = input.href;
    } else {
      request = input;
      href = input.url;
    }
    if (!(url ? allows(url.protocol, url.hostname) : decide(href))) return base(input, init);

    const mode = init?.redirect ?? request?.redirect ?? 'follow';
    const follow = mode === 'follow';
    let headers: HeadersInput | undefined = init?.headers ?? request?.headers;
    const flags = callerFlags(headers);
    const signal = init?.signal ?? request?.signal;
    let method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    let body: unknown = init?.body !== undefined ? init.body : (request?.body ?? null);
    let target: string | URL | Request = input;
    let hopInit: RequestInit | undefined = init;
    let hops = 0;
    let retried = false;
    let left = false; // once a chain leaves the allowed hosts, no later hop gets credentials

    for (;;) {
      let sent: string | undefined;
      let hopHeaders: HeadersInput | undefined;
      if (hops === 0 || (!left && allows(url!.protocol, url!.hostname))) {
        if (flags === (AUTH | KEY)) hopHeaders = headers;
        else if (flags & AUTH) hopHeaders = withCredentials(headers, { 'x-api-key': provider.clientId });
        else {
          let auth = authHeaders();
          if (auth instanceof Promise) auth = await awaitWithSignal(auth, signal);
          sent = tokenOf(auth.authorization);
          hopHeaders = withCredentials(headers, credentialsFor(flags, auth));
        }
      } else {
        // Leaving allowedHosts (or HTTPS): neither the caller's nor our credentials go along.
        left = true;
        const h = new Headers(headers);
        h.delete('authorization');
        h.delete('x-api-key');
        hopHeaders = headers = h;
      }

      const res = await base(target, { ...hopInit, headers: hopHeaders, redirect: follow ? 'manual' : mode });

      if (res.status === 401 && sent !== undefined && !retried) {
        // The token was refused: drop exactly it (compare semantics make a burst of 401s refresh once) …
        retried = true;
        await provider.invalidate(sent);
        // … and replay the request once when its body can be sent again; a stream body gets its 401 back.
        if (isReplayable(body)) {
          discard(res);
          continue;
        }
      }
      if (!follow || !REDIRECTS.has(res.status)) return res;
      const location = res.headers.get('location');
      if (location === null) return res;

      discard(res);
      let next: URL;
      try {
        url ??= new URL(href);
        next = new URL(location, url);
      } catch {
        throw networkError('redirect location is not a valid URL');
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw networkError('redirect to a URL that is not http(s)');
      if (++hops > MAX_REDIRECTS) throw networkError('redirect count exceeded');
      const h = new Headers(headers);
      if (
        ((res.status === 301 || res.status === 302) && method === 'POST') ||
        (res.status === 303 && method !== 'GET' && method !== 'HEAD')
      ) {
        method = 'GET';
        body = null;
        for (const name of BODY_HEADERS) h.delete(name);
      } else if (body !== null && !isReplayable(body)) {
        throw networkError('cannot follow a redirect with a stream body');
      }
      if (next.origin !== url.origin) h.delete('authorization'); // what fetch itself does on a cross-origin hop
      headers = h;
      url = next;
      target = next.href;
      const { body: _b, headers: _h, method: _m, signal: _s, ...rest } = init ?? {};
      hopInit = { ...rest, method, body: body as RequestInit['body'], signal: signal ?? null };
    }
  };
}

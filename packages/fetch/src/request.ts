import type { Duplex } from 'node:stream';
import { configError } from '@ims-token/core';
import type { ImsAuthHeaders } from '@ims-token/core';
import type { LegacyHandler } from './adapter';
import type { Chain, Dispatch, DispatchOptions, ImsEngine } from './engine';
import { IN, LEFT, OUTSIDE, advance } from './engine';
import { AUTH, KEY, callerCredentials, credentialsFor, forRedirect, rawHeader, withHeaders, withoutCredentials } from './headers';
import { tokenOf } from './options';

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const SEND = 0; // passing the response on
const HOLD = 1; // a 401's headers wait (socket paused) for core's answer
const SWALLOW = 2; // this response is dropped: a replay or the next redirect hop follows when it ends
const DONE = 3;

/** Bodies undici can send again as they are: none, a string, bytes. */
function replayable(body: unknown): boolean {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * One request on its way through the engine, in undici's first handler API (so an `Agent` runs it with no
 * conversion). It is the handler for every attempt of the request: it replays a 401 once when core says so
 * and the body allows it, follows redirects when asked (judging each hop), and shows the caller's handler
 * one connection, one response and one end.
 */
export class ImsRequest implements LegacyHandler {
  readonly #engine: ImsEngine;
  readonly #next: Dispatch;
  readonly #inner: LegacyHandler;
  readonly #chain: Chain;
  readonly #follow: number;
  #opts: DispatchOptions;
  #hops = 0;
  #token: string | undefined = undefined;
  #state = SEND;
  #redirect: DispatchOptions | undefined = undefined;
  #abort: ((err?: Error) => void) | null = null;
  #reason: Error | null = null;
  #connected = false;
  #waiting = false;

  constructor(engine: ImsEngine, next: Dispatch, opts: DispatchOptions, inner: LegacyHandler, chain: Chain, follow: number) {
    this.#engine = engine;
    this.#next = next;
    this.#opts = opts;
    this.#inner = inner;
    this.#chain = chain;
    this.#follow = follow;
  }

  /** Sends the current hop, with the credentials its origin may have. Always `true`: failures go to the handler. */
  send(allowed: boolean): boolean {
    const chain = this.#chain;
    const phase = advance(chain, allowed);
    let headers = this.#opts.headers;
    this.#token = undefined;
    if (phase === LEFT) {
      headers = withoutCredentials(headers);
      this.#opts = { ...this.#opts, headers }; // later hops start from the stripped headers
    } else if (phase === IN) {
      if (chain.own < 0) chain.own = callerCredentials(headers);
      if (chain.own & AUTH) {
        if (!(chain.own & KEY)) headers = withHeaders(headers, { 'x-api-key': this.#engine.clientId });
      } else {
        const auth = this.#engine.auth();
        if (auth instanceof Promise) {
          this.#wait(auth);
          return true;
        }
        return this.#dispatch(auth);
      }
    }
    return this.#go(headers);
  }

  #dispatch(auth: ImsAuthHeaders): boolean {
    this.#token = tokenOf(auth.authorization);
    return this.#go(withHeaders(this.#opts.headers, credentialsFor(this.#chain.own, auth)));
  }

  #go(headers: DispatchOptions['headers']): boolean {
    try {
      this.#next({ ...this.#opts, headers }, this);
    } catch (err) {
      this.#fail(err);
    }
    return true;
  }

  /** Waits for a token; the caller's AbortSignal (undici's request() passes it along) ends the wait at once. */
  #wait(auth: Promise<ImsAuthHeaders>): void {
    const signal = this.#opts.signal as AbortSignal | null | undefined;
    const watch = signal !== undefined && signal !== null && typeof signal.addEventListener === 'function';
    const onAbort = (): void => this.#cancel(asError(signal?.reason ?? new Error('The request was aborted.')));
    this.#waiting = true;
    if (watch) {
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    }
    auth.then(
      (a) => {
        if (watch) signal.removeEventListener('abort', onAbort);
        this.#waiting = false;
        if (this.#state === DONE) return;
        if (this.#reason) return this.#fail(this.#reason);
        this.#dispatch(a);
      },
      (err: unknown) => {
        if (watch) signal.removeEventListener('abort', onAbort);
        this.#waiting = false;
        this.#chain.error = err;
        this.#fail(err);
      },
    );
  }

  /** The abort the caller's handler holds: it reaches whichever attempt is running, or ends a wait. */
  #cancel(reason: Error): void {
    this.#reason ??= reason ?? new Error('The request was aborted.');
    if (this.#abort) this.#abort(this.#reason);
    else if (this.#waiting || this.#state === SWALLOW) this.#fail(this.#reason);
  }

  #fail(err: unknown): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    this.#abort = null;
    this.#inner.onError?.(asError(err));
  }

  // --- the handler undici calls, once per attempt

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.#abort = abort;
    if (this.#reason) return abort(this.#reason);
    const history = (context as { history?: unknown[] } | undefined)?.history;
    if (Array.isArray(history) && history.length > 0) {
      // undici's redirect interceptor runs below this one and is about to send our headers to a hop we never judged.
      return abort(
        configError(
          'maxRedirections',
          "must be used instead of undici's interceptors.redirect() below ims-token, which would carry credentials to hosts outside allowedHosts: pass { maxRedirections } to ims-token, or compose interceptors.redirect() after imsInterceptor()",
        ),
      );
    }
    if (!this.#connected) {
      this.#connected = true;
      this.#inner.onConnect?.((err) => this.#cancel(asError(err ?? new Error('The request was aborted.'))), context);
    }
  }

  onResponseStarted(): void {
    this.#inner.onResponseStarted?.();
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.#abort = null;
    this.#state = DONE;
    this.#inner.onUpgrade?.(statusCode, headers, socket);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.#follow > this.#hops && REDIRECTS.has(statusCode)) {
      this.#redirect = this.#nextHop(statusCode, headers);
      if (this.#redirect) {
        this.#state = SWALLOW;
        return true;
      }
    }
    if (statusCode === 401) {
      const token = this.#token;
      if (token !== undefined && !this.#chain.retried) {
        this.#chain.retried = true;
        const here = replayable(this.#opts.body);
        if (here || this.#chain.replayAbove) return this.#hold(token, here, statusCode, headers, resume, statusText);
        void this.#engine.invalidate(token); // a stream cannot be sent again: its 401 goes on, its token is still dropped
      } else if (
        token === undefined &&
        this.#chain.phase === OUTSIDE &&
        this.#hops === 0 &&
        !(callerCredentials(this.#opts.headers) & AUTH)
      ) {
        this.#engine.warnNotAllowed(this.#opts.origin);
      }
    }
    return this.#inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  /** Pauses the 401 until core answers: replay it here, have fetch replay it, or pass it on. */
  #hold(token: string, here: boolean, statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.#state = HOLD;
    void this.#engine.invalidate(token).then((retry) => {
      if (this.#state !== HOLD) return; // aborted or failed meanwhile
      if (retry && here) {
        this.#state = SWALLOW;
      } else {
        this.#chain.again = retry;
        this.#state = SEND;
        if (this.#inner.onHeaders?.(statusCode, headers, resume, statusText) === false) return;
      }
      resume();
    });
    return false;
  }

  onData(chunk: Buffer): boolean {
    if (this.#state === SWALLOW) return true;
    return this.#inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.#abort = null;
    if (this.#state !== SWALLOW) {
      this.#state = DONE;
      this.#inner.onComplete?.(trailers);
      return;
    }
    this.#state = SEND;
    if (this.#redirect) {
      this.#opts = this.#redirect;
      this.#redirect = undefined;
      this.#hops++;
      this.send(this.#engine.allowed(this.#opts.origin));
      return;
    }
    // The replay: a fresh token (core dropped the refused one), the same request once more.
    this.#waiting = true;
    this.#engine.provider.getAuthHeaders().then(
      (auth) => {
        this.#waiting = false;
        if (this.#state === DONE) return;
        if (this.#reason) return this.#fail(this.#reason);
        this.#dispatch(auth);
      },
      (err: unknown) => {
        this.#waiting = false;
        this.#chain.error = err;
        this.#fail(err);
      },
    );
  }

  onError(err: Error): void {
    this.#abort = null;
    if (this.#state === DONE) return;
    this.#state = DONE;
    this.#inner.onError?.(err);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#inner.onBodySent?.(chunkSize, totalBytesSent);
  }

  onRequestSent(): void {
    this.#inner.onRequestSent?.();
  }

  /** The next hop of a redirect, as fetch makes it; `undefined` passes the 3xx on (no location, a stream to resend, ...). */
  #nextHop(statusCode: number, raw: Buffer[]): DispatchOptions | undefined {
    const location = rawHeader(raw, 'location');
    if (location === undefined) return undefined;
    let from: URL;
    let to: URL;
    try {
      from = new URL(this.#opts.path, String(this.#opts.origin));
      to = new URL(location, from);
    } catch {
      return undefined;
    }
    if (to.protocol !== 'https:' && to.protocol !== 'http:') return undefined;
    let { method, body } = this.#opts;
    const toGet =
      ((statusCode === 301 || statusCode === 302) && method === 'POST') || (statusCode === 303 && method !== 'GET' && method !== 'HEAD');
    if (toGet) {
      method = 'GET';
      body = null;
    } else if (!replayable(body)) return undefined;
    const headers = forRedirect(this.#opts.headers, toGet, to.origin !== from.origin);
    return { ...this.#opts, origin: to.origin, path: to.pathname + to.search, method, body, headers };
  }
}

import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { parseRawHeaders } from './headers';

/**
 * undici's first handler API (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`): what `request()`
 * and `fetch()` hand a dispatcher, and what an `Agent` runs natively, so a handler of this shape passed to an
 * `Agent` costs no conversion.
 */
export interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onBodySent?(chunkSize: number, totalBytesSent: number): void;
  onRequestSent?(): void;
}

type NewHandler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

class Control implements Controller {
  #abort: ((err?: Error) => void) | null;
  #paused = false;
  #reason: Error | null = null;
  resumeFn: (() => void) | null = null;
  rawHeaders: Buffer[] | null = null;
  rawTrailers: string[] | null = null;

  constructor(abort: ((err?: Error) => void) | null) {
    this.#abort = abort;
  }
  get aborted(): boolean {
    return this.#reason !== null;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }
  abort(reason: Error): void {
    if (this.#reason !== null) return;
    this.#reason = reason ?? new Error('The request was aborted.');
    this.#abort?.(this.#reason);
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.resumeFn?.();
  }
}

/** Runs a handler of undici's new API (`onRequestStart` …) under the first one, as undici's own UnwrapHandler does. */
class LegacyAdapter implements LegacyHandler {
  readonly #h: NewHandler;
  #c: Control | null = null;

  constructor(handler: NewHandler) {
    this.#h = handler;
  }
  #controller(): Control {
    return (this.#c ??= new Control(null));
  }
  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.#c = new Control(abort);
    this.#h.onRequestStart?.(this.#c, context);
  }
  onResponseStarted(): void {
    (this.#h as LegacyHandler).onResponseStarted?.();
  }
  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    const c = this.#controller();
    this.#h.onRequestUpgrade?.(c, statusCode, parseRawHeaders(headers), socket);
  }
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    const c = this.#controller();
    c.resumeFn = resume;
    c.rawHeaders = headers;
    this.#h.onResponseStart?.(c, statusCode, parseRawHeaders(headers), statusText);
    return !c.paused;
  }
  onData(chunk: Buffer): boolean {
    const c = this.#controller();
    this.#h.onResponseData?.(c, chunk);
    return !c.paused;
  }
  onComplete(trailers: string[] | null): void {
    const c = this.#controller();
    c.rawTrailers = trailers;
    this.#h.onResponseEnd?.(c, parseRawHeaders(trailers));
  }
  onError(err: Error): void {
    if (typeof this.#h.onResponseError === 'function') this.#h.onResponseError(this.#controller(), err);
    else (this.#h as LegacyHandler).onError?.(err);
  }
}

/**
 * A handler in the first API: itself when it speaks it, else wrapped. A handler that speaks both APIs is run
 * in the first: that is undici's `WrapHandler`, which `Agent.compose()` puts around the first-API handler of
 * `request()` and `fetch()` and whose first API hands each call straight to it. Running it in the second would
 * turn every response's headers into a record and back into raw buffers for nothing.
 */
export function toLegacy(handler: NewHandler | LegacyHandler): LegacyHandler {
  return typeof (handler as NewHandler).onRequestStart === 'function' && typeof (handler as LegacyHandler).onHeaders !== 'function'
    ? new LegacyAdapter(handler as NewHandler)
    : (handler as LegacyHandler);
}

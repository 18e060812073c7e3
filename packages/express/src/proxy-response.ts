import type { Response } from 'express';

/** Headers that concern one connection only (RFC 9110 §7.6.1); never forwarded either way. */
export const HOP_BY_HOP = [
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
const RESPONSE_DROP: ReadonlySet<string> = new Set(HOP_BY_HOP);

/** Header names listed in a `Connection` header (also hop-by-hop). */
export function connectionNames(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  return new Set(
    String(value)
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
}

/**
 * The undici handler (first API) of one proxied request: it relays the upstream status, headers (less
 * hop-by-hop ones) and body to `res` with backpressure, and reports a failure before the headers were sent.
 */
export class RelayHandler {
  readonly #res: Response;
  readonly #failed: (err: Error) => void;
  #abort: ((err?: Error) => void) | null = null;
  #gone: Error | null = null;
  #resume: (() => void) | null = null;
  #ended = false;
  /** Called when the request got a connection (it left the queue). */
  onStart: (() => void) | null = null;

  /** `failed` answers the client when the exchange fails before any byte of a response went to it. */
  constructor(res: Response, failed: (err: Error) => void) {
    this.#res = res;
    this.#failed = failed;
  }

  /** The client went away (or gave up waiting): abort the upstream request now, or as soon as it starts. */
  cancel(reason: Error): void {
    if (this.#ended) return;
    this.#gone ??= reason;
    this.#abort?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#gone) return abort(this.#gone);
    this.#abort = abort;
    this.onStart?.();
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // informational: the final answer follows
    const res = this.#res;
    this.#resume = resume;
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase();
      const v = raw[i + 1] as Buffer | Buffer[];
      const value = Array.isArray(v) ? v.map((x) => x.toString('latin1')) : v.toString('latin1');
      const seen = headers[name];
      headers[name] = seen === undefined ? value : ([] as string[]).concat(seen, value);
    }
    const named = connectionNames(headers['connection']);
    res.statusCode = statusCode;
    for (const [k, v] of Object.entries(headers)) if (!RESPONSE_DROP.has(k) && !named?.has(k)) res.setHeader(k, v);
    res.flushHeaders();
    return true;
  }

  onData(chunk: Buffer): boolean {
    const ok = this.#res.write(chunk);
    if (!ok) this.#res.once('drain', () => this.#resume?.());
    return ok;
  }

  onComplete(): void {
    this.#ended = true;
    this.#abort = null;
    this.#res.end();
  }

  onError(err: Error): void {
    this.#ended = true;
    this.#abort = null;
    if (this.#gone) return;
    if (this.#res.headersSent) this.#res.destroy(err);
    else this.#failed(err);
  }

  onUpgrade(): void {
    this.#ended = true;
    this.#res.destroy(new Error('the upstream answered with an upgrade, which imsProxy does not relay'));
  }
}

import type { ImsAuthHeaders } from '@ims-token/core';
import type { Dispatcher } from 'undici';

/** The request headers in any of the forms undici takes: a record, a flat `[k, v, k, v]` list, or `[k, v]` pairs. */
export type HeadersInput = Dispatcher.DispatchOptions['headers'];
type Pair = [string, unknown];

/** Bits for the two credential headers a caller may have set itself. */
export const AUTH = 1;
export const KEY = 2;

/** `AUTH` for an `authorization` header name, `KEY` for `x-api-key`, else 0 (any case). */
function credentialFlag(name: string): number {
  if (name.length === 13) return name.toLowerCase() === 'authorization' ? AUTH : 0;
  if (name.length === 9) return name.toLowerCase() === 'x-api-key' ? KEY : 0;
  return 0;
}

function isFlat(h: unknown[]): boolean {
  return !(h.length > 0 && Array.isArray(h[0]));
}

function isRecord(h: NonNullable<HeadersInput>): h is Record<string, string | string[] | undefined> {
  return !Array.isArray(h) && typeof (h as Iterable<unknown>)[Symbol.iterator] !== 'function';
}

/** Every header as a `[name, value]` pair, whatever the form. */
function pairs(h: HeadersInput): Pair[] {
  if (h === null || h === undefined) return [];
  if (isRecord(h)) return Object.entries(h);
  if (Array.isArray(h) && isFlat(h)) {
    const out: Pair[] = [];
    for (let i = 0; i < h.length; i += 2) out.push([String(h[i]), h[i + 1]]);
    return out;
  }
  return [...(h as Iterable<[string, unknown]>)].map(([k, v]) => [String(k), v]);
}

function flat(list: Pair[]): string[] {
  const out: string[] = [];
  for (const [k, v] of list) if (v !== undefined) out.push(k, v as string);
  return out;
}

/** Which of the two credential headers the caller set (AUTH | KEY bits). */
export function callerCredentials(h: HeadersInput): number {
  if (h === null || h === undefined) return 0;
  let f = 0;
  if (isRecord(h)) {
    for (const k in h) f |= credentialFlag(k);
  } else if (Array.isArray(h) && isFlat(h)) {
    for (let i = 0; i < h.length; i += 2) f |= credentialFlag(String(h[i]));
  } else {
    for (const pair of h as Iterable<[string, unknown]>) f |= credentialFlag(String(pair[0]));
  }
  return f;
}

/** The request's headers plus `add`, as a new value (a record stays a record; other forms become a flat list). */
export function withHeaders(h: HeadersInput, add: Record<string, string>): NonNullable<HeadersInput> {
  if (h === null || h === undefined) return add;
  if (isRecord(h)) return { ...h, ...add };
  const out = flat(pairs(h));
  for (const k in add) out.push(k, add[k]!);
  return out;
}

/** The credential headers to add when the caller set none of them, or only `x-api-key`. */
export function credentialsFor(own: number, auth: ImsAuthHeaders): Record<string, string> {
  return own & KEY ? { authorization: auth.authorization } : { authorization: auth.authorization, 'x-api-key': auth['x-api-key'] };
}

/** The headers without `authorization` and `x-api-key`, whoever set them. */
export function withoutCredentials(h: HeadersInput): HeadersInput {
  if (callerCredentials(h) === 0) return h;
  if (isRecord(h!)) {
    const out: Record<string, string | string[] | undefined> = {};
    for (const k in h) if (credentialFlag(k) === 0) out[k] = h[k];
    return out;
  }
  return flat(pairs(h).filter(([k]) => credentialFlag(k) === 0));
}

/**
 * The headers for the next hop of a redirect, as fetch and undici clean them: `host` always; `content-*`
 * when the body is dropped; `authorization`, `cookie` and `proxy-authorization` when the origin changes.
 */
export function forRedirect(h: HeadersInput, dropContent: boolean, crossOrigin: boolean): string[] {
  return flat(
    pairs(h).filter(([name]) => {
      const k = name.toLowerCase();
      if (k === 'host') return false;
      if (dropContent && k.startsWith('content-')) return false;
      return !(crossOrigin && (k === 'authorization' || k === 'cookie' || k === 'proxy-authorization'));
    }),
  );
}

/** The value of one response header in undici's raw form (`[name, value, …]` as Buffers or strings), latin1. */
export function rawHeader(raw: readonly unknown[] | null | undefined, name: string): string | undefined {
  if (!raw) return undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i] as Buffer | string;
    if (k.length === name.length && k.toString().toLowerCase() === name) {
      const v = raw[i + 1] as Buffer | string | Buffer[];
      return Array.isArray(v) ? v[0]?.toString('latin1') : typeof v === 'string' ? v : v.toString('latin1');
    }
  }
  return undefined;
}

/** undici's raw headers as a record (lower-case names, repeated ones as arrays), as the new handler API has them. */
export function parseRawHeaders(raw: readonly unknown[] | null | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!raw) return out;
  for (let i = 0; i < raw.length; i += 2) {
    const key = String(raw[i]).toLowerCase();
    const v = raw[i + 1] as Buffer | string | Buffer[];
    const value = Array.isArray(v) ? v.map((x) => x.toString('latin1')) : typeof v === 'string' ? v : v.toString('latin1');
    const seen = Object.hasOwn(out, key) ? out[key] : undefined;
    if (seen === undefined) {
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
      else out[key] = value;
    } else out[key] = ([] as string[]).concat(seen, value);
  }
  return out;
}

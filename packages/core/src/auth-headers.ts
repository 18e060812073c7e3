import { redactToken } from './redact';
import type { ImsToken } from './token';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

// ImsAuthHeaders is a type alias, not an interface: TypeScript lets an alias (not an interface) stand where
// a `Record<string, string>` is expected, so `fetch(url, { headers: h })` type-checks too.
/**
 * The two headers every Adobe API call needs. Hand the object to any HTTP client as it is (it also
 * type-checks as `fetch`'s `HeadersInit`); logging it (`util.inspect`, `JSON.stringify`) shows only the
 * first 6 characters of the token.
 *
 * @example
 * ```ts
 * const res = await fetch('https://firefly-api.adobe.io/v3/images/generate', { method: 'POST', headers: await ims.getAuthHeaders(), body })
 * ```
 */
export type ImsAuthHeaders = {
  readonly authorization: string;
  readonly 'x-api-key': string;
};

/**
 * The headers object `getAuthHeaders()` hands out. Its only own properties are the two headers, so every
 * HTTP client takes it as it is (`fetch`, undici, `new Headers(h)`, `http.request`, `{ ...h }`): WebIDL's
 * record conversion and `Object.keys` see own keys only. The redacting views live on the prototype, where
 * `util.inspect` and `JSON.stringify` find them and header conversions do not.
 */
class AuthHeaders implements ImsAuthHeaders {
  readonly authorization: string;
  readonly 'x-api-key': string;

  constructor(accessToken: string, clientId: string) {
    this.authorization = `Bearer ${accessToken}`;
    this['x-api-key'] = clientId;
    Object.freeze(this);
  }

  toJSON(): Record<string, string> {
    return { authorization: `Bearer ${redactToken(this.authorization.slice(7))}`, 'x-api-key': this['x-api-key'] };
  }

  [INSPECT](): string {
    return `{ authorization: 'Bearer ${redactToken(this.authorization.slice(7))}', 'x-api-key': '${this['x-api-key']}' }`;
  }
}

/**
 * `{ authorization: 'Bearer …', 'x-api-key': clientId }` for `token`, frozen, redacted when logged.
 *
 * @example
 * ```ts
 * const h = authHeadersFor(token) // JSON.stringify(h) → {"authorization":"Bearer eyJhbG…","x-api-key":"…"}
 * ```
 */
export function authHeadersFor(token: ImsToken): ImsAuthHeaders {
  return new AuthHeaders(token.accessToken, token.clientId);
}

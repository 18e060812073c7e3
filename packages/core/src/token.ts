import { ImsTokenError } from './errors';
import { redactToken } from './redact';

/**
 * The longest life IMS gives a token (24 h) plus slack for clock skew. Adobe documents 24 h lifetimes
 * (`expires_in: 86399`); the slack is ours. A token IMS says lives longer is kept as one of this life (refreshed
 * sooner, never served late), so what one provider stores every other provider's stored-token rule accepts;
 * a stored token that claims more was not minted by IMS for us.
 */
export const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000 + 10 * 60_000;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** An access token and what is known about it. Times are epoch milliseconds. */
export interface ImsToken {
  /** The bearer token. Never log it: `util.inspect` and `JSON.stringify` of this object show only its first 6 characters. */
  readonly accessToken: string;
  /** Always `bearer`. */
  readonly tokenType: 'bearer';
  /** When IMS says it stops working (local clock). */
  readonly expiresAt: number;
  /** When it was requested (local clock). */
  readonly issuedAt: number;
  /** The scopes it was requested with. */
  readonly scopes: readonly string[];
  /** The client id (API key) it belongs to; send it as `x-api-key`. */
  readonly clientId: string;
}

class Token implements ImsToken {
  readonly tokenType = 'bearer' as const;
  constructor(
    readonly accessToken: string,
    readonly expiresAt: number,
    readonly issuedAt: number,
    readonly scopes: readonly string[],
    readonly clientId: string,
  ) {
    Object.freeze(this);
  }

  toJSON(): Record<string, unknown> {
    return {
      accessToken: redactToken(this.accessToken),
      tokenType: this.tokenType,
      expiresAt: this.expiresAt,
      issuedAt: this.issuedAt,
      scopes: this.scopes,
      clientId: this.clientId,
    };
  }

  [INSPECT](): string {
    return `ImsToken { accessToken: '${redactToken(this.accessToken)}', expiresAt: ${new Date(this.expiresAt).toISOString()}, scopes: [${this.scopes.join(', ')}], clientId: '${this.clientId}' }`;
  }
}

/** RFC 6750 §2.1 `b64token`: the only characters a bearer token may have (IMS tokens are JWTs: base64url and dots). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * True when `value` can be sent as `Authorization: Bearer <value>`: a non-empty RFC 6750 `b64token` — no
 * whitespace, CR/LF, control or non-ASCII characters. Core checks every token it takes from IMS or a store.
 *
 * @example
 * ```ts
 * isBearerToken('eyJhbGciOi.eyJjbGllbnRfaWQ.c2ln') // true
 * isBearerToken('abc\r\nx-injected: 1')           // false
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function isBearerToken(value: unknown): value is string {
  return typeof value === 'string' && B64TOKEN.test(value);
}

/** Builds an {@link ImsToken} (for stores that revive a serialised token). */
export function createImsToken(fields: Omit<ImsToken, 'tokenType'> & { tokenType?: string }): ImsToken {
  return new Token(fields.accessToken, fields.expiresAt, fields.issuedAt, Object.freeze([...fields.scopes]), fields.clientId);
}

/** The full serialised form a {@link TokenStore} writes (it contains the token: stores must protect it). */
export interface SerializedImsToken {
  v: 1;
  accessToken: string;
  tokenType: 'bearer';
  expiresAt: number;
  issuedAt: number;
  scopes: string[];
  clientId: string;
}

/** Turns a token into the JSON-safe object a store persists. */
export function serializeImsToken(token: ImsToken): SerializedImsToken {
  return {
    v: 1,
    accessToken: token.accessToken,
    tokenType: 'bearer',
    expiresAt: token.expiresAt,
    issuedAt: token.issuedAt,
    scopes: [...token.scopes],
    clientId: token.clientId,
  };
}

/** Reads back what {@link serializeImsToken} wrote; anything else (corrupt, old format) gives `undefined`. */
export function deserializeImsToken(value: unknown): ImsToken | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    v.v !== 1 ||
    !isBearerToken(v.accessToken) ||
    typeof v.expiresAt !== 'number' ||
    !Number.isFinite(v.expiresAt) ||
    typeof v.issuedAt !== 'number' ||
    !Array.isArray(v.scopes) ||
    !v.scopes.every((s) => typeof s === 'string') ||
    typeof v.clientId !== 'string'
  ) {
    return undefined;
  }
  return createImsToken({
    accessToken: v.accessToken as string,
    expiresAt: v.expiresAt,
    issuedAt: v.issuedAt,
    scopes: v.scopes as string[],
    clientId: v.clientId,
  });
}

/** What an IMS access token says about itself. Decoded, never verified: use it for display and cross-checks only. */
export interface ImsTokenClaims {
  /** `client_id` claim. */
  clientId: string | undefined;
  /** `scope` claim, split on commas. */
  scopes: string[];
  /** `as`: the IMS instance that issued it, e.g. `ims-na1`. */
  authServer: string | undefined;
  /** `type`, `access_token` for access tokens. */
  type: string | undefined;
  /** `user_id` (a technical account for Server-to-Server credentials). */
  userId: string | undefined;
  /** `created_at` in epoch ms. */
  createdAt: number | undefined;
  /** `expires_in` in ms. */
  expiresInMs: number | undefined;
  /** `created_at + expires_in`, in epoch ms (by IMS's clock). */
  expiresAt: number | undefined;
  /** Every claim as decoded. */
  raw: Record<string, unknown>;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Decodes the claims of an IMS access token without verifying it. IMS tokens carry `created_at`
 * and `expires_in` as strings of milliseconds and no `exp`.
 *
 * @throws {ImsTokenError} `IMS_INVALID_TOKEN` when the string is not a JWT with a JSON payload.
 * @example
 * ```ts
 * const claims = decodeImsToken(token.accessToken)
 * console.log(claims.clientId, claims.scopes, new Date(claims.expiresAt!))
 * ```
 */
export function decodeImsToken(accessToken: string): ImsTokenClaims {
  const parts = typeof accessToken === 'string' ? accessToken.trim().split('.') : [];
  if (parts.length !== 3 || !parts[1]) {
    throw new ImsTokenError('IMS_INVALID_TOKEN', 'Not an IMS access token: expected a JWT with three dot-separated parts.');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new ImsTokenError('IMS_INVALID_TOKEN', 'Not an IMS access token: its payload is not base64url-encoded JSON.');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ImsTokenError('IMS_INVALID_TOKEN', 'Not an IMS access token: its payload is not a JSON object.');
  }
  const c = raw as Record<string, unknown>;
  const createdAt = num(c.created_at);
  const expiresInMs = num(c.expires_in);
  return {
    clientId: typeof c.client_id === 'string' ? c.client_id : undefined,
    scopes:
      typeof c.scope === 'string'
        ? c.scope
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    authServer: typeof c.as === 'string' ? c.as : undefined,
    type: typeof c.type === 'string' ? c.type : undefined,
    userId: typeof c.user_id === 'string' ? c.user_id : undefined,
    createdAt,
    expiresInMs,
    expiresAt: createdAt !== undefined && expiresInMs !== undefined ? createdAt + expiresInMs : undefined,
    raw: c,
  };
}

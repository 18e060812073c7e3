import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { deserializeImsToken, serializeImsToken } from '@ims-token/core';
import type { ImsToken } from '@ims-token/core';
import { configError } from './options';

/**
 * How a token is written to Redis. One string, so Lua scripts can compare the fingerprint cheaply:
 *
 *   plain:     ims1:<sha256 hex of the token>:p:<serialised token JSON>
 *   encrypted: ims1:<sha256 hex of the token>:e:<key id>:<base64url(iv 12 | tag 16 | ciphertext)>
 *
 * The fingerprint lets `delete(key, accessToken)` compare without decrypting; a SHA-256 of a bearer
 * token does not give the token back. The AES-256-GCM AAD binds the ciphertext to the Redis key and the
 * fingerprint, so an entry copied to another key (or with a swapped header) does not decrypt.
 */
export const VERSION = 'ims1';

/** Length of {@link header}: what of a stored entry tells which token it holds (`ims1:<sha256 hex>:`). */
export const HEADER_LENGTH = VERSION.length + 66;

/** The header every entry starts with: what `delete(key, accessToken)` compares in Lua. */
export function header(accessToken: string): string {
  return `${VERSION}:${fingerprint(accessToken)}:`;
}

export function fingerprint(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('hex');
}

/** A parsed `encryptionKey`: the AES key and a short id that tells "another key" from "corrupt". */
export interface EncryptionKey {
  key: Buffer;
  id: string;
}

const HEX64 = /^[0-9a-f]{64}$/i;
const B64 = /^[A-Za-z0-9+/_-]{43}={0,1}$/;

/**
 * Reads `encryptionKey`: exactly 32 bytes, given as 64 hex characters, as base64 / base64url
 * (43 or 44 characters), or as a `Uint8Array`. Anything else is `IMS_CONFIG` (the value is never shown):
 * a passphrase through a fast hash would make a stolen Redis dump cheap to brute-force.
 */
export function parseEncryptionKey(input: unknown): EncryptionKey {
  let key: Buffer | undefined;
  if (input instanceof Uint8Array) {
    if (input.length === 32) key = Buffer.from(input);
  } else if (typeof input === 'string') {
    const s = input.trim();
    if (HEX64.test(s)) key = Buffer.from(s, 'hex');
    else if (B64.test(s)) {
      const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      if (b.length === 32) key = b;
    }
  }
  if (!key) {
    throw configError(
      'encryptionKey',
      'must be 32 random bytes, as 64 hex characters or base64 (43–44 characters), or a Uint8Array of 32 bytes',
      'Generate one with `openssl rand -base64 32` and give the same key (IMS_TOKEN_CACHE_KEY) to every process of the fleet.',
    );
  }
  const id = createHash('sha256').update('ims-token/redis key id\n').update(key).digest('hex').slice(0, 8);
  return { key, id };
}

function aad(redisKey: string, fp: string): Buffer {
  return Buffer.from(`ims-token/redis ${VERSION}\n${redisKey}\n${fp}`, 'utf8');
}

/** The string stored at `redisKey` for `token`. */
export function encode(token: ImsToken, redisKey: string, enc: EncryptionKey | undefined): string {
  const fp = fingerprint(token.accessToken);
  const json = JSON.stringify(serializeImsToken(token));
  if (!enc) return `${VERSION}:${fp}:p:${json}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', enc.key, iv);
  cipher.setAAD(aad(redisKey, fp));
  const ct = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  const blob = Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url');
  return `${VERSION}:${fp}:e:${enc.id}:${blob}`;
}

/** Why an entry could not be read (never includes the value). */
export type DecodeProblem = 'format' | 'encrypted-no-key' | 'plain-with-key' | 'other-key' | 'decrypt' | 'token';

/** Reads an entry back; a problem instead of a token when it is not ours, not readable with this key, or corrupt. */
export function decode(value: string, redisKey: string, enc: EncryptionKey | undefined): ImsToken | DecodeProblem {
  const m = /^ims1:([0-9a-f]{64}):([pe]):/.exec(value);
  if (!m) return 'format';
  const fp = m[1]!;
  const body = value.slice(m[0].length);
  let json: string;
  if (m[2] === 'p') {
    if (enc) return 'plain-with-key';
    json = body;
  } else {
    if (!enc) return 'encrypted-no-key';
    const sep = body.indexOf(':');
    if (sep < 0) return 'format';
    if (body.slice(0, sep) !== enc.id) return 'other-key';
    const blob = Buffer.from(body.slice(sep + 1), 'base64url');
    if (blob.length < 29) return 'decrypt';
    try {
      const decipher = createDecipheriv('aes-256-gcm', enc.key, blob.subarray(0, 12));
      decipher.setAAD(aad(redisKey, fp));
      decipher.setAuthTag(blob.subarray(12, 28));
      json = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return 'decrypt';
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return 'token';
  }
  const token = deserializeImsToken(parsed);
  if (!token || fingerprint(token.accessToken) !== fp) return 'token';
  return token;
}

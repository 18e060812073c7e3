import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_FORM_BODY, randomHex, readBody, sendJson } from './http';
import type { ClientRecord, EmulatorState } from './state';

// IMS token endpoint (AdobeDocs/adobe-dev-console ServerToServerAuthentication/IMS.md, "Fetching access tokens"):
// POST /ims/token/v3, form parameters in the body or the query string, 200 {access_token, token_type, expires_in}.

// ASSUMED: the JWT header and the claims beyond client_id, scope, as, type, created_at and expires_in (modelled on
// decoded real tokens, not documented).
const JWT_HEADER = { alg: 'RS256', x5u: 'ims_na1-key-at-1.cer', kid: 'ims_na1-key-at-1', itt: 'at' };

/** What the emulator remembers of a token it minted. */
export interface MintedToken {
  clientId: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

function b64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

function splitScopes(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function sign(state: EmulatorState, data: string): string {
  return createHmac('sha256', state.signingKey).update(data).digest('base64url');
}

function mintToken(state: EmulatorState, record: ClientRecord, scopes: string[]): { token: string; expiresIn: number } {
  const now = state.now();
  const lifetime = state.settings.tokenLifetimeSeconds;
  const id = `${now}_${randomUUID()}_ue1`;
  const techAccount = `${record.techAccountId}@techacct.adobe.com`;
  // created_at and expires_in are strings of milliseconds and there is no `exp` (DESIGN.md).
  const payload = {
    id,
    org: record.org.code, // IMS knows orgs by their code, not the AMS id
    type: 'access_token',
    client_id: record.pub.clientId,
    user_id: techAccount,
    as: 'ims-na1',
    aa_id: techAccount,
    ctp: 0,
    moi: randomHex(4),
    pac: `${record.pub.clientId}_${randomHex(4)}`,
    expires_in: String(Math.round(lifetime * 1000)),
    scope: scopes.join(','),
    created_at: String(now),
  };
  const unsigned = `${b64url(JSON.stringify(JWT_HEADER))}.${b64url(JSON.stringify(payload))}`;
  const minted = state.minted;
  if (minted.size >= 10_000 && minted.size % 1000 === 0) {
    for (const [key, t] of minted) if (now >= t.expiresAt) minted.delete(key);
  }
  minted.set(id, {
    clientId: record.pub.clientId,
    scopes,
    createdAt: now,
    expiresAt: now + Math.round(lifetime * 1000),
    revoked: false,
  });
  return { token: `${unsigned}.${sign(state, unsigned)}`, expiresIn: lifetime };
}

/** Returns the minted-token record when the token is this emulator's, unexpired and not revoked. */
export function verifyToken(state: EmulatorState, token: string): MintedToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const expected = Buffer.from(sign(state, `${h}.${p}`));
  const given = Buffer.from(s);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const id = (claims as { id?: unknown }).id;
  if (typeof id !== 'string') return undefined;
  const record = state.minted.get(id);
  if (!record || record.revoked || state.now() >= record.expiresAt) return undefined;
  return record;
}

function tokenError(state: EmulatorState, res: ServerResponse, status: number, error: string, description: string): void {
  state.stats.tokenErrors++;
  sendJson(res, status, { error, error_description: description });
}

/** `POST /ims/token/v3` with `grant_type=client_credentials`. */
export async function handleToken(state: EmulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (url.pathname !== '/ims/token/v3' && url.pathname !== '/ims/token/v3/') {
    sendJson(res, 404, { error: 'not_found', error_description: 'unknown IMS endpoint' });
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method_not_allowed', error_description: 'use POST' }, { allow: 'POST' });
    return;
  }
  const body = await readBody(req, MAX_FORM_BODY);
  const params = new URLSearchParams(url.search);
  for (const [k, v] of new URLSearchParams(body)) params.set(k, v);

  // invalid_client with these two descriptions: the IMS answers DESIGN.md records.
  const clientId = params.get('client_id');
  const record = clientId ? state.clients.get(clientId) : undefined;
  if (!record) return tokenError(state, res, 400, 'invalid_client', 'invalid client_id parameter');
  const secret = params.get('client_secret');
  const now = state.now();
  const matched = secret ? record.secrets.find((s) => s.value === secret) : undefined;
  if (!matched || now < matched.activeAt) return tokenError(state, res, 400, 'invalid_client', 'invalid client_secret parameter');
  // ASSUMED: the texts of unauthorized_client, unsupported_grant_type and invalid_scope for this grant (the error codes
  // are OAuth's, RFC 6749 §5.2; Adobe documents no description). Core must match the code, never the text.
  if (record.pub.disabled) {
    return tokenError(state, res, 400, 'unauthorized_client', 'client is not authorized to request an access token');
  }
  const grantType = params.get('grant_type');
  if (grantType !== 'client_credentials') {
    const description = grantType ? 'unsupported grant_type parameter' : 'missing grant_type parameter';
    return tokenError(state, res, 400, 'unsupported_grant_type', description);
  }
  const scopes = splitScopes(params.get('scope'));
  const allowed = record.pub.allowedScopes;
  if (allowed && scopes.some((s) => !allowed.includes(s))) return tokenError(state, res, 400, 'invalid_scope', 'invalid scope');

  const { token, expiresIn } = mintToken(state, record, scopes);
  matched.uses.push(now);
  if (matched.uses.length > 1000) matched.uses.splice(0, matched.uses.length - 1000);
  const stats = state.stats;
  stats.tokensMinted++;
  stats.mintedByClient[record.pub.clientId] = (stats.mintedByClient[record.pub.clientId] ?? 0) + 1;
  sendJson(res, 200, { access_token: token, token_type: 'bearer', expires_in: expiresIn });
}

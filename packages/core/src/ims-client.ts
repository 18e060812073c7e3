import { INVALID_CLIENT_ID_HINT, ImsTokenError } from './errors';
import type { ImsTokenErrorCode } from './errors';
import { exchange, parseRetryAfter } from './http';
import type { Answer, Transport } from './http';
import { scrub } from './redact';
import { MAX_TOKEN_LIFETIME_MS, createImsToken, decodeImsToken, isBearerToken } from './token';
import type { ImsToken } from './token';

/** The longest token life we accept from IMS (tokens live 24 h; anything near a year is a broken answer). */
const MAX_EXPIRES_IN_S = 30 * 86_400;
/**
 * The shortest token life we accept: 1 s. IMS issues 24 h tokens; a token living under a second cannot be
 * used (a call to an Adobe API takes longer) and would make every call mint again, so it is a broken answer.
 * Lifetimes of a few seconds are kept working: the emulator and tests use them to exercise expiry quickly.
 */
export const MIN_EXPIRES_IN_S = 1;

/**
 * True when IMS rejected the client id itself (`invalid_client` with `client_id` in its description, as in
 * `invalid client_id parameter`), not the secret: another secret cannot help. Adobe documents the error's
 * shape, not every text, so nothing else of the description is relied on; anything else is treated as a
 * secret problem (the safe fallback: its hint names both values).
 */
export function rejectsClientId(err: Pick<ImsTokenError, 'code' | 'imsErrorDescription'>): boolean {
  return err.code === 'IMS_INVALID_CLIENT' && /client_id/i.test(err.imsErrorDescription ?? '');
}

export interface TokenRequest {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scopes: readonly string[];
  timeoutMs: number;
  dispatcher: Transport | undefined;
  clock: () => number;
  /** Aborts this attempt (the provider's close()). */
  signal?: AbortSignal;
  /** Secrets to scrub from anything IMS sends back. */
  known: readonly string[];
}

export interface TokenResult {
  token: ImsToken;
  /** The HTTP status of IMS's answer. */
  status: number;
  debugId: string | undefined;
}

/**
 * One POST to the IMS v3 token endpoint, parameters in the form body (never the query string).
 * Throws an {@link ImsTokenError} describing exactly what went wrong; never includes the secret or the token.
 */
export async function requestToken(req: TokenRequest): Promise<TokenResult> {
  const startedAt = req.clock();
  const where = `IMS (${new URL(req.tokenUrl).host})`;
  const answer = await exchange({
    url: req.tokenUrl,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'ims-token' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: req.clientId,
      client_secret: req.clientSecret,
      scope: req.scopes.join(','),
    }).toString(),
    timeoutMs: req.timeoutMs,
    signal: req.signal,
    dispatcher: req.dispatcher,
    where,
    abortedMessage: 'The token request was cancelled.',
  });
  return interpret(answer, req, startedAt, where);
}

function interpret(answer: Answer, req: TokenRequest, startedAt: number, where: string): TokenResult {
  const { status, json, text, debugId } = answer;
  const shape = json ? 'JSON' : /html/i.test(answer.contentType ?? '') || /^\s*</.test(text) ? 'an HTML page' : 'a body that is not JSON';

  if (status >= 200 && status < 300) {
    if (!json) {
      throw new ImsTokenError('IMS_BAD_RESPONSE', `${where} answered HTTP ${status} with ${shape} instead of a token.`, {
        status,
        debugId,
      });
    }
    return { token: parseToken(json, status, debugId, req, startedAt, where), status, debugId };
  }

  const known = [...req.known, req.clientSecret];
  const imsError = typeof json?.error === 'string' ? scrub(json.error, known).slice(0, 100) : undefined;
  const desc = typeof json?.error_description === 'string' ? scrub(json.error_description, known).slice(0, 300) : undefined;
  const details = { status, imsError, imsErrorDescription: desc, debugId };
  const said = imsError ? `${imsError}${desc ? `: ${desc}` : ''}` : `HTTP ${status} with ${shape}`;
  let code: ImsTokenErrorCode;
  if (imsError === 'invalid_client') code = 'IMS_INVALID_CLIENT';
  else if (imsError === 'invalid_scope') code = 'IMS_INVALID_SCOPE';
  else if (imsError === 'unauthorized_client') code = 'IMS_UNAUTHORIZED_CLIENT';
  else if (status === 429) code = 'IMS_RATE_LIMITED';
  else if (status >= 500) code = 'IMS_SERVER_ERROR';
  else if (status === 401) code = 'IMS_INVALID_CLIENT';
  else if (status === 403) code = 'IMS_UNAUTHORIZED_CLIENT';
  else code = 'IMS_BAD_RESPONSE';
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(answer.retryAfter, req.clock()) : undefined;
  const message =
    code === 'IMS_INVALID_CLIENT'
      ? `IMS rejected the credential (${said}) for client id ${req.clientId}.`
      : code === 'IMS_INVALID_SCOPE'
        ? `IMS rejected the requested scopes (${said}): ${req.scopes.join(',')}.`
        : code === 'IMS_RATE_LIMITED'
          ? `IMS is throttling this client (HTTP 429${retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}).`
          : `${where} answered ${said}.`;
  const hint = rejectsClientId({ code, imsErrorDescription: desc }) ? INVALID_CLIENT_ID_HINT : undefined;
  throw new ImsTokenError(code, message, { ...details, retryAfterMs, ...(hint ? { hint } : {}) });
}

function parseToken(
  json: Record<string, unknown>,
  status: number,
  debugId: string | undefined,
  req: TokenRequest,
  startedAt: number,
  where: string,
): ImsToken {
  const bad = (problem: string): ImsTokenError =>
    new ImsTokenError('IMS_BAD_RESPONSE', `${where} answered HTTP ${status} but ${problem}.`, { status, debugId });
  const accessToken = json.access_token;
  if (typeof accessToken !== 'string' || accessToken.length < 8) throw bad('without an access_token');
  if (!isBearerToken(accessToken)) {
    // Never cached or shared: it would throw (or inject a header) when put into an Authorization header.
    throw bad('with an access_token that cannot be sent as a bearer token (whitespace, control or non-ASCII characters)');
  }
  const tokenType = json.token_type;
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw bad(`with token_type ${typeof tokenType === 'string' ? JSON.stringify(tokenType.slice(0, 20)) : 'missing'} instead of "bearer"`);
  }
  const expiresIn = json.expires_in;
  if (expiresIn === undefined || expiresIn === null) throw bad('without expires_in');
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) throw bad('with an expires_in that is not a number of seconds');
  if (expiresIn <= 0) throw bad(`with expires_in ${expiresIn} (the token is already expired)`);
  if (expiresIn < MIN_EXPIRES_IN_S)
    throw bad(`with expires_in ${expiresIn} s, below the ${MIN_EXPIRES_IN_S} s a token must live to be usable`);
  if (expiresIn > MAX_EXPIRES_IN_S) throw bad(`with expires_in ${expiresIn} s, far beyond the 24 h IMS tokens live`);
  let lifetimeMs = Math.floor(expiresIn * 1000);
  // Cross-check with the token's own claims (skew-free: compare durations, not clocks).
  try {
    const claims = decodeImsToken(accessToken);
    if (claims.expiresInMs !== undefined && claims.expiresInMs > 0 && claims.expiresInMs < lifetimeMs) lifetimeMs = claims.expiresInMs;
  } catch {
    // Not a JWT: IMS may change the format; expires_in alone decides.
  }
  // Longer than IMS documents: kept as the longest life it documents (see MAX_TOKEN_LIFETIME_MS).
  lifetimeMs = Math.min(lifetimeMs, MAX_TOKEN_LIFETIME_MS);
  if (lifetimeMs < MIN_EXPIRES_IN_S * 1000) {
    throw bad(
      `with a token whose own claims say it lives ${lifetimeMs} ms, below the ${MIN_EXPIRES_IN_S} s a token must live to be usable`,
    );
  }
  return createImsToken({
    accessToken,
    expiresAt: startedAt + lifetimeMs,
    issuedAt: startedAt,
    scopes: req.scopes,
    clientId: req.clientId,
  });
}

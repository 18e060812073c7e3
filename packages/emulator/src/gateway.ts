import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http';
import type { EmulatorState } from './state';
import { verifyToken } from './token';
import type { MintedToken } from './token';

// Adobe API gateway answers, in front of the sample API and the I/O Management API. Sourced: 401013 is the 401 example
// of Firefly's OpenAPI (Firefly-Services/firefly-services-sdk-js packages/firefly/oas/FFApiOpenApi3.json); 403003 is
// the gateway answer the project's DESIGN.md records. ASSUMED: 403000 for a missing key (no Adobe document found).
export const TOKEN_INVALID = { error_code: '401013', message: 'Oauth token is not valid' };
export const API_KEY_INVALID = { error_code: '403003', message: 'Api Key is invalid' };
const API_KEY_MISSING = { error_code: '403000', message: 'Api Key is required' };
// Firefly's own gateway answers (the codes per DESIGN.md / issue 14). ASSUMED: the `message` texts; the backpressure
// one is the text third-party Firefly clients match on, not an Adobe document.
export const ACCESS_ERROR = { error_code: 'access_error', message: 'Access denied' };
export const BACKPRESSURE_LIMITED = { error_code: 'backpressure_limited', message: 'Worker is overloaded. Please try again later.' };

/**
 * Applies the gateway's rules: `Authorization: Bearer <token of this emulator>` (else 401), then `x-api-key` equal to
 * the token's client (else 403). Answers and returns undefined on failure.
 */
export function authenticate(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  countUnauthorized: boolean,
): MintedToken | undefined {
  const auth = req.headers.authorization;
  const match = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  const token = match?.[1] ? verifyToken(state, match[1]) : undefined;
  if (!token) {
    if (countUnauthorized) state.stats.apiUnauthorized++;
    sendJson(res, 401, TOKEN_INVALID);
    return undefined;
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey !== 'string' || apiKey.length === 0) {
    sendJson(res, 403, API_KEY_MISSING);
    return undefined;
  }
  if (apiKey !== token.clientId) {
    sendJson(res, 403, API_KEY_INVALID);
    return undefined;
  }
  return token;
}

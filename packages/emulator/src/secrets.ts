import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate } from './gateway';
import { MAX_JSON_BODY, randomHex, readBody, sendJson } from './http';
import { handleOrganizations } from './organizations';
import type { EmulatorState } from './state';

// I/O Management API secrets endpoints. Paths, headers and scopes: AdobeDocs/adobe-dev-console
// ServerToServerAuthentication/implementation.md ("Rotating client secrets programmatically"). Answer shapes:
// ServerToServerAuthentication/IMS.md ("List all client secrets", "Add client secret to credential", "Remove client
// secret from credential"): keys in the order below, epoch-ms strings with `_str` twins, "PERMANENT" expiry, 32-hex
// uuids, `secret_usages` null until used, 201 on add, 204 on delete, "You can add up to 2 client secrets".

/** At most 2 secrets per credential (documented). */
export const MAX_SECRETS = 2;

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface SecretRecord {
  uuid: string;
  value: string;
  createdAt: number;
  activeAt: number;
  /** Times of mints with this secret not yet shown as `last_used_at` (see `lastUsedLagMs`), oldest first. */
  uses: number[];
  /** The `last_used_at` the secrets list shows. */
  lastUsedAt?: number;
}

/** A client-secret uuid as Adobe writes them: 32 hex digits, no dashes ("11ede8ab42f138f3abe335d886a407fb"). */
function secretUuid(): string {
  return randomHex(16);
}

export function newSecret(value: string, activeAt: number, now: number): SecretRecord {
  return { uuid: secretUuid(), value, createdAt: Math.min(now, activeAt), activeAt, uses: [] };
}

/** The `last_used_at` the secrets list shows at `now`: the newest mint at least `lagMs` old. */
function visibleLastUse(secret: SecretRecord, now: number, lagMs: number): number | undefined {
  while (secret.uses.length > 0 && (secret.uses[0] as number) + lagMs <= now) {
    secret.lastUsedAt = secret.uses.shift();
  }
  return secret.lastUsedAt;
}

/**
 * The `*_str` twin of an epoch-ms time in the secrets answers, as in Adobe's examples
 * ("Tue, May 2 2023 05:36:17.000 UTC": day of month unpadded, UTC, milliseconds).
 */
function adobeTimeString(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
  return `${DAY_NAMES[d.getUTCDay()]}, ${MONTH_NAMES[d.getUTCMonth()]} ${d.getUTCDate()} ${d.getUTCFullYear()} ${time} UTC`;
}

/** `GET /console/organizations` and `GET|POST …/credentials/{credentialId}/secrets`, `DELETE …/secrets/{uuid}`. */
export async function handleConsole(state: EmulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (/^\/console\/organizations\/?$/.test(url.pathname)) {
    handleOrganizations(state, req, res);
    return;
  }
  const m = /^\/console\/organizations\/([^/]+)\/credentials\/([^/]+)\/secrets(?:\/([^/]+))?\/?$/.exec(url.pathname);
  if (!m) {
    sendJson(res, 404, { error_code: '404', message: 'Not found' });
    return;
  }
  const orgId = decodeURIComponent(m[1] ?? '');
  const credentialId = decodeURIComponent(m[2] ?? '');
  const uuid = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
  const method = req.method ?? 'GET';
  const token = authenticate(state, req, res, false);
  if (!token) return;
  // The path takes the numeric AMS org id only: an …@AdobeOrg code names no org here, as at Adobe (404).
  const record = [...state.clients.values()].find((c) => c.org.id === orgId && c.pub.credentialId === credentialId);
  if (!record) {
    // Status from adobe/aio-lib-console spec/api.json ("404 Credential Not Found"); ASSUMED: the body.
    sendJson(res, 404, { error_code: '404', message: 'credential not found' });
    return;
  }
  if (record.pub.clientId !== token.clientId) {
    sendJson(res, 403, { error_code: '403', message: 'the access token does not belong to this credential' });
    return;
  }
  const needed = method === 'GET' ? 'read_client_secret' : 'manage_client_secrets';
  if (!token.scopes.includes(needed)) {
    // ASSUMED: the body of a missing-scope answer.
    sendJson(res, 403, {
      error_code: '403027',
      message: `Insufficient scope (${needed} is required): the I/O Management API may not be added to this project`,
    });
    return;
  }

  if (uuid === undefined && method === 'GET') {
    const now = state.now();
    sendJson(res, 200, {
      client_id: record.pub.clientId,
      client_secrets: record.secrets.map((s) => {
        const lastUsed = visibleLastUse(s, now, state.settings.lastUsedLagMs);
        return {
          expires_at: 'PERMANENT',
          expires_at_str: 'PERMANENT',
          created_at: String(s.createdAt),
          created_at_str: adobeTimeString(s.createdAt),
          uuid: s.uuid,
          secret_usages: lastUsed === undefined ? null : [{ last_used_at: String(lastUsed), grant_type: 'client_credentials' }],
        };
      }),
    });
    return;
  }
  if (uuid === undefined && method === 'POST') {
    await readBody(req, MAX_JSON_BODY);
    if (record.secrets.length >= MAX_SECRETS) {
      // ASSUMED: the status and body past the documented limit of 2.
      sendJson(res, 400, { error_code: '400', message: `maximum number of client secrets reached (${MAX_SECRETS})` });
      return;
    }
    const now = state.now();
    // ASSUMED: a new secret does not work at once (secretActivationDelayMs); Adobe does not say how soon it does.
    const secret = newSecret(`p8e-${randomBytes(24).toString('base64url')}`, now + state.settings.secretActivationDelayMs, now);
    record.secrets.push(secret);
    sendJson(res, 201, {
      expires_at: 'PERMANENT',
      expires_at_str: 'PERMANENT',
      client_secret: secret.value,
      created_at: String(secret.createdAt),
      created_at_str: adobeTimeString(secret.createdAt),
      uuid: secret.uuid,
      secret_usages: null,
    });
    return;
  }
  if (uuid !== undefined && method === 'DELETE') {
    const index = record.secrets.findIndex((s) => s.uuid === uuid);
    if (index < 0) {
      sendJson(res, 404, { error_code: '404', message: 'client secret not found' });
      return;
    }
    // ASSUMED (DESIGN.md, not in Adobe's pages): tokens minted with a deleted secret keep working.
    record.secrets.splice(index, 1);
    res.writeHead(204);
    res.end();
    return;
  }
  sendJson(res, 405, { error_code: '405', message: 'Method not allowed' });
}

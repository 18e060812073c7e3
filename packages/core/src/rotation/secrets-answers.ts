import { ImsTokenError, configError } from '../errors';
import type { ImsTokenErrorCode } from '../errors';
import { parseRetryAfter } from '../http';
import type { Answer } from '../http';
import { scrub } from '../redact';
import type { ClientSecretInfo, NewClientSecret } from './secrets-types';

// Reading the I/O Management API's answers: the secrets list, a new secret, the organizations list, and
// the errors, each mapped to a stable code with a message that names org, credential and uuid, never a secret.

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** What an answer is read for. */
export type Op = 'list' | 'add' | 'delete' | 'organizations';

/** Who was asked, for messages. */
export interface Asked {
  readonly host: string;
  readonly clientId: string;
  readonly orgId: string;
  readonly credentialId: string;
  /** Secret values to scrub from anything the API sends back. */
  readonly known: readonly string[];
  readonly now: number;
}

/** Where the numeric org id and the credential ID are read in Adobe Developer Console. */
export const WHERE_IDS =
  'the numeric org id and the credential ID are the numbers in the Developer Console URL of the credential: …/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/oauthservertoserver';

/** An answer that is not what the API documents. */
export function badAnswer(a: Answer, host: string, problem: string): ImsTokenError {
  return new ImsTokenError('IMS_BAD_RESPONSE', `The I/O Management API (${host}) answered HTTP ${a.status} ${problem}.`, {
    status: a.status,
    debugId: a.debugId,
    hint: 'Check IMS_MANAGEMENT_URL points at the I/O Management API (https://api.adobe.io).',
  });
}

/** Epoch ms from Adobe's strings of milliseconds (numbers and ISO dates accepted too). */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** The secrets of `GET …/secrets`, oldest first. */
export function parseSecretList(a: Answer, host: string): ClientSecretInfo[] {
  const list = a.json?.client_secrets;
  if (!Array.isArray(list)) throw badAnswer(a, host, 'without a client_secrets list');
  const out = list.map((item: unknown): ClientSecretInfo => {
    const s = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const uuid = s.uuid;
    const createdAt = parseTime(s.created_at);
    if (typeof uuid !== 'string' || uuid === '') throw badAnswer(a, host, 'with a secret without a uuid');
    if (createdAt === undefined) throw badAnswer(a, host, `with secret ${uuid} without a created_at time`);
    let expiresAt: 'PERMANENT' | number = 'PERMANENT';
    if (
      s.expires_at !== undefined &&
      s.expires_at !== null &&
      !(typeof s.expires_at === 'string' && s.expires_at.toUpperCase() === 'PERMANENT')
    ) {
      const t = parseTime(s.expires_at);
      if (t === undefined) throw badAnswer(a, host, `with secret ${uuid} with an unreadable expires_at`);
      expiresAt = t;
    }
    let lastUsedAt: number | undefined;
    if (Array.isArray(s.secret_usages)) {
      for (const u of s.secret_usages as unknown[]) {
        const t = parseTime((u as Record<string, unknown> | null)?.last_used_at);
        if (t !== undefined && (lastUsedAt === undefined || t > lastUsedAt)) lastUsedAt = t;
      }
    }
    return Object.freeze({ uuid, createdAt, expiresAt, lastUsedAt });
  });
  return out.sort((x, y) => x.createdAt - y.createdAt || (x.uuid < y.uuid ? -1 : 1));
}

/** The new secret of `POST …/secrets` (the only answer with a secret value): redacted in `util.inspect` and JSON. */
export function parseNewSecret(a: Answer, host: string, now: number): NewClientSecret {
  const j = a.json;
  const uuid = j?.uuid;
  const value = j?.client_secret;
  if (typeof uuid !== 'string' || uuid === '') throw badAnswer(a, host, 'without the uuid of the new secret');
  if (typeof value !== 'string' || value === '') throw badAnswer(a, host, `without the value of the new secret ${uuid}`);
  const createdAt = parseTime(j?.created_at) ?? now;
  const safe = { uuid, clientSecret: '[redacted]', createdAt };
  const o = { uuid, clientSecret: value, createdAt };
  Object.defineProperty(o, 'toJSON', { value: () => ({ ...safe }) });
  Object.defineProperty(o, INSPECT, {
    value: () => `NewClientSecret { uuid: '${uuid}', clientSecret: '[redacted]', createdAt: ${createdAt} }`,
  });
  return Object.freeze(o);
}

/**
 * The numeric org id of the org whose IMS org code is `code`, from `GET /console/organizations`
 * (`[{ id, code, name, type, role }]`). `IMS_CONFIG` (field `orgId`) when this credential cannot see it.
 */
export function orgIdForCode(a: Answer, host: string, code: string): string {
  let list: unknown;
  try {
    list = JSON.parse(a.text);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list)) throw badAnswer(a, host, 'to GET /console/organizations without a list of organizations');
  const orgs = list.filter((o): o is Record<string, unknown> => typeof o === 'object' && o !== null);
  const match = orgs.find((o) => typeof o.code === 'string' && o.code.toLowerCase() === code.toLowerCase());
  const id = match?.id;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  const visible = orgs.map((o) => `${String(o.code)} (numeric org id ${String(o.id)})`).join(', ');
  throw configError(
    'orgId',
    `is the IMS org code ${code}, and no organization this credential can see has it (it sees ${visible || 'none'}); the I/O Management API takes the numeric org id, not the …@AdobeOrg code`,
    { hint: `Set the org ID to the numeric org id: ${WHERE_IDS}.` },
  );
}

/** An error answer of the secrets endpoints as an {@link ImsTokenError} with a stable code. */
export function secretsError(a: Answer, op: Op, asked: Asked, uuid?: string): ImsTokenError {
  const j = a.json;
  const raw = [j?.message, j?.error_description, j?.error, j?.error_code].find((v) => typeof v === 'string' || typeof v === 'number');
  const said = raw === undefined ? '' : scrub(String(raw), asked.known).replace(/\s+/g, ' ').slice(0, 200);
  const details = {
    status: a.status,
    debugId: a.debugId,
    ...(typeof j?.error_code === 'string' ? { imsError: scrub(j.error_code, asked.known).slice(0, 100) } : {}),
    ...(said ? { imsErrorDescription: said } : {}),
  };
  const where = `The I/O Management API (${asked.host})`;
  const answered = `HTTP ${a.status}${said ? `: ${said}` : ''}`;
  const verb = op === 'list' ? 'listing' : op === 'add' ? 'adding' : op === 'delete' ? 'deleting' : 'reading organizations for';
  let code: ImsTokenErrorCode;
  let message: string;
  if (a.status === 401) {
    code = 'IMS_UNAUTHORIZED_CLIENT';
    message = `${where} refused a freshly minted management token for client id ${asked.clientId} (${answered}).`;
  } else if (a.status === 403) {
    code = 'IMS_FORBIDDEN';
    message = `${where} refused ${verb} client secrets (${answered}): add the I/O Management API to the project in Adobe Developer Console, and check that credential ${asked.credentialId} belongs to client id ${asked.clientId}.`;
  } else if (a.status === 404) {
    code = 'IMS_NOT_FOUND';
    const id = uuid !== undefined && /^(?:[0-9a-f]{32}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$/i.test(uuid) ? uuid : 'with that uuid';
    message =
      op === 'delete'
        ? `${where} found no client secret ${id} on credential ${asked.credentialId} of organization ${asked.orgId} (${answered}): check the uuid (list the secrets), the org ID and the credential ID.`
        : `${where} found no credential ${asked.credentialId} in organization ${asked.orgId} (${answered}): check the org ID (the numeric org id) and the credential ID.`;
  } else if (a.status === 429) {
    code = 'IMS_RATE_LIMITED';
    message = `${where} is throttling this client (HTTP 429).`;
  } else if (a.status >= 500) {
    code = 'IMS_SERVER_ERROR';
    message = `${where} failed (${answered}).`;
  } else if (op === 'add' && (a.status === 400 || a.status === 409) && /max|limit|exceed/i.test(said)) {
    // ASSUMED: Adobe does not document the answer past the 2-secret limit; a 400/409 that says so is read as it.
    code = 'IMS_SECRET_LIMIT';
    message = `${where} refused to add a client secret: credential ${asked.credentialId} already has the two secrets Adobe allows (${answered}). Delete the unused one first.`;
  } else {
    code = 'IMS_BAD_RESPONSE';
    message = `${where} answered ${answered} to ${verb} client secrets.`;
  }
  const retryAfterMs = a.status === 429 || a.status === 503 ? parseRetryAfter(a.retryAfter, asked.now) : undefined;
  return new ImsTokenError(code, message, {
    ...details,
    retryAfterMs,
    ...(code === 'IMS_SERVER_ERROR' || code === 'IMS_RATE_LIMITED'
      ? { hint: 'The I/O Management API is failing or throttling; this is retried automatically. Try again later.' }
      : {}),
  });
}

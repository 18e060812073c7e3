import { createHash, createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  Emulator,
  EmulatorClient,
  EmulatorClientInput,
  EmulatorOptions,
  EmulatorStats,
  FaultKind,
  FaultRule,
  FaultTarget,
} from './types';

/** Client ID of the client registered when no `clients` option is given. */
export const DEFAULT_CLIENT_ID = 'ims-emulator-client';
/** Client secret of the default client. */
export const DEFAULT_CLIENT_SECRET = 'ims-emulator-secret';
/**
 * Numeric AMS org id of the default client: the `{orgId}` of the I/O Management API paths and the number in the
 * Developer Console URL `…/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/…`
 * (Adobe's own example, AdobeDocs/adobe-dev-console ServerToServerAuthentication/implementation.md).
 */
export const DEFAULT_ORG_ID = '23294';
/** IMS org code (`<24 hex>@AdobeOrg`) of the default client's org: not what the secrets paths take. */
export const DEFAULT_ORG_CODE = 'E0E0E0E0E0E0E0E0E0E0E0E0@AdobeOrg';
/** Name of the default client's org, as `GET /console/organizations` answers it. */
export const DEFAULT_ORG_NAME = 'Emulator Org';
/** Credential ID of the default client. */
export const DEFAULT_CREDENTIAL_ID = 'emulator-credential';

// Real timers, captured at load: a test that installs fake timers after importing the emulator must not freeze it.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const JSON_TYPE = 'application/json;charset=utf-8';
const ALWAYS_401_PATH = '/api/v1/always-401';
const SAMPLE_ROUTES: readonly string[] = ['/api/v1/whoami', '/api/v1/echo', '/api/v1/download', '/api/v1/jobs', ALWAYS_401_PATH];
const MAX_FORM_BODY = 64 * 1024;
const MAX_JSON_BODY = 1024 * 1024;
const MAX_SECRETS = 2;
const JWT_HEADER = { alg: 'RS256', x5u: 'ims_na1-key-at-1.cer', kid: 'ims_na1-key-at-1', itt: 'at' };
const FAULT_KINDS: readonly FaultKind[] = [
  'status',
  'latency',
  'reset',
  'reset-mid-body',
  'hang',
  'malformed',
  'html',
  'response',
  'token-invalid',
  'api-key-invalid',
  'access-error',
  'backpressure-limited',
];
/** Fault kinds that imitate the API gateway; their default target is the sample API. */
const GATEWAY_FAULT_KINDS: readonly FaultKind[] = ['token-invalid', 'api-key-invalid', 'access-error', 'backpressure-limited'];

// Adobe API gateway answers. Sourced: 401013 is the 401 example of Firefly's OpenAPI
// (Firefly-Services/firefly-services-sdk-js packages/firefly/oas/FFApiOpenApi3.json); 403003 is the gateway answer the
// project's DESIGN.md records. Assumed: 403000 for a missing key (no Adobe document found).
const TOKEN_INVALID = { error_code: '401013', message: 'Oauth token is not valid' };
const API_KEY_INVALID = { error_code: '403003', message: 'Api Key is invalid' };
const API_KEY_MISSING = { error_code: '403000', message: 'Api Key is required' };
// Firefly's own gateway answers (codes per DESIGN.md / issue 14). ASSUMED: the `message` texts; the backpressure one is
// the text third-party Firefly clients match on, not an Adobe document.
const ACCESS_ERROR = { error_code: 'access_error', message: 'Access denied' };
const BACKPRESSURE_LIMITED = { error_code: 'backpressure_limited', message: 'Worker is overloaded. Please try again later.' };

// AMS org type and the caller's role, as GET /console/organizations answers them. `entp` is the enterprise org type
// Adobe's aio tooling filters on; ASSUMED: the role a technical account gets (not documented).
const ORG_TYPE = 'entp';
const ORG_ROLE = 'ADMIN';
const NUMERIC_ORG_ID = /^\d+$/;
const ORG_CODE = /^[^@\s/]+@AdobeOrg$/;
const FAULT_TARGETS: readonly FaultTarget[] = ['token', 'api', 'secrets', 'any'];

interface SecretRecord {
  uuid: string;
  value: string;
  createdAt: number;
  activeAt: number;
  /** Times of mints with this secret not yet shown as `last_used_at` (see `lastUsedLagMs`), oldest first. */
  uses: number[];
  /** The `last_used_at` the secrets list shows. */
  lastUsedAt?: number;
}

interface ClientRecord {
  pub: EmulatorClient;
  secrets: SecretRecord[];
  techAccountId: string;
  org: OrgRecord;
}

/** An org as GET /console/organizations answers it: `id` is the numeric AMS org id, `code` the IMS org code. */
interface OrgRecord {
  id: string;
  code: string;
  name: string;
  type: string;
  role: string;
}

interface MintedToken {
  clientId: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

interface Job {
  id: string;
  createdAt: number;
  input: unknown;
}

interface QueuedFault {
  rule: FaultRule;
  remaining: number;
}

type Category = 'token' | 'api' | 'secrets' | 'control' | 'other';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

function b64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A client-secret uuid as Adobe writes them: 32 hex digits, no dashes ("11ede8ab42f138f3abe335d886a407fb"). */
function secretUuid(): string {
  return randomHex(16);
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

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

/** The route a request counts under in `stats.routes`: method plus path with ids collapsed. */
function routeKey(method: string, pathname: string): string {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  let template: string | undefined;
  if (path === '/ims/token/v3') template = path;
  else if (path === '/console/organizations') template = path;
  else if (/^\/console\/organizations\/[^/]+\/credentials\/[^/]+\/secrets$/.test(path)) {
    template = '/console/organizations/:orgId/credentials/:credentialId/secrets';
  } else if (/^\/console\/organizations\/[^/]+\/credentials\/[^/]+\/secrets\/[^/]+$/.test(path)) {
    template = '/console/organizations/:orgId/credentials/:credentialId/secrets/:uuid';
  } else if (SAMPLE_ROUTES.includes(path)) template = path;
  else if (/^\/api\/v1\/jobs\/[^/]+$/.test(path)) template = '/api/v1/jobs/:id';
  return template === undefined ? `${method} (unknown route)` : `${method} ${template}`;
}

function splitScopes(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, { error_code: '413', message: 'request body too large' }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

function categorize(pathname: string): Category {
  if (pathname === '/__emulator' || pathname.startsWith('/__emulator/')) return 'control';
  if (pathname.startsWith('/ims/token')) return 'token';
  if (pathname === '/api' || pathname.startsWith('/api/')) return 'api';
  if (pathname === '/console' || pathname.startsWith('/console/')) return 'secrets';
  return 'other';
}

function emptyStats(): EmulatorStats {
  return {
    requests: 0,
    tokenRequests: 0,
    tokensMinted: 0,
    tokenErrors: 0,
    mintedByClient: {},
    apiRequests: 0,
    apiUnauthorized: 0,
    secretsRequests: 0,
    faultsApplied: 0,
    routes: {},
  };
}

function positiveNumber(name: string, value: unknown, allowZero: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} finite number`);
  }
  return value;
}

/**
 * Checks and normalizes a fault rule (also accepts `times: "Infinity"` as sent over JSON).
 * @throws TypeError / RangeError when the rule is not valid.
 */
export function normalizeFaultRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null) throw new TypeError('a fault rule must be an object');
  const raw = input as Record<string, unknown>;
  const kind = raw['kind'];
  if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind as FaultKind)) {
    throw new TypeError(`fault kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const target = raw['target'] ?? (GATEWAY_FAULT_KINDS.includes(kind as FaultKind) ? 'api' : 'token');
  if (typeof target !== 'string' || !FAULT_TARGETS.includes(target as FaultTarget)) {
    throw new TypeError(`fault target must be one of ${FAULT_TARGETS.join(', ')}`);
  }
  let times = raw['times'] ?? 1;
  if (times === 'Infinity' || times === 'infinity') times = Infinity;
  if (typeof times !== 'number' || Number.isNaN(times) || times < 1) throw new RangeError('fault times must be a number >= 1 or Infinity');
  const rule: FaultRule = { kind: kind as FaultKind, target: target as FaultTarget, times };
  if (raw['status'] !== undefined) {
    const status = raw['status'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new RangeError('fault status must be an HTTP status code');
    }
    rule.status = status;
  }
  if (raw['retryAfter'] !== undefined) {
    const ra = raw['retryAfter'];
    if (typeof ra !== 'string' && typeof ra !== 'number') throw new TypeError('fault retryAfter must be a string or a number');
    rule.retryAfter = ra;
  }
  if (raw['latencyMs'] !== undefined) rule.latencyMs = positiveNumber('fault latencyMs', raw['latencyMs'], true);
  if (kind === 'latency' && rule.latencyMs === undefined) throw new TypeError('a latency fault needs latencyMs');
  if ('body' in raw) rule.body = raw['body'];
  if (raw['headers'] !== undefined) {
    const h = raw['headers'];
    if (typeof h !== 'object' || h === null) throw new TypeError('fault headers must be an object');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) headers[k] = String(v);
    rule.headers = headers;
  }
  return rule;
}

// ASSUMED: IMS's own error bodies for 429 and 5xx (IMS documents the `{error, error_description}` form, not these texts).
function faultErrorBody(status: number): { error: string; error_description: string } {
  if (status === 429) return { error: 'too_many_requests', error_description: 'Too many requests, please retry later' };
  if (status === 503) return { error: 'server_error', error_description: 'Service temporarily unavailable' };
  if (status >= 500) return { error: 'server_error', error_description: 'Internal server error' };
  return { error: 'invalid_request', error_description: `Request failed with status ${status}` };
}

function htmlPage(status: number): string {
  const title = `${status} ${status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}

/**
 * Starts an emulator of Adobe IMS (token endpoint), the I/O Management API secrets endpoints and a small
 * protected sample Adobe API, on one local HTTP server.
 *
 * @example
 * const emu = await startEmulator();
 * const res = await fetch(`${emu.url}/ims/token/v3`, { method: 'POST', body: new URLSearchParams({ ... }) });
 * await emu.stop();
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger;
  let tokenLifetimeSeconds = positiveNumber('tokenLifetimeSeconds', options.tokenLifetimeSeconds ?? 86399, false);
  let secretActivationDelayMs = positiveNumber('secretActivationDelayMs', options.secretActivationDelayMs ?? 1000, true);
  const jobDurationMs = positiveNumber('jobDurationMs', options.jobDurationMs ?? 1500, true);
  // ASSUMED: how soon Adobe's `last_used_at` moves after a mint is not documented; 0 = at once.
  let lastUsedLagMs = positiveNumber('lastUsedLagMs', options.lastUsedLagMs ?? 0, true);
  const signingKey = randomBytes(32);

  const clients = new Map<string, ClientRecord>();
  const orgs = new Map<string, OrgRecord>();
  const minted = new Map<string, MintedToken>();
  const jobs = new Map<string, Job>();
  let faults: QueuedFault[] = [];
  let stats = emptyStats();
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = '';

  function log(line: string): void {
    if (!logger) return;
    try {
      logger(line);
    } catch {
      // a failing logger must not break the emulator
    }
  }

  // ---------------------------------------------------------------- clients

  function newSecret(value: string, activeAt: number): SecretRecord {
    const now = Date.now();
    return { uuid: secretUuid(), value, createdAt: Math.min(now, activeAt), activeAt, uses: [] };
  }

  /** The `last_used_at` the secrets list shows now: the newest mint at least `lastUsedLagMs` old. */
  function visibleLastUse(secret: SecretRecord, now: number): number | undefined {
    while (secret.uses.length > 0 && (secret.uses[0] as number) + lastUsedLagMs <= now) {
      secret.lastUsedAt = secret.uses.shift();
    }
    return secret.lastUsedAt;
  }

  /** Finds or creates the org a client belongs to; the numeric AMS org id and the IMS org code name one org each. */
  function resolveOrg(input: EmulatorClientInput): OrgRecord {
    const { orgId, orgCode, orgName } = input;
    if (orgId !== undefined && (typeof orgId !== 'string' || !NUMERIC_ORG_ID.test(orgId))) {
      throw new TypeError(
        'orgId must be the numeric AMS org id (the number in the Developer Console URL …/console/projects/{orgId}/…); an …@AdobeOrg value is the org code: pass it as orgCode',
      );
    }
    if (orgCode !== undefined && (typeof orgCode !== 'string' || !ORG_CODE.test(orgCode))) {
      throw new TypeError('orgCode must be an IMS org code ending in @AdobeOrg');
    }
    const byId = orgId === undefined ? undefined : orgs.get(orgId);
    const byCode = orgCode === undefined ? undefined : [...orgs.values()].find((o) => o.code === orgCode);
    const existing = byId ?? byCode;
    if (existing) {
      if (
        (byId && byCode && byId !== byCode) ||
        (orgCode !== undefined && existing.code !== orgCode) ||
        (orgId !== undefined && existing.id !== orgId)
      ) {
        throw new Error(`org ${orgId ?? orgCode} is already registered with another org id or code`);
      }
      if (orgName !== undefined && orgName !== existing.name)
        throw new Error(`org ${existing.id} is already registered as "${existing.name}"`);
      return existing;
    }
    let id = orgId;
    while (id === undefined || orgs.has(id)) id = String(randomInt(10_000, 10_000_000));
    const org: OrgRecord = {
      id,
      code: orgCode ?? `${randomHex(12).toUpperCase()}@AdobeOrg`,
      name: orgName ?? `Emulator org ${id}`,
      type: ORG_TYPE,
      role: ORG_ROLE,
    };
    orgs.set(id, org);
    return org;
  }

  function registerClient(input: EmulatorClientInput = {}): ClientRecord {
    const clientId = input.clientId ?? randomHex(16);
    if (clients.has(clientId)) throw new Error(`client ${clientId} is already registered`);
    const values =
      input.clientSecrets && input.clientSecrets.length > 0
        ? input.clientSecrets
        : [input.clientSecret ?? `p8e-${randomBytes(24).toString('base64url')}`];
    if (values.length > MAX_SECRETS) throw new RangeError(`a client has at most ${MAX_SECRETS} secrets`);
    const org = resolveOrg(input);
    const now = Date.now();
    const record: ClientRecord = {
      pub: undefined as unknown as EmulatorClient,
      secrets: values.map((v) => newSecret(v, now)),
      techAccountId: randomHex(12).toUpperCase(),
      org,
    };
    const pub: EmulatorClient = {
      clientId,
      get clientSecrets(): string[] {
        return record.secrets.map((s) => s.value);
      },
      set clientSecrets(v: string[]) {
        const t = Date.now();
        record.secrets = v.slice(0, MAX_SECRETS).map((value) => newSecret(value, t));
      },
      allowedScopes: input.allowedScopes ? [...input.allowedScopes] : undefined,
      orgId: org.id,
      orgCode: org.code,
      orgName: org.name,
      credentialId: input.credentialId ?? String(randomInt(100_000, 10_000_000)),
      disabled: input.disabled ?? false,
    };
    record.pub = pub;
    clients.set(clientId, record);
    return record;
  }

  function clientView(record: ClientRecord): EmulatorClient & { clientSecret: string } {
    const p = record.pub;
    return {
      clientId: p.clientId,
      clientSecret: record.secrets[0]?.value ?? '',
      clientSecrets: record.secrets.map((s) => s.value),
      allowedScopes: p.allowedScopes ? [...p.allowedScopes] : undefined,
      orgId: p.orgId,
      orgCode: p.orgCode,
      orgName: p.orgName,
      credentialId: p.credentialId,
      disabled: p.disabled ?? false,
    };
  }

  if (options.clients && options.clients.length > 0) {
    for (const c of options.clients) registerClient(c);
  } else {
    registerClient({
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      orgId: DEFAULT_ORG_ID,
      orgCode: DEFAULT_ORG_CODE,
      orgName: DEFAULT_ORG_NAME,
      credentialId: DEFAULT_CREDENTIAL_ID,
    });
  }

  // ---------------------------------------------------------------- tokens

  function sign(data: string): string {
    return createHmac('sha256', signingKey).update(data).digest('base64url');
  }

  function mintToken(record: ClientRecord, scopes: string[]): { token: string; expiresIn: number } {
    const now = Date.now();
    const lifetime = tokenLifetimeSeconds;
    const id = `${now}_${randomUUID()}_ue1`;
    const techAccount = `${record.techAccountId}@techacct.adobe.com`;
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
    return { token: `${unsigned}.${sign(unsigned)}`, expiresIn: lifetime };
  }

  /** Returns the minted-token record when the token is ours, unexpired and not revoked. */
  function verifyToken(token: string): MintedToken | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    const expected = Buffer.from(sign(`${h}.${p}`));
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
    const record = minted.get(id);
    if (!record || record.revoked || Date.now() >= record.expiresAt) return undefined;
    return record;
  }

  function tokenError(res: ServerResponse, status: number, error: string, description: string): void {
    stats.tokenErrors++;
    sendJson(res, status, { error, error_description: description });
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
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

    const clientId = params.get('client_id');
    const record = clientId ? clients.get(clientId) : undefined;
    if (!record) return tokenError(res, 400, 'invalid_client', 'invalid client_id parameter');
    const secret = params.get('client_secret');
    const now = Date.now();
    const matched = secret ? record.secrets.find((s) => s.value === secret) : undefined;
    if (!matched || now < matched.activeAt) return tokenError(res, 400, 'invalid_client', 'invalid client_secret parameter');
    // ASSUMED: the texts of unauthorized_client and invalid_scope for this grant (the error codes are OAuth's; Adobe
    // documents no description). Core must match the code, never the text.
    if (record.pub.disabled) return tokenError(res, 400, 'unauthorized_client', 'client is not authorized to request an access token');
    const grantType = params.get('grant_type');
    if (grantType !== 'client_credentials') {
      return tokenError(
        res,
        400,
        'unsupported_grant_type',
        grantType ? 'unsupported grant_type parameter' : 'missing grant_type parameter',
      );
    }
    const scopes = splitScopes(params.get('scope'));
    const allowed = record.pub.allowedScopes;
    if (allowed && scopes.some((s) => !allowed.includes(s))) return tokenError(res, 400, 'invalid_scope', 'invalid scope');

    const { token, expiresIn } = mintToken(record, scopes);
    matched.uses.push(now);
    if (matched.uses.length > 1000) matched.uses.splice(0, matched.uses.length - 1000);
    stats.tokensMinted++;
    stats.mintedByClient[record.pub.clientId] = (stats.mintedByClient[record.pub.clientId] ?? 0) + 1;
    sendJson(res, 200, { access_token: token, token_type: 'bearer', expires_in: expiresIn });
  }

  // ---------------------------------------------------------------- gateway

  /** Applies the API gateway's rules; answers and returns undefined on failure. */
  function authenticate(req: IncomingMessage, res: ServerResponse, countUnauthorized: boolean): MintedToken | undefined {
    const auth = req.headers.authorization;
    const match = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    const token = match?.[1] ? verifyToken(match[1]) : undefined;
    if (!token) {
      if (countUnauthorized) stats.apiUnauthorized++;
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

  function requestBase(req: IncomingMessage): string {
    const h = req.headers.host;
    return typeof h === 'string' && h.length > 0 ? `http://${h}` : baseUrl;
  }

  function jobView(job: Job): Record<string, unknown> {
    const elapsed = Date.now() - job.createdAt;
    const status = elapsed < jobDurationMs / 3 ? 'pending' : elapsed < jobDurationMs ? 'running' : 'succeeded';
    const view: Record<string, unknown> = { jobId: job.id, status, createdAt: job.createdAt };
    if (status === 'succeeded') view['result'] = { input: job.input, completedAt: job.createdAt + jobDurationMs };
    return view;
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const jobMatch = /^\/api\/v1\/jobs\/([^/]+)$/.exec(path);
    if (!SAMPLE_ROUTES.includes(path) && jobMatch === null) {
      sendJson(res, 404, { error_code: '404', message: 'Not found' });
      return;
    }
    if (path === ALWAYS_401_PATH) {
      // The gateway's 401 whatever the token: a call a fresh token cannot cure (401-amplification tests).
      stats.apiUnauthorized++;
      req.resume();
      sendJson(res, 401, TOKEN_INVALID);
      return;
    }
    const token = authenticate(req, res, true);
    if (!token) return;

    if (path === '/api/v1/whoami' && method === 'GET') {
      sendJson(res, 200, { clientId: token.clientId, scopes: token.scopes, expiresAt: token.expiresAt });
      return;
    }
    if (path === '/api/v1/echo' && method === 'POST') {
      await echo(req, res);
      return;
    }
    if (path === '/api/v1/download' && method === 'GET') {
      const raw = url.searchParams.get('bytes') ?? '1024';
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 0) {
        sendJson(res, 400, { error_code: '400', message: 'bytes must be a non-negative integer' });
        return;
      }
      await download(res, n);
      return;
    }
    if (path === '/api/v1/jobs' && method === 'POST') {
      const text = await readBody(req, MAX_JSON_BODY);
      let input: unknown = null;
      if (text.trim().length > 0) {
        try {
          input = JSON.parse(text);
        } catch {
          sendJson(res, 400, { error_code: '400', message: 'request body is not valid JSON' });
          return;
        }
      }
      const job: Job = { id: randomUUID(), createdAt: Date.now(), input };
      jobs.set(job.id, job);
      const statusUrl = `${requestBase(req)}/api/v1/jobs/${job.id}`;
      sendJson(res, 202, { jobId: job.id, status: 'pending', statusUrl }, { location: statusUrl });
      return;
    }
    if (jobMatch && method === 'GET') {
      const job = jobs.get(decodeURIComponent(jobMatch[1] ?? ''));
      if (!job) {
        sendJson(res, 404, { error_code: '404', message: 'job not found' });
        return;
      }
      sendJson(res, 200, jobView(job));
      return;
    }
    sendJson(res, 405, { error_code: '405', message: 'Method not allowed' });
  }

  function echo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.on('end', () => {
        const receivedHeaders: Record<string, string | string[] | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) receivedHeaders[k] = k === 'authorization' ? 'present' : v;
        sendJson(res, 200, {
          bytes,
          sha256: hash.digest('hex'),
          contentType: req.headers['content-type'] ?? null,
          receivedHeaders,
        });
        resolve();
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
  }

  async function download(res: ServerResponse, total: number): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunkSize = 64 * 1024;
    const pattern = Buffer.alloc(chunkSize + 256);
    for (let i = 0; i < pattern.length; i++) pattern[i] = i & 0xff;
    let sent = 0;
    while (sent < total) {
      if (res.destroyed) return;
      const n = Math.min(chunkSize, total - sent);
      const offset = sent & 0xff; // byte i of the stream is i & 0xff
      const ok = res.write(pattern.subarray(offset, offset + n));
      sent += n;
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  }

  // ---------------------------------------------------------------- secrets

  /**
   * `GET /console/organizations`: the orgs of the calling credential, `[{ id, code, name, type, role }]` (aio-lib-console
   * `getOrganizations()`, spec/api.json; aio-cli-plugin-console `console org list` reads id, code and name). `id` is the
   * numeric AMS org id the secrets paths take, `code` the IMS org code.
   */
  function handleOrganizations(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      sendJson(res, 405, { error_code: '405', message: 'Method not allowed' }, { allow: 'GET' });
      return;
    }
    const token = authenticate(req, res, false);
    if (!token) return;
    if (!token.scopes.includes('read_organizations')) {
      // ASSUMED: the body of a missing-scope answer (the status is the gateway's; the text is not documented).
      sendJson(res, 403, { error_code: '403027', message: 'Insufficient scope (read_organizations is required)' });
      return;
    }
    const org = clients.get(token.clientId)?.org;
    sendJson(res, 200, org ? [{ id: org.id, code: org.code, name: org.name, type: org.type, role: org.role }] : []);
  }

  async function handleSecrets(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (/^\/console\/organizations\/?$/.test(url.pathname)) {
      handleOrganizations(req, res);
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
    const token = authenticate(req, res, false);
    if (!token) return;
    // The path takes the numeric AMS org id only: an …@AdobeOrg code names no org here, as at Adobe (404).
    const record = [...clients.values()].find((c) => c.org.id === orgId && c.pub.credentialId === credentialId);
    if (!record) {
      // Status from spec/api.json ("404 Credential Not Found"); ASSUMED: the body.
      sendJson(res, 404, { error_code: '404', message: 'credential not found' });
      return;
    }
    if (record.pub.clientId !== token.clientId) {
      sendJson(res, 403, { error_code: '403', message: 'the access token does not belong to this credential' });
      return;
    }
    const needed = method === 'GET' ? 'read_client_secret' : 'manage_client_secrets';
    if (!token.scopes.includes(needed)) {
      sendJson(res, 403, {
        error_code: '403027',
        message: `Insufficient scope (${needed} is required): the I/O Management API may not be added to this project`,
      });
      return;
    }

    // Shapes as in Adobe's examples (AdobeDocs/adobe-dev-console ServerToServerAuthentication/IMS.md): keys in this
    // order, epoch-ms strings with `_str` twins, "PERMANENT" expiry, 32-hex uuids, `secret_usages` null until used.
    if (uuid === undefined && method === 'GET') {
      const now = Date.now();
      sendJson(res, 200, {
        client_id: record.pub.clientId,
        client_secrets: record.secrets.map((s) => {
          const lastUsed = visibleLastUse(s, now);
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
        // The limit of 2 is documented ("You can add up to 2 client secrets"); ASSUMED: this answer's status and body.
        sendJson(res, 400, { error_code: '400', message: `maximum number of client secrets reached (${MAX_SECRETS})` });
        return;
      }
      const now = Date.now();
      // ASSUMED: a new secret does not work at once (secretActivationDelayMs); Adobe does not say how soon it does.
      const secret: SecretRecord = {
        uuid: secretUuid(),
        value: `p8e-${randomBytes(24).toString('base64url')}`,
        createdAt: now,
        activeAt: now + secretActivationDelayMs,
        uses: [],
      };
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
      record.secrets.splice(index, 1);
      res.writeHead(204);
      res.end();
      return;
    }
    sendJson(res, 405, { error_code: '405', message: 'Method not allowed' });
  }

  // ---------------------------------------------------------------- control API

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const text = await readBody(req, MAX_JSON_BODY);
    if (text.trim().length === 0) return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, { error: 'invalid_request', message: 'body is not valid JSON' });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new HttpError(400, { error: 'invalid_request', message: 'body must be a JSON object' });
    }
    return value as Record<string, unknown>;
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    const route = `${req.method ?? 'GET'} ${path}`;
    try {
      switch (route) {
        case 'GET /__emulator/stats':
          sendJson(res, 200, api.stats);
          return;
        case 'GET /__emulator/health':
          sendJson(res, 200, { ok: true, url: baseUrl });
          return;
        case 'POST /__emulator/faults': {
          const rule = normalizeFaultRule(await readJson(req));
          api.fault(rule);
          sendJson(res, 201, { ok: true, queued: faults.length });
          return;
        }
        case 'DELETE /__emulator/faults':
          api.clearFaults();
          sendJson(res, 200, { ok: true });
          return;
        case 'POST /__emulator/clients': {
          const body = await readJson(req);
          sendJson(res, 201, api.addClient(body as EmulatorClientInput));
          return;
        }
        case 'POST /__emulator/config': {
          const body = await readJson(req);
          if (body['tokenLifetimeSeconds'] !== undefined) api.setTokenLifetime(body['tokenLifetimeSeconds'] as number);
          if (body['secretActivationDelayMs'] !== undefined) {
            secretActivationDelayMs = positiveNumber('secretActivationDelayMs', body['secretActivationDelayMs'], true);
          }
          if (body['lastUsedLagMs'] !== undefined) lastUsedLagMs = positiveNumber('lastUsedLagMs', body['lastUsedLagMs'], true);
          sendJson(res, 200, { ok: true, tokenLifetimeSeconds, secretActivationDelayMs, lastUsedLagMs });
          return;
        }
        case 'POST /__emulator/revoke': {
          const body = await readJson(req);
          const clientId = body['clientId'];
          api.revokeTokens(typeof clientId === 'string' ? clientId : undefined);
          sendJson(res, 200, { ok: true });
          return;
        }
        case 'POST /__emulator/reset-stats':
          api.resetStats();
          sendJson(res, 200, { ok: true });
          return;
        default:
          sendJson(res, 404, { error: 'not_found', message: `unknown control route ${route}` });
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, { error: 'invalid_request', message: err instanceof Error ? err.message : String(err) });
    }
  }

  // ---------------------------------------------------------------- faults

  function takeFault(category: Category): FaultRule | undefined {
    if (category === 'control') return undefined;
    for (let i = 0; i < faults.length; i++) {
      const q = faults[i] as QueuedFault;
      const target = q.rule.target ?? 'token';
      if (target === 'any' || target === category) {
        q.remaining--;
        if (q.remaining <= 0) faults.splice(i, 1);
        stats.faultsApplied++;
        return q.rule;
      }
    }
    return undefined;
  }

  function faultHeaders(rule: FaultRule): Record<string, string> {
    const headers: Record<string, string> = {};
    if (rule.retryAfter !== undefined) headers['retry-after'] = String(rule.retryAfter);
    for (const [k, v] of Object.entries(rule.headers ?? {})) headers[k.toLowerCase()] = v;
    return headers;
  }

  /** Applies a fault. Returns true when the request is answered (or dropped) by the fault. */
  async function applyFault(rule: FaultRule, req: IncomingMessage, res: ServerResponse, category: Category): Promise<boolean> {
    const answer = (status: number, body: unknown): true => {
      if (status === 401 && category === 'api') stats.apiUnauthorized++;
      req.resume();
      sendJson(res, status, body, faultHeaders(rule));
      return true;
    };
    switch (rule.kind) {
      case 'token-invalid':
        return answer(401, TOKEN_INVALID);
      case 'api-key-invalid':
        return answer(403, API_KEY_INVALID);
      case 'access-error':
        return answer(403, ACCESS_ERROR);
      case 'backpressure-limited':
        return answer(429, BACKPRESSURE_LIMITED);
      case 'latency':
        await new Promise<void>((resolve) => {
          const t = realSetTimeout(() => {
            timers.delete(t);
            resolve();
          }, rule.latencyMs ?? 0);
          timers.add(t);
          res.once('close', () => {
            realClearTimeout(t);
            timers.delete(t);
            resolve();
          });
        });
        return res.destroyed;
      case 'reset':
        req.socket.destroy();
        return true;
      case 'hang':
        // Never answer; stop() closes the connection.
        return true;
      case 'reset-mid-body': {
        const full = JSON.stringify({ access_token: `eyJ${randomHex(64)}`, token_type: 'bearer', expires_in: 86399 });
        const half = full.slice(0, Math.floor(full.length / 2));
        res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(full), ...(rule.headers ?? {}) });
        res.write(half, () => req.socket.destroy());
        return true;
      }
      case 'malformed': {
        const text = '{"access_token": "abc';
        res.writeHead(rule.status ?? 200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...faultHeaders(rule) });
        res.end(text);
        return true;
      }
      case 'html': {
        const status = rule.status ?? 502;
        const text = htmlPage(status);
        res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text), ...faultHeaders(rule) });
        res.end(text);
        return true;
      }
      case 'status':
        return answer(rule.status ?? 500, faultErrorBody(rule.status ?? 500));
      case 'response': {
        const status = rule.status ?? 200;
        const headers = faultHeaders(rule);
        if (rule.body === undefined) {
          res.writeHead(status, { 'content-length': 0, ...headers });
          res.end();
        } else if (typeof rule.body === 'string') {
          res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(rule.body), ...headers });
          res.end(rule.body);
        } else {
          sendJson(res, status, rule.body, headers);
        }
        return true;
      }
    }
  }

  // ---------------------------------------------------------------- server

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-debug-id', randomUUID());
    const url = new URL(req.url ?? '/', 'http://emulator.local');
    const category = categorize(url.pathname);
    if (category !== 'control') stats.requests++;
    if (category === 'token') stats.tokenRequests++;
    else if (category === 'api') stats.apiRequests++;
    else if (category === 'secrets') stats.secretsRequests++;
    if (category !== 'control') {
      const key = routeKey(req.method ?? 'GET', url.pathname);
      stats.routes[key] = (stats.routes[key] ?? 0) + 1;
    }
    res.on('finish', () => log(`${req.method ?? '?'} ${url.pathname} ${res.statusCode}`));

    const rule = takeFault(category);
    if (rule) {
      log(`${req.method ?? '?'} ${url.pathname} fault=${rule.kind}`);
      if (await applyFault(rule, req, res, category)) return;
    }

    switch (category) {
      case 'token':
        return handleToken(req, res, url);
      case 'api':
        return handleApi(req, res, url);
      case 'secrets':
        return handleSecrets(req, res, url);
      case 'control':
        return handleControl(req, res, url);
      default:
        sendJson(res, 404, { error_code: '404', message: 'Not found' });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, err.body);
      } else {
        log(`internal error: ${err instanceof Error ? err.message : String(err)}`);
        sendJson(res, 500, { error: 'server_error', error_description: 'emulator internal error' });
      }
      if (!req.complete) req.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  baseUrl = `http://${urlHost}:${port}`;
  let stopping: Promise<void> | undefined;

  const api: Emulator = {
    url: baseUrl,
    port,
    get stats(): EmulatorStats {
      return { ...stats, mintedByClient: { ...stats.mintedByClient }, routes: { ...stats.routes } };
    },
    addClient(c?: EmulatorClientInput): EmulatorClient & { clientSecret: string } {
      return clientView(registerClient(c));
    },
    client(clientId: string): EmulatorClient | undefined {
      return clients.get(clientId)?.pub;
    },
    fault(rule: FaultRule): void {
      const normalized = normalizeFaultRule(rule);
      faults.push({ rule: normalized, remaining: normalized.times ?? 1 });
    },
    clearFaults(): void {
      faults = [];
    },
    setTokenLifetime(seconds: number): void {
      tokenLifetimeSeconds = positiveNumber('tokenLifetimeSeconds', seconds, false);
    },
    revokeTokens(clientId?: string): void {
      for (const t of minted.values()) {
        if (clientId === undefined || t.clientId === clientId) t.revoked = true;
      }
    },
    resetStats(): void {
      stats = emptyStats();
    },
    stop(): Promise<void> {
      stopping ??= new Promise<void>((resolve) => {
        for (const t of timers) realClearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
  return api;
}

import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { normalizeImsUrl } from '../config';
import type { ClientSecretInput, Logger } from '../config';
import { ENV } from '../env';
import { parseSecretLines } from '../cache';
import { ImsTokenError, configError } from '../errors';
import type { ImsTokenErrorCode } from '../errors';
import { backoffDelay, createDefaultDispatcher, exchange, parseRetryAfter, wasNotSent } from '../http';
import type { Answer, Transport } from '../http';
import { createTokenProvider } from '../provider';
import type { TokenProvider } from '../provider';
import { scrub } from '../redact';
import { sleep } from '../sleep';
import type { ImsToken } from '../token';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * The scopes an I/O Management API token needs to list, add and delete client secrets.
 * The credential has them only once the *I/O Management API* is added to its project in Adobe Developer Console.
 *
 * @example
 * ```ts
 * import { createTokenProvider, IO_MANAGEMENT_SCOPES } from '@ims-token/core'
 * const mgmt = createTokenProvider({ clientId, clientSecret, scopes: IO_MANAGEMENT_SCOPES })
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export const IO_MANAGEMENT_SCOPES: readonly string[] = Object.freeze([
  'AdobeID',
  'openid',
  'read_organizations',
  'additional_info.projectedProductContext',
  'additional_info.roles',
  'adobeio_api',
  'read_client_secret',
  'manage_client_secrets',
]);

/**
 * The I/O Management API base URL.
 *
 * @example
 * ```ts
 * createSecretsClient({ ...creds, managementUrl: DEFAULT_MANAGEMENT_URL })
 * ```
 */
export const DEFAULT_MANAGEMENT_URL = 'https://api.adobe.io';

/** Options of {@link createSecretsClient}. */
export interface SecretsClientOptions {
  /** The credential's client ID (API key). */
  clientId: string;
  /** The current client secret (or two, or a function returning them, as for `createTokenProvider`). */
  clientSecret: ClientSecretInput;
  /** The IMS organization ID (`…@AdobeOrg`). */
  orgId: string;
  /** The credential ID of the OAuth Server-to-Server credential (Developer Console, project → credential). */
  credentialId: string;
  /** IMS base URL. Default `https://ims-na1.adobelogin.com`. */
  imsUrl?: string;
  /** I/O Management API base URL. Default `https://api.adobe.io`. Plain http only for a loopback host (the emulator). */
  managementUrl?: string;
  /** undici dispatcher for IMS and I/O Management API requests. Default: one keep-alive `Agent` per client. */
  dispatcher?: Dispatcher;
  /** Timeout of each HTTP request in ms. Default 10 000. */
  timeoutMs?: number;
  /** Retries after a network error, timeout, 5xx or 429. Default 3. Adding a secret is retried only when nothing can have been created. */
  maxRetries?: number;
  /** First backoff step in ms (full jitter, doubling). Default 250. */
  retryBaseDelayMs?: number;
  /** Longest wait between two tries, including a `Retry-After`. Default 30 000. */
  retryMaxDelayMs?: number;
  /** A pino-compatible logger. Default: silent. Never receives a secret or a full token. */
  logger?: Logger;
  /** The clock, in epoch ms (tests). Default `Date.now`. */
  clock?: () => number;
}

/** A client secret as the I/O Management API lists it (it never returns secret values). Times in epoch ms. */
export interface ClientSecretInfo {
  readonly uuid: string;
  readonly createdAt: number;
  readonly expiresAt: 'PERMANENT' | number;
  /** Last time a token was minted with it, or `undefined` when it was never used. */
  readonly lastUsedAt: number | undefined;
}

/**
 * A secret just added: the only place a secret value is ever returned.
 * `util.inspect` and `JSON.stringify` of it show `clientSecret` as `[redacted]`.
 */
export interface NewClientSecret {
  readonly uuid: string;
  readonly clientSecret: string;
  readonly createdAt: number;
}

/** Options of one secrets call. */
export interface SecretsCallOptions {
  signal?: AbortSignal;
}

/** A client for the I/O Management API client-secret endpoints of one credential. */
export interface SecretsClient {
  readonly clientId: string;
  readonly orgId: string;
  readonly credentialId: string;
  readonly imsUrl: string;
  readonly managementUrl: string;
  /** The credential's secrets, oldest first (no values). */
  listClientSecrets(options?: SecretsCallOptions): Promise<ClientSecretInfo[]>;
  /**
   * The secrets, and which of them this client authenticates with: with one secret, that one; with two, it
   * mints once more and lists again, and the secret whose `last_used_at` moved is the current one (no clock
   * comparison). `current` is `undefined` when that does not single one out (another service minted with the
   * other secret at the same moment).
   */
  findCurrentClientSecret(options?: SecretsCallOptions): Promise<{ secrets: ClientSecretInfo[]; current: ClientSecretInfo | undefined }>;
  /** Adds a secret (at most two exist: `IMS_SECRET_LIMIT` beyond). The only call that returns a secret value. */
  addClientSecret(options?: SecretsCallOptions): Promise<NewClientSecret>;
  /** Deletes a secret. Tokens already minted with it keep working until they expire. */
  deleteClientSecret(uuid: string, options?: SecretsCallOptions): Promise<void>;
  /** Releases the HTTP agent and the management token provider. */
  close(): Promise<void>;
}

/** What {@link rotateClientSecret} needs beyond the public surface. Not exported from the package. */
export interface SecretsClientInternals {
  readonly clientId: string;
  readonly imsUrl: string;
  readonly dispatcher: Dispatcher | undefined;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number | undefined;
  readonly retryBaseDelayMs: number | undefined;
  readonly retryMaxDelayMs: number | undefined;
  readonly logger: Required<Logger>;
  readonly clock: () => number;
  /** Mints a fresh management token with the current secret (touches its `last_used_at`). */
  mint(signal?: AbortSignal): Promise<ImsToken>;
}

const internals = new WeakMap<object, SecretsClientInternals>();

/** The internals of a client made by {@link createSecretsClient}; `IMS_CONFIG` for any other object. */
export function internalsOf(client: SecretsClient): SecretsClientInternals {
  const found = typeof client === 'object' && client !== null ? internals.get(client) : undefined;
  if (!found) throw configError('client', 'must be a client made by createSecretsClient()');
  return found;
}

/** An org ID, credential ID or secret uuid: a non-empty path segment. */
export function checkId(field: string, value: unknown, what: 'option' | 'argument' = 'option'): string {
  const hint = what === 'argument' ? { hint: `Pass the ${field} as it appears in Adobe Developer Console or in a secrets list.` } : {};
  if (typeof value !== 'string') throw configError(field, 'must be a string', hint);
  const v = value.trim();
  if (v === '') throw configError(field, 'must not be empty', hint);
  if (/[/\\?#%\s]/.test(v) || v === '.' || v === '..') throw configError(field, 'must not contain slashes, spaces, "?", "#" or "%"', hint);
  return v;
}

const noop = (): void => {};

function bindLogger(logger: Logger | undefined): Required<Logger> {
  const l = logger ?? {};
  const bind = (m: keyof Logger): ((obj: object, msg?: string) => void) => {
    const f = l[m];
    return typeof f === 'function' ? f.bind(l) : noop;
  };
  return { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') };
}

/** Epoch ms from Adobe's strings of milliseconds (numbers and ISO dates accepted too). */
function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function makeNewSecret(uuid: string, clientSecret: string, createdAt: number): NewClientSecret {
  const safe = { uuid, clientSecret: '[redacted]', createdAt };
  const o = { uuid, clientSecret, createdAt };
  Object.defineProperty(o, 'toJSON', { value: () => ({ ...safe }) });
  Object.defineProperty(o, INSPECT, {
    value: () => `NewClientSecret { uuid: '${uuid}', clientSecret: '[redacted]', createdAt: ${createdAt} }`,
  });
  return Object.freeze(o);
}

type Op = 'list' | 'add' | 'delete';

const abortedRequest = (): ImsTokenError => new ImsTokenError('IMS_ABORTED', 'The request was cancelled by its AbortSignal.');

class Client implements SecretsClient {
  readonly clientId: string;
  readonly orgId: string;
  readonly credentialId: string;
  readonly imsUrl: string;
  readonly managementUrl: string;
  readonly #provider: TokenProvider;
  readonly #o: SecretsClientOptions;
  readonly #logger: Required<Logger>;
  readonly #clock: () => number;
  readonly #secretsUrl: string;
  readonly #host: string;
  #agent: Transport | undefined;
  #closed = false;

  constructor(options: SecretsClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ImsTokenError(
        'IMS_CONFIG',
        'createSecretsClient needs an options object: { clientId, clientSecret, orgId, credentialId } (or use secretsClientFromEnv()).',
      );
    }
    this.orgId = checkId('orgId', options.orgId);
    this.credentialId = checkId('credentialId', options.credentialId);
    const managementUrl = normalizeImsUrl(options.managementUrl ?? DEFAULT_MANAGEMENT_URL, 'managementUrl');
    this.managementUrl = managementUrl;
    this.#host = new URL(managementUrl).host;
    this.#o = options;
    this.#logger = bindLogger(options.logger);
    this.#clock = options.clock ?? Date.now;
    this.#provider = createTokenProvider({
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      scopes: IO_MANAGEMENT_SCOPES,
      ...(options.imsUrl !== undefined ? { imsUrl: options.imsUrl } : {}),
      ...(options.dispatcher !== undefined ? { dispatcher: options.dispatcher } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
      ...(options.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: options.retryBaseDelayMs } : {}),
      ...(options.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: options.retryMaxDelayMs } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    });
    this.clientId = this.#provider.clientId;
    this.imsUrl = this.#provider.imsUrl;
    this.#secretsUrl = `${managementUrl}/console/organizations/${encodeURIComponent(this.orgId)}/credentials/${encodeURIComponent(this.credentialId)}/secrets`;
    internals.set(this, {
      clientId: this.clientId,
      imsUrl: this.imsUrl,
      dispatcher: options.dispatcher,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      retryBaseDelayMs: options.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs,
      logger: this.#logger,
      clock: this.#clock,
      mint: (signal) => this.#token(true, signal),
    });
  }

  async listClientSecrets(options?: SecretsCallOptions): Promise<ClientSecretInfo[]> {
    const a = await this.#call('GET', this.#secretsUrl, 'list', options?.signal);
    const list = a.json?.client_secrets;
    if (!Array.isArray(list)) throw this.#bad(a, 'without a client_secrets list');
    const out = list.map((item: unknown): ClientSecretInfo => {
      const s = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      const uuid = s.uuid;
      const createdAt = parseTime(s.created_at);
      if (typeof uuid !== 'string' || uuid === '') throw this.#bad(a, 'with a secret without a uuid');
      if (createdAt === undefined) throw this.#bad(a, `with secret ${uuid} without a created_at time`);
      let expiresAt: 'PERMANENT' | number = 'PERMANENT';
      if (
        s.expires_at !== undefined &&
        s.expires_at !== null &&
        !(typeof s.expires_at === 'string' && s.expires_at.toUpperCase() === 'PERMANENT')
      ) {
        const t = parseTime(s.expires_at);
        if (t === undefined) throw this.#bad(a, `with secret ${uuid} with an unreadable expires_at`);
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

  async findCurrentClientSecret(
    options?: SecretsCallOptions,
  ): Promise<{ secrets: ClientSecretInfo[]; current: ClientSecretInfo | undefined }> {
    const signal = options?.signal;
    const before = await this.listClientSecrets(options);
    if (before.length <= 1) return { secrets: before, current: before[0] };
    await sleep(5, signal, abortedRequest); // last_used_at has millisecond resolution
    await this.#token(true, signal);
    const after = await this.listClientSecrets(options);
    const moved = after.filter((s) => {
      const b = before.find((x) => x.uuid === s.uuid);
      return s.lastUsedAt !== undefined && (b?.lastUsedAt === undefined || s.lastUsedAt > b.lastUsedAt);
    });
    return { secrets: after, current: moved.length === 1 ? moved[0] : undefined };
  }

  async addClientSecret(options?: SecretsCallOptions): Promise<NewClientSecret> {
    const a = await this.#call('POST', this.#secretsUrl, 'add', options?.signal);
    const j = a.json;
    const uuid = j?.uuid;
    const value = j?.client_secret;
    if (typeof uuid !== 'string' || uuid === '') throw this.#bad(a, 'without the uuid of the new secret');
    if (typeof value !== 'string' || value === '') throw this.#bad(a, `without the value of the new secret ${uuid}`);
    const createdAt = parseTime(j?.created_at) ?? this.#clock();
    this.#logger.info({ uuid, debugId: a.debugId }, 'ims-token: added a client secret');
    return makeNewSecret(uuid, value, createdAt);
  }

  async deleteClientSecret(uuid: string, options?: SecretsCallOptions): Promise<void> {
    const id = checkId('uuid', uuid, 'argument');
    const a = await this.#call('DELETE', `${this.#secretsUrl}/${encodeURIComponent(id)}`, 'delete', options?.signal, id);
    this.#logger.info({ uuid: id, debugId: a.debugId }, 'ims-token: deleted a client secret');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const agent = this.#agent;
    this.#agent = undefined;
    await Promise.all([this.#provider.close(), agent?.close().catch(() => undefined)]);
  }

  toJSON(): Record<string, unknown> {
    return {
      clientId: this.clientId,
      orgId: this.orgId,
      credentialId: this.credentialId,
      imsUrl: this.imsUrl,
      managementUrl: this.managementUrl,
    };
  }

  [INSPECT](): string {
    return `SecretsClient { clientId: '${this.clientId}', orgId: '${this.orgId}', credentialId: '${this.credentialId}', managementUrl: '${this.managementUrl}' }`;
  }

  /** A management token; IMS's `invalid_scope` means the project lacks the I/O Management API. */
  async #token(force: boolean, signal: AbortSignal | undefined): Promise<ImsToken> {
    const opts = force || signal ? { ...(force ? { forceRefresh: true } : {}), ...(signal ? { signal } : {}) } : undefined;
    try {
      return await this.#provider.getToken(opts);
    } catch (err) {
      if (ImsTokenError.is(err) && err.code === 'IMS_INVALID_SCOPE') {
        throw new ImsTokenError(
          'IMS_FORBIDDEN',
          `IMS refused the I/O Management API scopes for client id ${this.clientId} (${err.imsError ?? 'invalid_scope'}): add the I/O Management API to the project in Adobe Developer Console so the credential gets the scopes read_client_secret and manage_client_secrets.`,
          { status: err.status, imsError: err.imsError, imsErrorDescription: err.imsErrorDescription, debugId: err.debugId, cause: err },
        );
      }
      throw err;
    }
  }

  /** Secret values to scrub from anything the API sends back. */
  #known(): string[] {
    const s = this.#o.clientSecret;
    return typeof s === 'string' ? [s] : Array.isArray(s) ? [...(s as readonly string[])] : [];
  }

  #bad(a: Answer, problem: string): ImsTokenError {
    return new ImsTokenError('IMS_BAD_RESPONSE', `The I/O Management API (${this.#host}) answered HTTP ${a.status} ${problem}.`, {
      status: a.status,
      debugId: a.debugId,
      hint: 'Check IMS_MANAGEMENT_URL points at the I/O Management API (https://api.adobe.io).',
    });
  }

  async #dispatcher(): Promise<Transport | undefined> {
    if (this.#o.dispatcher) return this.#o.dispatcher;
    if (!this.#agent) {
      const agent = await createDefaultDispatcher(4);
      if (this.#agent || this.#closed) void agent.close();
      else this.#agent = agent;
    }
    return this.#agent;
  }

  #send(method: Dispatcher.HttpMethod, url: string, accessToken: string, signal: AbortSignal | undefined): Promise<Answer> {
    return this.#dispatcher().then((dispatcher) =>
      exchange({
        url,
        method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          'x-api-key': this.clientId,
          accept: 'application/json',
          'user-agent': 'ims-token',
        },
        timeoutMs: this.#o.timeoutMs ?? 10_000,
        signal,
        dispatcher,
        where: `the I/O Management API (${this.#host})`,
        abortedMessage: 'The I/O Management API request was cancelled by its AbortSignal.',
        hints: {
          timeout: 'Raise timeoutMs or check the network path to the I/O Management API.',
          network: 'Check IMS_MANAGEMENT_URL, DNS and outbound HTTPS from this host (set HTTPS_PROXY if it needs a proxy).',
        },
      }),
    );
  }

  /** One secrets call with a management token: 401 → new token, once; 429/5xx/network → backoff (POST only when safe). */
  async #call(method: 'GET' | 'POST' | 'DELETE', url: string, op: Op, signal: AbortSignal | undefined, uuid?: string): Promise<Answer> {
    if (this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The secrets client was closed.');
    const maxRetries = this.#o.maxRetries ?? 3;
    const base = this.#o.retryBaseDelayMs ?? 250;
    const cap = this.#o.retryMaxDelayMs ?? 30_000;
    let reauthorized = false;
    let ambiguous = false;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new ImsTokenError('IMS_ABORTED', 'The I/O Management API request was cancelled by its AbortSignal.');
      const token = await this.#token(false, signal);
      let a: Answer | undefined;
      let error: ImsTokenError | undefined;
      try {
        a = await this.#send(method, url, token.accessToken, signal);
      } catch (err) {
        if (!ImsTokenError.is(err)) throw err;
        error = err;
      }
      if (a && a.status === 401 && !reauthorized) {
        reauthorized = true;
        attempt--;
        this.#logger.debug({ op, debugId: a.debugId }, 'ims-token: the I/O Management API refused the token (401); minting a new one');
        await this.#provider.invalidate(token.accessToken);
        continue;
      }
      if (a && a.status >= 200 && a.status < 300) {
        this.#logger.debug({ op, status: a.status, debugId: a.debugId }, 'ims-token: I/O Management API call done');
        return a;
      }
      if (a && op === 'delete' && a.status === 404 && ambiguous) {
        // An earlier try of this DELETE may have gone through before its answer was lost.
        return a;
      }
      if (a) error = this.#error(a, op, uuid);
      const e = error!;
      const safeToRepeat = op !== 'add' || e.code === 'IMS_RATE_LIMITED' || (e.code === 'IMS_NETWORK' && wasNotSent(e));
      const delay = e.retryable && attempt < maxRetries && safeToRepeat ? backoffDelay(attempt, base, cap, e.retryAfterMs) : undefined;
      if (delay === undefined) {
        if (op === 'add' && e.retryable && !safeToRepeat) {
          throw new ImsTokenError(
            e.code,
            `${e.message} A secret may or may not have been created: list the secrets before adding another.`,
            {
              status: e.status,
              debugId: e.debugId,
              retryAfterMs: e.retryAfterMs,
              cause: e,
            },
          );
        }
        throw e;
      }
      ambiguous = true;
      this.#logger.debug(
        { op, code: e.code, attempt: attempt + 1, delayMs: Math.round(delay), debugId: e.debugId },
        'ims-token: retrying the I/O Management API call',
      );
      await sleep(delay, signal, abortedRequest);
    }
  }

  #error(a: Answer, op: Op, uuid: string | undefined): ImsTokenError {
    const j = a.json;
    const raw = [j?.message, j?.error_description, j?.error, j?.error_code].find((v) => typeof v === 'string' || typeof v === 'number');
    const said = raw === undefined ? '' : scrub(String(raw), this.#known()).replace(/\s+/g, ' ').slice(0, 200);
    const details = {
      status: a.status,
      debugId: a.debugId,
      ...(typeof j?.error_code === 'string' ? { imsError: j.error_code } : {}),
      ...(said ? { imsErrorDescription: said } : {}),
    };
    const where = `The I/O Management API (${this.#host})`;
    const answered = `HTTP ${a.status}${said ? `: ${said}` : ''}`;
    let code: ImsTokenErrorCode;
    let message: string;
    if (a.status === 401) {
      code = 'IMS_UNAUTHORIZED_CLIENT';
      message = `${where} refused a freshly minted management token for client id ${this.clientId} (${answered}).`;
    } else if (a.status === 403) {
      code = 'IMS_FORBIDDEN';
      message = `${where} refused to ${op} client secrets (${answered}): add the I/O Management API to the project in Adobe Developer Console, and check that credential ${this.credentialId} belongs to client id ${this.clientId}.`;
    } else if (a.status === 404) {
      code = 'IMS_NOT_FOUND';
      message =
        op === 'delete'
          ? `${where} found no client secret ${uuid !== undefined && /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(uuid) ? uuid : 'with that uuid'} on credential ${this.credentialId} of organization ${this.orgId} (${answered}): check the uuid (list the secrets), IMS_ORG_ID and IMS_CREDENTIAL_ID.`
          : `${where} found no credential ${this.credentialId} in organization ${this.orgId} (${answered}): check IMS_ORG_ID and IMS_CREDENTIAL_ID.`;
    } else if (a.status === 429) {
      code = 'IMS_RATE_LIMITED';
      message = `${where} is throttling this client (HTTP 429).`;
    } else if (a.status >= 500) {
      code = 'IMS_SERVER_ERROR';
      message = `${where} failed (${answered}).`;
    } else if (op === 'add' && (a.status === 400 || a.status === 409) && /max|limit|exceed/i.test(said)) {
      code = 'IMS_SECRET_LIMIT';
      message = `${where} refused to add a client secret: credential ${this.credentialId} already has the two secrets Adobe allows (${answered}). Delete the unused one first.`;
    } else {
      code = 'IMS_BAD_RESPONSE';
      message = `${where} answered ${answered} to ${op === 'list' ? 'listing' : op === 'add' ? 'adding' : 'deleting'} client secrets.`;
    }
    const retryAfterMs = a.status === 429 || a.status === 503 ? parseRetryAfter(a.retryAfter, this.#clock()) : undefined;
    return new ImsTokenError(code, message, {
      ...details,
      retryAfterMs,
      ...(code === 'IMS_SERVER_ERROR' || code === 'IMS_RATE_LIMITED'
        ? { hint: 'The I/O Management API is failing or throttling; this is retried automatically. Try again later.' }
        : {}),
    });
  }
}

/**
 * A client for the I/O Management API client-secret endpoints of one OAuth Server-to-Server credential.
 * It mints its own token for {@link IO_MANAGEMENT_SCOPES} with the credential's current secret.
 * Errors: `IMS_FORBIDDEN` (add the I/O Management API to the project), `IMS_NOT_FOUND` (wrong org, credential
 * or uuid), `IMS_SECRET_LIMIT` (two secrets already), `IMS_CONFIG` (a bad option, named).
 *
 * @example
 * ```ts
 * import { createSecretsClient } from '@ims-token/core'
 * const secrets = createSecretsClient({ clientId, clientSecret, orgId: 'ABC@AdobeOrg', credentialId: '12345' })
 * for (const s of await secrets.listClientSecrets()) console.log(s.uuid, s.lastUsedAt)
 * await secrets.close()
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export function createSecretsClient(options: SecretsClientOptions): SecretsClient {
  return new Client(options);
}

function readEnv(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/**
 * Builds a {@link SecretsClient} from `IMS_CLIENT_ID`, `IMS_CLIENT_SECRET` (or the first secret line of
 * `IMS_CLIENT_SECRET_FILE`, read now), `IMS_ORG_ID`, `IMS_CREDENTIAL_ID`, `IMS_URL` and `IMS_MANAGEMENT_URL`.
 * Throws `IMS_CONFIG` naming the variable that is missing or wrong (never its value).
 *
 * @example
 * ```ts
 * const secrets = secretsClientFromEnv(process.env, { logger: pino() })
 * console.log(await secrets.listClientSecrets())
 * ```
 */
export function secretsClientFromEnv(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<SecretsClientOptions> = {},
): SecretsClient {
  const clientId = readEnv(env, ENV.clientId);
  if (!clientId) throw configError(ENV.clientId, 'is not set (the client ID of the OAuth Server-to-Server credential)');
  if (/[\s,]/.test(clientId)) throw configError(ENV.clientId, 'must not contain spaces or commas');
  const secret = readEnv(env, ENV.clientSecret);
  const file = readEnv(env, ENV.clientSecretFile);
  if (secret && file) throw configError(ENV.clientSecretFile, `is set together with ${ENV.clientSecret}; set only one of them`);
  let clientSecret: string;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw configError(ENV.clientSecretFile, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const first = parseSecretLines(text)[0];
    if (!first) throw configError(ENV.clientSecretFile, 'names a file without a client secret line');
    clientSecret = first;
  } else if (secret) {
    clientSecret = secret;
  } else {
    throw configError(ENV.clientSecret, `is not set (or set ${ENV.clientSecretFile} to a file holding it)`);
  }
  const ids: Record<'orgId' | 'credentialId', string> = { orgId: '', credentialId: '' };
  for (const [key, name, what] of [
    ['orgId', ENV.orgId, 'the IMS organization ID, …@AdobeOrg'],
    ['credentialId', ENV.credentialId, 'the credential ID from Adobe Developer Console'],
  ] as const) {
    const v = readEnv(env, name);
    if (!v) throw configError(name, `is not set (${what}; needed for the I/O Management API)`);
    try {
      ids[key] = checkId(key, v);
    } catch {
      throw configError(name, 'must not contain slashes, spaces, "?", "#" or "%"');
    }
  }
  const urls: { imsUrl?: string; managementUrl?: string } = {};
  for (const [key, name] of [
    ['imsUrl', ENV.imsUrl],
    ['managementUrl', ENV.managementUrl],
  ] as const) {
    const raw = readEnv(env, name);
    if (!raw) continue;
    urls[key] = normalizeImsUrl(raw, name);
  }
  return createSecretsClient({ clientId, clientSecret, orgId: ids.orgId, credentialId: ids.credentialId, ...urls, ...overrides });
}

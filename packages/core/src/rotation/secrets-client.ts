import type { Dispatcher } from 'undici';
import { normalizeImsUrl } from '../config';
import type { Logger } from '../config';
import { ImsTokenError, configError } from '../errors';
import { createDefaultDispatcher, exchange, wasNotSent } from '../http';
import { withRetries } from '../retry';
import type { Answer, Transport } from '../http';
import { createTokenProvider } from '../provider';
import type { TokenProvider } from '../provider';
import { sleep } from '../sleep';
import { guardLogger } from '../safe-logger';
import type { ImsToken } from '../token';
import { orgIdForCode, parseNewSecret, parseSecretList, secretsError } from './secrets-answers';
import { DEFAULT_MANAGEMENT_URL, IO_MANAGEMENT_SCOPES } from './secrets-types';
import type {
  ClientSecretInfo,
  NewClientSecret,
  SecretsCallOptions,
  SecretsClient,
  SecretsClientInternals,
  SecretsClientOptions,
} from './secrets-types';
import type { Asked, Op } from './secrets-answers';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

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
  readonly #host: string;
  #numericOrgId: Promise<string> | undefined;
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
    this.#logger = guardLogger(options.logger);
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
    if (/^\d+$/.test(this.orgId)) this.#numericOrgId = Promise.resolve(this.orgId);
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

  resolveOrgId(options?: SecretsCallOptions): Promise<string> {
    if (!this.#numericOrgId) {
      // Only an …@AdobeOrg code is looked up; any other value is taken as the org id the paths take.
      if (!/@AdobeOrg$/i.test(this.orgId)) return Promise.resolve(this.orgId);
      this.#numericOrgId = this.#lookUpOrg(options?.signal);
      this.#numericOrgId.catch(() => (this.#numericOrgId = undefined));
    }
    return this.#numericOrgId;
  }

  async #lookUpOrg(signal: AbortSignal | undefined): Promise<string> {
    const a = await this.#call('GET', `${this.managementUrl}/console/organizations`, 'organizations', signal);
    const id = orgIdForCode(a, this.#host, this.orgId);
    this.#logger.info(
      { orgCode: this.orgId, orgId: id },
      `ims-token: resolved the IMS org code ${this.orgId} to the numeric org id ${id} with GET /console/organizations: the I/O Management API takes the numeric one (set the org ID to ${id} to skip this lookup)`,
    );
    return id;
  }

  async #secretsUrl(signal: AbortSignal | undefined): Promise<string> {
    const org = await this.resolveOrgId(signal ? { signal } : undefined);
    return `${this.managementUrl}/console/organizations/${encodeURIComponent(org)}/credentials/${encodeURIComponent(this.credentialId)}/secrets`;
  }

  async listClientSecrets(options?: SecretsCallOptions): Promise<ClientSecretInfo[]> {
    const a = await this.#call('GET', await this.#secretsUrl(options?.signal), 'list', options?.signal);
    return parseSecretList(a, this.#host);
  }

  async findCurrentClientSecret(
    options?: SecretsCallOptions,
  ): Promise<{ secrets: ClientSecretInfo[]; current: ClientSecretInfo | undefined }> {
    const signal = options?.signal;
    const before = await this.listClientSecrets(options);
    if (before.length <= 1) return { secrets: before, current: before[0] };
    await sleep(5, signal, abortedRequest); // last_used_at has millisecond resolution
    await this.#token(true, signal);
    // last_used_at may lag behind the mint (undocumented): list again, waiting longer each time, up to lastUsedWaitMs.
    let waited = 0;
    const budget = this.#o.lastUsedWaitMs ?? 8_000;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      const after = await this.listClientSecrets(options);
      const moved = after.filter((s) => {
        const b = before.find((x) => x.uuid === s.uuid);
        return s.lastUsedAt !== undefined && (b?.lastUsedAt === undefined || s.lastUsedAt > b.lastUsedAt);
      });
      if (moved.length === 1) return { secrets: after, current: moved[0] };
      if (moved.length > 1 || waited >= budget) return { secrets: after, current: undefined };
      const step = Math.min(wait, budget - waited);
      waited += step;
      await sleep(step, signal, abortedRequest);
    }
  }

  async addClientSecret(options?: SecretsCallOptions): Promise<NewClientSecret> {
    const a = await this.#call('POST', await this.#secretsUrl(options?.signal), 'add', options?.signal);
    const added = parseNewSecret(a, this.#host, this.#clock());
    this.#logger.info({ uuid: added.uuid, debugId: a.debugId }, 'ims-token: added a client secret');
    return added;
  }

  async deleteClientSecret(uuid: string, options?: SecretsCallOptions): Promise<void> {
    const id = checkId('uuid', uuid, 'argument');
    const a = await this.#call(
      'DELETE',
      `${await this.#secretsUrl(options?.signal)}/${encodeURIComponent(id)}`,
      'delete',
      options?.signal,
      id,
    );
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

  /** Who was asked, for error messages (with the secret values to scrub from what the API echoes). */
  #asked(accessToken?: string): Asked {
    const s = this.#o.clientSecret;
    const known = typeof s === 'string' ? [s] : Array.isArray(s) ? [...(s as readonly string[])] : [];
    if (accessToken !== undefined) known.push(accessToken);
    return { host: this.#host, clientId: this.clientId, orgId: this.orgId, credentialId: this.credentialId, known, now: this.#clock() };
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

  /** One call with a management token: 401 -> new token, once; 429/5xx/network -> {@link withRetries} (a POST only when safe). */
  async #call(method: 'GET' | 'POST' | 'DELETE', url: string, op: Op, signal: AbortSignal | undefined, uuid?: string): Promise<Answer> {
    if (this.#closed) throw new ImsTokenError('IMS_CLOSED', 'The secrets client was closed.');
    let reauthorized = false;
    let ambiguous = false;
    const safeToRepeat = (e: ImsTokenError): boolean =>
      op !== 'add' || e.code === 'IMS_RATE_LIMITED' || (e.code === 'IMS_NETWORK' && wasNotSent(e));
    const once = async (): Promise<Answer> => {
      for (;;) {
        if (signal?.aborted) throw new ImsTokenError('IMS_ABORTED', 'The I/O Management API request was cancelled by its AbortSignal.');
        const token = await this.#token(false, signal);
        const a = await this.#send(method, url, token.accessToken, signal);
        if (a.status === 401 && !reauthorized) {
          reauthorized = true; // (not counted as a try)
          this.#logger.debug({ op, debugId: a.debugId }, 'ims-token: the I/O Management API refused the token (401); minting a new one');
          await this.#provider.invalidate(token.accessToken);
          continue;
        }
        if (a.status >= 200 && a.status < 300) {
          this.#logger.debug({ op, status: a.status, debugId: a.debugId }, 'ims-token: I/O Management API call done');
          return a;
        }
        // An earlier try of this DELETE may have gone through before its answer was lost.
        if (op === 'delete' && a.status === 404 && ambiguous) return a;
        // (the API may echo the bearer token it refused: scrub it with the secrets)
        throw secretsError(a, op, this.#asked(token.accessToken), uuid);
      }
    };
    try {
      return await withRetries(once, {
        maxRetries: this.#o.maxRetries ?? 3,
        baseDelayMs: this.#o.retryBaseDelayMs ?? 250,
        maxDelayMs: this.#o.retryMaxDelayMs ?? 30_000,
        signal,
        stopped: abortedRequest,
        canRetry: safeToRepeat,
        onRetry: (e, attempt, delay) => {
          ambiguous = true;
          this.#logger.debug(
            { op, code: e.code, attempt, delayMs: Math.round(delay), debugId: e.debugId },
            'ims-token: retrying the I/O Management API call',
          );
        },
      });
    } catch (err) {
      if (op === 'add' && ImsTokenError.is(err) && err.retryable && !safeToRepeat(err)) {
        throw new ImsTokenError(
          err.code,
          `${err.message} A secret may or may not have been created: list the secrets before adding another.`,
          {
            status: err.status,
            debugId: err.debugId,
            retryAfterMs: err.retryAfterMs,
            cause: err,
          },
        );
      }
      throw err;
    }
  }
}

/**
 * A client for the I/O Management API client-secret endpoints of one OAuth Server-to-Server credential.
 * It mints its own token for {@link IO_MANAGEMENT_SCOPES} with the credential's current secret.
 * `orgId` is the numeric org id (an `…@AdobeOrg` code is looked up once). Errors: `IMS_FORBIDDEN` (add the I/O
 * Management API to the project), `IMS_NOT_FOUND` (wrong org, credential or uuid), `IMS_SECRET_LIMIT` (two secrets
 * already), `IMS_CONFIG` (a bad option, named in `field`; an org code this credential cannot see).
 *
 * @example
 * ```ts
 * import { createSecretsClient } from '@ims-token/core'
 * const secrets = createSecretsClient({ clientId, clientSecret, orgId: '23294', credentialId: '12345' })
 * for (const s of await secrets.listClientSecrets()) console.log(s.uuid, s.lastUsedAt)
 * await secrets.close()
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export function createSecretsClient(options: SecretsClientOptions): SecretsClient {
  return new Client(options);
}

import { randomBytes, randomInt } from 'node:crypto';
import { positiveNumber, randomHex } from './http';
import { resolveOrg } from './organizations';
import type { OrgRecord } from './organizations';
import type { QueuedFault } from './faults';
import type { Job } from './sample-api';
import { MAX_SECRETS, newSecret } from './secrets';
import type { SecretRecord } from './secrets';
import type { MintedToken } from './token';
import type { EmulatorClient, EmulatorClientInput, EmulatorOptions, EmulatorStats } from './types';

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

/** A registered client: the live public record, its secrets, and its org. */
export interface ClientRecord {
  pub: EmulatorClient;
  secrets: SecretRecord[];
  techAccountId: string;
  org: OrgRecord;
}

/** The knobs that can change while the emulator runs (options, `setTokenLifetime`, the control API). */
export interface Settings {
  tokenLifetimeSeconds: number;
  secretActivationDelayMs: number;
  lastUsedLagMs: number;
  readonly jobDurationMs: number;
}

export function emptyStats(): EmulatorStats {
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

/** Everything one emulator knows; every area (token, secrets, organizations, sample API, control, faults) reads and writes it. */
export class EmulatorState {
  readonly clients = new Map<string, ClientRecord>();
  readonly orgs = new Map<string, OrgRecord>();
  readonly minted = new Map<string, MintedToken>();
  readonly jobs = new Map<string, Job>();
  faults: QueuedFault[] = [];
  stats: EmulatorStats = emptyStats();
  /** Timers of latency faults, cleared by `stop()`. */
  readonly timers = new Set<NodeJS.Timeout>();
  /** Signs this emulator's tokens, so only it accepts them. */
  readonly signingKey = randomBytes(32);
  readonly settings: Settings;
  baseUrl = '';
  private readonly logger: ((line: string) => void) | undefined;
  private readonly clock: () => number;
  /** What `advance()` has added to the clock. */
  private advancedMs = 0;

  constructor(options: EmulatorOptions) {
    this.logger = options.logger;
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw new TypeError('clock must be a function returning epoch ms');
    this.clock = options.clock ?? Date.now;
    this.settings = {
      tokenLifetimeSeconds: positiveNumber('tokenLifetimeSeconds', options.tokenLifetimeSeconds ?? 86399, false),
      // ASSUMED: a new secret does not work at once; Adobe does not say how soon it does.
      secretActivationDelayMs: positiveNumber('secretActivationDelayMs', options.secretActivationDelayMs ?? 1000, true),
      // ASSUMED: how soon Adobe's `last_used_at` moves after a mint is not documented; 0 = at once.
      lastUsedLagMs: positiveNumber('lastUsedLagMs', options.lastUsedLagMs ?? 0, true),
      jobDurationMs: positiveNumber('jobDurationMs', options.jobDurationMs ?? 1500, true),
    };
  }

  /**
   * The emulator's time, epoch ms: the `clock` option (default `Date.now`) plus everything `advance()` added. Token
   * lifetimes, JWT `created_at`, secret times and activation, `last_used_at` and its lag, job progress, the `Date`
   * header and `Retry-After` dates all read it; latency faults and socket timeouts stay in real time.
   */
  now(): number {
    return this.clock() + this.advancedMs;
  }

  /** Moves the emulator's time forward by `ms`; returns the new `now()`. */
  advance(ms: number): number {
    this.advancedMs += positiveNumber('advance(ms)', ms, true);
    return this.now();
  }

  log(line: string): void {
    if (!this.logger) return;
    try {
      this.logger(line);
    } catch {
      // a failing logger must not break the emulator
    }
  }

  registerClient(input: EmulatorClientInput = {}): ClientRecord {
    const clientId = input.clientId ?? randomHex(16);
    if (this.clients.has(clientId)) throw new Error(`client ${clientId} is already registered`);
    const values =
      input.clientSecrets && input.clientSecrets.length > 0
        ? input.clientSecrets
        : [input.clientSecret ?? `p8e-${randomBytes(24).toString('base64url')}`];
    if (values.length > MAX_SECRETS) throw new RangeError(`a client has at most ${MAX_SECRETS} secrets`);
    const org = resolveOrg(this.orgs, input);
    const now = this.now();
    const record: ClientRecord = {
      pub: undefined as unknown as EmulatorClient,
      secrets: values.map((v) => newSecret(v, now, now)),
      techAccountId: randomHex(12).toUpperCase(),
      org,
    };
    const clock = (): number => this.now();
    const pub: EmulatorClient = {
      clientId,
      get clientSecrets(): string[] {
        return record.secrets.map((s) => s.value);
      },
      set clientSecrets(v: string[]) {
        const t = clock();
        record.secrets = v.slice(0, MAX_SECRETS).map((value) => newSecret(value, t, t));
      },
      allowedScopes: input.allowedScopes ? [...input.allowedScopes] : undefined,
      orgId: org.id,
      orgCode: org.code,
      orgName: org.name,
      credentialId: input.credentialId ?? String(randomInt(100_000, 10_000_000)),
      disabled: input.disabled ?? false,
    };
    record.pub = pub;
    this.clients.set(clientId, record);
    return record;
  }

  /** A detached copy of a client, with its first secret as `clientSecret` (what `addClient()` returns). */
  clientView(record: ClientRecord): EmulatorClient & { clientSecret: string } {
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

  statsSnapshot(): EmulatorStats {
    return { ...this.stats, mintedByClient: { ...this.stats.mintedByClient }, routes: { ...this.stats.routes } };
  }
}

/**
 * A client (OAuth Server-to-Server credential) registered in the emulator.
 *
 * The object returned by {@link Emulator.client} is live: changing `disabled` or `allowedScopes`
 * takes effect on the next token request.
 */
export interface EmulatorClient {
  /** The client ID (also the API key sent as `x-api-key`). */
  clientId: string;
  /** The active client secrets (one or two). */
  clientSecrets: string[];
  /** Scopes this client may request; `undefined` means any scope is allowed. */
  allowedScopes?: string[];
  /**
   * The numeric AMS org id of the credential's org: what the I/O Management API paths take
   * (`/console/organizations/{orgId}/…`) and the number in the Developer Console URL
   * `…/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/…`. Not the `…@AdobeOrg` code.
   */
  orgId: string;
  /** The IMS org code of that org, `<24 hex>@AdobeOrg` (the token's `org` claim; `code` in `GET /console/organizations`). */
  orgCode: string;
  /** The org's name, as `GET /console/organizations` answers it. */
  orgName: string;
  /** The Developer Console credential ID (for the I/O Management API secrets endpoints). */
  credentialId: string;
  /** A disabled client gets `400 unauthorized_client` from the token endpoint. */
  disabled?: boolean;
}

/**
 * A client description accepted by {@link EmulatorOptions.clients} and {@link Emulator.addClient}. Missing values are
 * random. `orgId` must be a numeric string and `orgCode` end in `@AdobeOrg`; clients given the same `orgId` (or
 * `orgCode`) share one org.
 */
export type EmulatorClientInput = Partial<EmulatorClient> & { clientId?: string; clientSecret?: string };

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on. Default `0` (an ephemeral port; read it from {@link Emulator.port}). */
  port?: number;
  /** Clients to register. When absent, one default client is registered (see `DEFAULT_CLIENT_ID`). */
  clients?: EmulatorClientInput[];
  /** Lifetime of minted tokens in seconds. Default `86399`. */
  tokenLifetimeSeconds?: number;
  /** A secret added through the secrets endpoint is rejected as `invalid_client` for this long. Default `1000`. */
  secretActivationDelayMs?: number;
  /** How long a sample-API job takes from submission to `succeeded`. Default `1500`. */
  jobDurationMs?: number;
  /**
   * How long after a mint the secrets list shows it as `last_used_at`. Default `0` (at once). Adobe does not document
   * this lag; set it to test code that must cope when `last_used_at` lags.
   */
  lastUsedLagMs?: number;
  /** Receives one line per request (method, path, status). Never receives secrets or tokens. */
  logger?: (line: string) => void;
  /**
   * The emulator's clock, epoch ms. Default `Date.now`. It drives token lifetimes, JWT `created_at`, secret times and
   * activation, `last_used_at` and its lag, job progress, the `Date` header and `Retry-After` dates; {@link
   * Emulator.advance} moves it forward. Share one clock with the code under test to test time without sleeping.
   */
  clock?: () => number;
}

/** The kinds of fault {@link Emulator.fault} can inject. */
export type FaultKind =
  | 'status'
  | 'latency'
  | 'reset'
  | 'reset-mid-body'
  | 'hang'
  | 'malformed'
  | 'html'
  | 'response'
  /** The gateway's `401 {"error_code":"401013","message":"Oauth token is not valid"}`, whatever the token. */
  | 'token-invalid'
  /** The gateway's `403 {"error_code":"403003","message":"Api Key is invalid"}`. */
  | 'api-key-invalid'
  /** Firefly's `403 {"error_code":"access_error",…}`. */
  | 'access-error'
  /** Firefly's `429 {"error_code":"backpressure_limited",…}` (add `retryAfter` for a `Retry-After` header). */
  | 'backpressure-limited';

/** Which requests a fault applies to: `token` = `/ims/token/*`, `api` = `/api/*`, `secrets` = `/console/*`, `any` = all but `/__emulator/*`. */
export type FaultTarget = 'token' | 'api' | 'secrets' | 'any';

/** A fault to inject into the next matching request(s). */
export interface FaultRule {
  /** Which requests it applies to. Default `'token'`, and `'api'` for the gateway kinds (`token-invalid`, `api-key-invalid`, `access-error`, `backpressure-limited`). */
  target?: FaultTarget;
  /** How many matching requests it applies to. Default `1`; `Infinity` allowed. With `probability`, counts the requests it was applied to. */
  times?: number;
  /**
   * The chance, in `(0, 1]`, that the rule applies to a matching request. Default `1` (every one). A request the
   * rule skips goes on to the next rule, then to the emulator's normal handling. `0.3` with `times: Infinity`
   * makes about 30 % of matching requests fail.
   */
  probability?: number;
  /**
   * Seeds the rule's own pseudo-random generator for `probability` (an integer), so one sequence of matching
   * requests always gets the same faults. Without it, `Math.random()` decides.
   */
  seed?: number;
  /** What happens to a matching request. */
  kind: FaultKind;
  /** Status for `status` (default 500), `response` (default 200) and `html` (default 502). */
  status?: number;
  /** Adds a `Retry-After` header (seconds, or an HTTP date), sent as given. */
  retryAfter?: string | number;
  /** Adds a `Retry-After` HTTP date this many seconds after the emulator's `now()` (so it follows an injected clock). */
  retryAfterDate?: number;
  /** For `latency`: wait this long, then handle the request normally. */
  latencyMs?: number;
  /** For `response`: the exact body (objects are JSON-encoded, strings sent raw). */
  body?: unknown;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** Counters of what the emulator served. */
export interface EmulatorStats {
  /** All requests except the control API (`/__emulator/*`). */
  requests: number;
  /** Requests to `/ims/token/*` (including faulted ones). */
  tokenRequests: number;
  /** Tokens successfully minted. */
  tokensMinted: number;
  /** Token requests answered with an IMS error by the emulator's own logic (not by an injected fault). */
  tokenErrors: number;
  /** Tokens minted per client ID. */
  mintedByClient: Record<string, number>;
  /** Requests to `/api/*` (including faulted ones). */
  apiRequests: number;
  /** Sample-API requests answered `401`: missing, invalid, expired or revoked token, the always-401 route, or a 401 fault. */
  apiUnauthorized: number;
  /** Requests to `/console/*` (the I/O Management API: organizations and secrets endpoints). */
  secretsRequests: number;
  /** Requests an injected fault was applied to. */
  faultsApplied: number;
  /**
   * Requests per route (all but the control API, faulted ones included), keyed by method and path with ids collapsed:
   * `'POST /ims/token/v3'`, `'GET /api/v1/jobs/:id'`, `'GET /api/v1/always-401'`,
   * `'GET /console/organizations/:orgId/credentials/:credentialId/secrets'`; anything else counts as `'<METHOD> (unknown route)'`.
   */
  routes: Record<string, number>;
}

/** A running emulator. */
export interface Emulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the IMS URL, the I/O Management API URL and the sample API URL. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** A fresh snapshot of the counters. */
  readonly stats: EmulatorStats;
  /** Registers a client; a random ID, secret, org (numeric id, code, name) and credential are generated when not given. */
  addClient(c?: EmulatorClientInput): EmulatorClient & { clientSecret: string };
  /** The live client record, or `undefined`. */
  client(clientId: string): EmulatorClient | undefined;
  /** Queues a fault; rules are matched in order. */
  fault(rule: FaultRule): void;
  /** Drops all queued faults. */
  clearFaults(): void;
  /** Sets the lifetime (seconds) of tokens minted from now on. */
  setTokenLifetime(seconds: number): void;
  /** Revokes every token minted so far (for one client, or all): the sample API then answers 401. */
  revokeTokens(clientId?: string): void;
  /** Sets all counters back to zero. */
  resetStats(): void;
  /** The emulator's time, epoch ms (the `clock` option plus what {@link Emulator.advance} added). */
  now(): number;
  /**
   * Moves the emulator's time forward by `ms` (never back) and returns the new {@link Emulator.now}: tokens expire,
   * new secrets activate, `last_used_at` catches up and jobs progress without a test sleeping.
   */
  advance(ms: number): number;
  /** Closes the server and every open connection (including hung ones). */
  stop(): Promise<void>;
}

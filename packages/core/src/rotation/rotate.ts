import { normalizeScopes } from '../config';
import type { Logger } from '../config';
import { ImsTokenError, configError } from '../errors';
import type { ImsTokenErrorCode, ImsTokenErrorDetails } from '../errors';
import { createTokenProvider } from '../provider';
import { scrub } from '../redact';
import { sleep } from '../sleep';
import { createSecretsClient, internalsOf, IO_MANAGEMENT_SCOPES } from './secrets-client';
import type { ClientSecretInfo, NewClientSecret, SecretsClient, SecretsClientInternals, SecretsClientOptions } from './secrets-client';

/** The steps of a rotation, in order (`rollback` only after a failure). */
export type RotationStepName = 'token' | 'list' | 'check-limit' | 'add' | 'verify' | 'persist' | 'delete-old' | 'rollback';

/** `planned`: what a dry run would do. */
export type RotationStepStatus = 'done' | 'skipped' | 'failed' | 'planned';

/** One step of a rotation. `detail` is a sentence for a person; it names secrets by uuid only, never by value. */
export interface RotationStep {
  readonly name: RotationStepName;
  readonly status: RotationStepStatus;
  readonly detail: string;
}

/** What a rotation did. Safe to log: uuids only. */
export interface RotationReport {
  /** No step failed. */
  readonly ok: boolean;
  readonly dryRun: boolean;
  /**
   * `rotate`: a new secret was (or, in a dry run, would be) added, verified and persisted.
   * `finish`: an earlier rotation had already added and persisted the secret this process uses; this run only
   * deleted (or kept) the older secret.
   */
  readonly mode: 'rotate' | 'finish';
  readonly steps: readonly RotationStep[];
  /** The secret added by this run (`rotate`), or the one an earlier run added (`finish`). */
  readonly newSecretUuid?: string;
  /** The secret that was current before the rotation. */
  readonly oldSecretUuid?: string;
  readonly deletedOld: boolean;
}

/** What `persist` is told besides the new secret. */
export interface PersistContext {
  /** The uuid of the new secret. */
  readonly uuid: string;
  readonly createdAt: number;
  /** The uuid of the secret it replaces. */
  readonly oldSecretUuid: string | undefined;
  /** The rotation's `signal`. */
  readonly signal: AbortSignal | undefined;
}

/** What {@link rotateClientSecret} does, besides where it connects. */
export interface RotationOptions {
  /**
   * Stores the new secret where the services read it (a secret manager, a secret file …). Called once, after the new
   * secret was verified. If it throws, the new secret is deleted again. Keep the old secret usable while services
   * switch: e.g. write `new\nold` to an `IMS_CLIENT_SECRET_FILE` (atomically), which the token provider re-reads.
   */
  persist: (newSecret: string, ctx: PersistContext) => Promise<void>;
  /** Scopes of the services' own token, used to verify that the new secret works. Default {@link IO_MANAGEMENT_SCOPES}. */
  scopes?: string | readonly string[];
  /** Delete the old secret after `persist`, if it has been idle for `minIdleMs` (or `force`). Default false. */
  deleteOld?: boolean;
  /** How long the old secret must have been unused (its `last_used_at`) before it is deleted. Default 15 min. */
  minIdleMs?: number;
  /** With `deleteOld`: delete the old secret even if it was used recently. Default false. */
  force?: boolean;
  /** Mint a token, list and check, then report the rest as `planned` without changing anything. */
  dryRun?: boolean;
  /** Tries to mint a token with the new secret (it can take a moment to work). Default 6. */
  verifyAttempts?: number;
  /** Wait before the second try; doubles per try, capped at 6×. Default 500 (≈ 10 s over 6 tries). */
  verifyDelayMs?: number;
  /** Called with each step as it completes. */
  onStep?: (step: RotationStep) => void;
  /** Cancels the rotation; a secret added by it is deleted again unless `persist` already succeeded. */
  signal?: AbortSignal;
}

/** Options of {@link rotateClientSecret}: a {@link SecretsClient}, or the options to make one. */
export type RotateClientSecretOptions = RotationOptions & ({ client: SecretsClient } | (SecretsClientOptions & { client?: undefined }));

/**
 * The error {@link rotateClientSecret} throws: an {@link ImsTokenError} with the rotation's `report`.
 * `code` is `IMS_ROTATION_FAILED` once a secret had been added (the report says whether it was deleted again), or
 * the cause's code (`IMS_SECRET_LIMIT`, `IMS_FORBIDDEN`, `IMS_INVALID_CLIENT`, …) when nothing was changed.
 *
 * @example
 * ```ts
 * try { await rotateClientSecret(opts) } catch (err) {
 *   if (err instanceof RotationError) console.error(err.code, err.report.steps)
 * }
 * ```
 */
export class RotationError extends ImsTokenError {
  readonly report: RotationReport;

  constructor(code: ImsTokenErrorCode, message: string, report: RotationReport, details: ImsTokenErrorDetails = {}) {
    super(code, message, details);
    this.report = report;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), report: this.report };
  }
}

const DEFAULT_MIN_IDLE_MS = 15 * 60_000;
const abortedRotation = (): ImsTokenError => new ImsTokenError('IMS_ABORTED', 'The rotation was cancelled by its AbortSignal.');

interface Resolved {
  persist: RotationOptions['persist'] | undefined;
  scopes: string[];
  deleteOld: boolean;
  minIdleMs: number;
  force: boolean;
  dryRun: boolean;
  verifyAttempts: number;
  verifyDelayMs: number;
  onStep: ((step: RotationStep) => void) | undefined;
  signal: AbortSignal | undefined;
}

function int(o: Record<string, unknown>, field: string, def: number, min: number, max: number): number {
  const v = o[field];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw configError(field, `must be a whole number from ${min} to ${max}`);
  return v;
}

function bool(o: Record<string, unknown>, field: string): boolean {
  const v = o[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw configError(field, 'must be true or false');
  return v;
}

function resolve(options: RotateClientSecretOptions): Resolved {
  if (typeof options !== 'object' || options === null) {
    throw new ImsTokenError(
      'IMS_CONFIG',
      'rotateClientSecret needs an options object: { client | clientId, clientSecret, orgId, credentialId, persist }.',
    );
  }
  const o = options as unknown as Record<string, unknown>;
  const dryRun = bool(o, 'dryRun');
  if (o.persist !== undefined && typeof o.persist !== 'function')
    throw configError('persist', 'must be an async function (newSecret, ctx) => void');
  if (o.persist === undefined && !dryRun)
    throw configError('persist', 'is required: a function that stores the new secret where the services read it');
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw configError('onStep', 'must be a function');
  if (
    o.signal !== undefined &&
    (typeof o.signal !== 'object' || o.signal === null || typeof (o.signal as AbortSignal).aborted !== 'boolean')
  ) {
    throw configError('signal', 'must be an AbortSignal');
  }
  let scopes: string[];
  try {
    scopes = normalizeScopes((options.scopes as string | readonly string[] | undefined) ?? IO_MANAGEMENT_SCOPES);
  } catch {
    throw configError('scopes', 'must be an array of scopes or a comma-separated string');
  }
  return {
    persist: options.persist,
    scopes,
    deleteOld: bool(o, 'deleteOld'),
    minIdleMs: int(o, 'minIdleMs', DEFAULT_MIN_IDLE_MS, 0, 366 * 86_400_000),
    force: bool(o, 'force'),
    dryRun,
    verifyAttempts: int(o, 'verifyAttempts', 6, 1, 100),
    verifyDelayMs: int(o, 'verifyDelayMs', 500, 0, 600_000),
    onStep: options.onStep,
    signal: options.signal,
  };
}

const iso = (ms: number): string => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
};

/** "3 s", "20 min", "2.5 h", "4 d". */
function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 48 * 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

function usage(s: ClientSecretInfo, now: number): string {
  return s.lastUsedAt === undefined ? 'never used' : `last used ${iso(s.lastUsedAt)}, ${humanDuration(now - s.lastUsedAt)} ago`;
}

function describe(s: ClientSecretInfo, now: number): string {
  return `${s.uuid} (created ${iso(s.createdAt)}, ${usage(s, now)})`;
}

function asIms(err: unknown, fallback: string): ImsTokenError {
  return ImsTokenError.is(err) ? err : new ImsTokenError('IMS_NETWORK', fallback, { cause: err });
}

function detailsOf(e: ImsTokenError): ImsTokenErrorDetails {
  return {
    status: e.status,
    imsError: e.imsError,
    imsErrorDescription: e.imsErrorDescription,
    debugId: e.debugId,
    retryAfterMs: e.retryAfterMs,
    cause: e,
  };
}

/** A copy of an error thrown by the caller's `persist` with the new secret scrubbed out of it. */
function sanitize(err: unknown, secrets: readonly string[]): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const copy = new Error(scrub(e.message, secrets));
  copy.name = scrub(e.name, secrets);
  if (e.stack) copy.stack = scrub(e.stack, secrets);
  return copy;
}

/** Records steps, reports them (onStep, logger) and builds the report. */
class Run {
  readonly #steps: RotationStep[] = [];
  readonly #dryRun: boolean;
  readonly #onStep: ((step: RotationStep) => void) | undefined;
  readonly #logger: Required<Logger>;
  mode: 'rotate' | 'finish' = 'rotate';
  newSecretUuid: string | undefined;
  oldSecretUuid: string | undefined;
  deletedOld = false;

  constructor(dryRun: boolean, onStep: ((step: RotationStep) => void) | undefined, logger: Required<Logger>) {
    this.#dryRun = dryRun;
    this.#onStep = onStep;
    this.#logger = logger;
  }

  step(name: RotationStepName, status: RotationStepStatus, detail: string): void {
    const step: RotationStep = Object.freeze({ name, status, detail });
    this.#steps.push(step);
    const log = status === 'failed' ? this.#logger.warn : this.#logger.info;
    log({ step: name, status }, `ims-token rotation: ${name} ${status}: ${detail}`);
    if (this.#onStep) {
      try {
        this.#onStep(step);
      } catch (err) {
        this.#logger.warn({ step: name, error: String((err as Error)?.name ?? 'error') }, 'ims-token rotation: the onStep callback threw');
      }
    }
  }

  report(): RotationReport {
    return Object.freeze({
      ok: !this.#steps.some((s) => s.status === 'failed'),
      dryRun: this.#dryRun,
      mode: this.mode,
      steps: Object.freeze([...this.#steps]),
      ...(this.newSecretUuid !== undefined ? { newSecretUuid: this.newSecretUuid } : {}),
      ...(this.oldSecretUuid !== undefined ? { oldSecretUuid: this.oldSecretUuid } : {}),
      deletedOld: this.deletedOld,
    });
  }
}

/**
 * Rotates the client secret of an OAuth Server-to-Server credential without downtime, through the I/O Management API:
 *
 * 1. `token` — mint an I/O Management API token with the current secret;
 * 2. `list` — list the secrets (with two, mint once more and list again: the secret whose `last_used_at` moved is the
 *    one this process authenticates with);
 * 3. `check-limit` — with two secrets already, stop with `IMS_SECRET_LIMIT` naming the one to delete — unless the
 *    current secret is the newer of the two and `deleteOld` is set: then an earlier rotation is *finished*
 *    (mode `finish`: only `delete-old` runs);
 * 4. `add` a secret; 5. `verify` it by minting a token for `scopes` with it (retried while it activates);
 * 6. `persist(newSecret)`; 7. `delete-old`, only with `deleteOld`, and only when the old secret's `last_used_at`
 *    shows it idle for `minIdleMs` (or `force`).
 *
 * If `verify` or `persist` fails, the new secret is deleted again (`rollback`) and a {@link RotationError} with code
 * `IMS_ROTATION_FAILED` is thrown. The only secret, and the secret that minted the management token, are never deleted
 * before the new one is verified and persisted. After `persist` succeeded nothing throws: a failed `delete-old` is
 * reported with `ok: false`. Secret values appear only in the `persist` call.
 *
 * @example
 * ```ts
 * import { rotateClientSecret, secretsClientFromEnv } from '@ims-token/core'
 * const report = await rotateClientSecret({
 *   client: secretsClientFromEnv(),
 *   scopes: 'openid,AdobeID,firefly_api',
 *   persist: async (secret) => { await secretManager.put('ims-client-secret', secret) },
 *   deleteOld: true,
 * })
 * for (const s of report.steps) console.log(s.name, s.status, s.detail)
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export async function rotateClientSecret(options: RotateClientSecretOptions): Promise<RotationReport> {
  const o = resolve(options);
  let client: SecretsClient;
  let owned = false;
  if (options.client !== undefined) {
    const conn = options as unknown as Record<string, unknown>;
    const clash = ['clientId', 'clientSecret', 'orgId', 'credentialId', 'imsUrl', 'managementUrl'].find((k) => conn[k] !== undefined);
    if (clash)
      throw configError(clash, 'give either "client" or the connection options (clientId, clientSecret, orgId, credentialId …), not both');
    client = options.client;
  } else {
    client = createSecretsClient(options as SecretsClientOptions);
    owned = true;
  }
  try {
    const internals = internalsOf(client);
    return await rotate(client, internals, o);
  } finally {
    if (owned) await client.close();
  }
}

async function rotate(client: SecretsClient, int: SecretsClientInternals, o: Resolved): Promise<RotationReport> {
  const run = new Run(o.dryRun, o.onStep, int.logger);
  const signal = o.signal;
  const now = int.clock;

  /** Stops the run before anything was changed: the cause's own code. */
  const stop = (err: unknown, step: RotationStepName, what: string): RotationError => {
    const e = asIms(err, `${what}.`);
    run.step(step, 'failed', `${what} (${e.code}): ${e.message}`);
    return new RotationError(e.code, e.message, run.report(), detailsOf(e));
  };
  const aborted = (step: RotationStepName): RotationError => {
    const e = new ImsTokenError('IMS_ABORTED', `The rotation was cancelled before the ${step} step; nothing was changed.`);
    run.step(step, 'skipped', 'Cancelled by the AbortSignal before this step; nothing was changed.');
    return new RotationError('IMS_ABORTED', e.message, run.report(), { cause: e });
  };

  // 1. token
  if (signal?.aborted) throw aborted('token');
  try {
    await int.mint(signal);
  } catch (err) {
    throw stop(err, 'token', 'Could not mint an I/O Management API token with the current secret');
  }
  run.step('token', 'done', `Minted an I/O Management API token with the current secret of client id ${int.clientId}.`);

  // 2. list (+ which secret is ours)
  if (signal?.aborted) throw aborted('list');
  let list: ClientSecretInfo[];
  let current: ClientSecretInfo | undefined;
  try {
    ({ secrets: list, current } = await client.findCurrentClientSecret(signal ? { signal } : undefined));
  } catch (err) {
    throw stop(err, 'list', 'Could not list the client secrets');
  }
  const t = now();
  run.step(
    'list',
    'done',
    `${list.length} secret${list.length === 1 ? '' : 's'}: ${list.map((s) => describe(s, t)).join('; ')}.${
      current
        ? ` This process authenticates with ${current.uuid}.`
        : list.length >= 2
          ? ' Could not tell which one this process authenticates with.'
          : ''
    }`,
  );

  // 3. check-limit
  if (list.length === 0) {
    throw stop(
      new ImsTokenError(
        'IMS_BAD_RESPONSE',
        `The I/O Management API lists no secrets for credential ${client.credentialId}, although the current secret just minted a token.`,
      ),
      'check-limit',
      'Nothing to rotate',
    );
  }
  if (list.length >= 2) {
    const newest = list[list.length - 1]!;
    const older = list.length === 2 ? list[0]! : undefined;
    const finishing = current !== undefined && older !== undefined && current.uuid === newest.uuid && newest.createdAt > older.createdAt;
    if (!finishing || !o.deleteOld) {
      const message = limitMessage(client, list, current, finishing, o.minIdleMs, t);
      run.step('check-limit', 'failed', message);
      throw new RotationError(
        'IMS_SECRET_LIMIT',
        message,
        run.report(),
        finishing ? { hint: 'Rerun with deleteOld (ims-token secrets rotate --delete-old) to finish the earlier rotation.' } : {},
      );
    }
    run.mode = 'finish';
    run.newSecretUuid = newest.uuid;
    run.oldSecretUuid = older!.uuid;
    run.step(
      'check-limit',
      'done',
      `2 secrets, and this process already authenticates with the newer one, ${newest.uuid}: an earlier rotation added and persisted it. Finishing that rotation: the older secret ${older!.uuid} is deleted once idle.`,
    );
    const earlier = `Already done by an earlier rotation: this process authenticates with ${newest.uuid}.`;
    run.step('add', 'skipped', earlier);
    run.step('verify', 'skipped', `${earlier} It just minted a token.`);
    run.step('persist', 'skipped', earlier);
    await deleteOld(client, run, o, older!.uuid, newest.uuid, list, now);
    return run.report();
  }
  const old = list[0]!;
  run.oldSecretUuid = old.uuid;
  run.step('check-limit', 'done', `1 of the 2 secrets Adobe allows exists (${old.uuid}): room to add one.`);

  if (o.dryRun) {
    run.step('add', 'planned', `Would add a second client secret to credential ${client.credentialId}.`);
    run.step(
      'verify',
      'planned',
      `Would mint a token for ${o.scopes.join(',')} with the new secret (up to ${o.verifyAttempts} tries while it activates); on failure, would delete it again.`,
    );
    run.step('persist', 'planned', 'Would call persist(newSecret); on failure, would delete the new secret again.');
    if (o.deleteOld) {
      run.step(
        'delete-old',
        'planned',
        `Would delete the old secret ${old.uuid} after persist${o.force ? ' (force)' : `, if by then it has been idle for ${humanDuration(o.minIdleMs)}; this run's own token counts as a use`}.`,
      );
    } else {
      run.step('delete-old', 'skipped', `deleteOld is not set: the old secret ${old.uuid} would stay.`);
    }
    return run.report();
  }

  // 4. add
  if (signal?.aborted) throw aborted('add');
  let added: NewClientSecret;
  try {
    added = await client.addClientSecret(signal ? { signal } : undefined);
  } catch (err) {
    const e = asIms(err, 'Could not add a client secret.');
    run.step('add', 'failed', `Could not add a client secret (${e.code}): ${e.message}`);
    // The answer may have been lost after the secret was created: find and remove such an orphan.
    let orphan: ClientSecretInfo | undefined;
    try {
      orphan = (await client.listClientSecrets()).find((s) => !list.some((b) => b.uuid === s.uuid));
    } catch {
      orphan = undefined;
    }
    if (orphan) {
      run.newSecretUuid = orphan.uuid;
      const undone = await rollback(client, run, orphan.uuid, 'a secret the failed add created (its value never arrived)');
      throw new RotationError('IMS_ROTATION_FAILED', failedMessage('add', e.message, orphan.uuid, undone), run.report(), detailsOf(e));
    }
    throw new RotationError(e.code, e.message, run.report(), detailsOf(e));
  }
  run.newSecretUuid = added.uuid;
  run.step('add', 'done', `Added secret ${added.uuid} (created ${iso(added.createdAt)}).`);

  // 5. verify
  const verified = await verify(added.clientSecret, int, o);
  if (!verified.ok) {
    const e = verified.error;
    run.step(
      'verify',
      'failed',
      `The new secret ${added.uuid} did not mint a token for ${o.scopes.join(',')} in ${verified.tries} tr${verified.tries === 1 ? 'y' : 'ies'} (${e.code}): ${e.message}`,
    );
    const undone = await rollback(client, run, added.uuid, 'the new secret');
    if (e.code === 'IMS_ABORTED' || o.signal?.aborted) {
      // Cancelled, not failed: the secret may well have been fine.
      throw new RotationError('IMS_ABORTED', failedMessage('verify', undefined, added.uuid, undone), run.report(), {
        ...detailsOf(e),
        hint: undone
          ? 'Nothing changed at Adobe: run the rotation again when ready.'
          : 'Delete the new secret named in the message before rotating again.',
      });
    }
    throw new RotationError(
      'IMS_ROTATION_FAILED',
      failedMessage('verify', `the new secret did not work (${e.code})`, added.uuid, undone),
      run.report(),
      detailsOf(e),
    );
  }
  run.step(
    'verify',
    'done',
    `The new secret ${added.uuid} minted a token for ${o.scopes.join(',')} (try ${verified.tries} of ${o.verifyAttempts}).`,
  );

  // 6. persist
  try {
    if (signal?.aborted) throw new ImsTokenError('IMS_ABORTED', 'The rotation was cancelled before persist.');
    await o.persist!(added.clientSecret, Object.freeze({ uuid: added.uuid, createdAt: added.createdAt, oldSecretUuid: old.uuid, signal }));
  } catch (err) {
    const cause = ImsTokenError.is(err) && err.code === 'IMS_ABORTED' ? err : sanitize(err, [added.clientSecret]);
    const said = `${cause.name}: ${cause.message}`.replace(/\s+/g, ' ').slice(0, 300);
    run.step('persist', 'failed', `persist() failed, the new secret ${added.uuid} was not stored (${said}).`);
    const undone = await rollback(client, run, added.uuid, 'the new secret');
    throw new RotationError(
      'IMS_ROTATION_FAILED',
      failedMessage('persist', `persist() failed (${said})`, added.uuid, undone),
      run.report(),
      { cause },
    );
  }
  run.step('persist', 'done', `persist() stored the new secret ${added.uuid}; services switch to it as they reload it.`);

  // 7. delete-old (never throws from here on: the new secret is in place)
  await deleteOld(client, run, o, old.uuid, added.uuid, undefined, now);
  return run.report();
}

function failedMessage(step: RotationStepName, why: string | undefined, uuid: string, undone: boolean): string {
  return `${why === undefined ? `Secret rotation cancelled during ${step}.` : `Secret rotation failed at ${step}: ${why}.`} ${
    undone
      ? `The new secret ${uuid} was deleted again; the credential and the current secret are as before.`
      : `The new secret ${uuid} could NOT be deleted again: delete it by hand (deleteClientSecret or \`ims-token secrets delete ${uuid}\`) before rotating again.`
  }`;
}

function limitMessage(
  client: SecretsClient,
  list: readonly ClientSecretInfo[],
  current: ClientSecretInfo | undefined,
  finishing: boolean,
  minIdleMs: number,
  now: number,
): string {
  const parts = list.map((s) => `${describe(s, now)}${current?.uuid === s.uuid ? ' — this process authenticates with it' : ''}`);
  const head = `Cannot add a client secret: credential ${client.credentialId} already has ${list.length} secrets, the most Adobe allows. Secrets: ${parts.join('; ')}.`;
  const other = current ? list.find((s) => s.uuid !== current.uuid) : undefined;
  let advice: string;
  if (current && other && finishing) {
    advice =
      `An earlier rotation added and persisted ${current.uuid} (the newer secret, which this process already authenticates with); ` +
      `the older ${other.uuid} is left over. Rerun with deleteOld: true to finish that rotation — it deletes ${other.uuid} once it has been idle for ${humanDuration(minIdleMs)} — or delete it by hand, then rotate again.`;
  } else if (current && other && list.length === 2) {
    advice =
      `${other.uuid} is not the secret this process authenticates with` +
      (other.lastUsedAt === undefined
        ? ' and was never used: it looks like a secret added by an interrupted rotation and never persisted.'
        : `; it was last used ${humanDuration(now - other.lastUsedAt)} ago, so make sure no service still uses it.`) +
      ` Delete ${other.uuid} (deleteClientSecret or \`ims-token secrets delete ${other.uuid}\`), then rotate again.`;
  } else {
    const never = list.filter((s) => s.lastUsedAt === undefined && s.uuid !== current?.uuid);
    const candidates = list.filter((s) => s.uuid !== current?.uuid);
    const pick =
      never.length === 1 ? never[0]! : [...candidates].sort((a, b) => (a.lastUsedAt ?? -Infinity) - (b.lastUsedAt ?? -Infinity))[0]!;
    advice =
      `${current ? '' : 'Could not tell which secret this process authenticates with (last_used_at did not single one out). '}` +
      `${pick.uuid} looks unused (${pick.lastUsedAt === undefined ? 'never used' : `least recently used: ${usage(pick, now)}`}); ` +
      `if no service uses it, delete it (deleteClientSecret or \`ims-token secrets delete ${pick.uuid}\`), then rotate again.`;
  }
  return `${head} ${advice}`;
}

type Verified = { ok: true; tries: number } | { ok: false; tries: number; error: ImsTokenError };

/** Mints a token with the new secret; retries while it activates (`invalid_client`) or IMS fails. */
async function verify(secret: string, int: SecretsClientInternals, o: Resolved): Promise<Verified> {
  const quiet = (obj: object, msg?: string): void => int.logger.debug(obj, msg);
  const provider = createTokenProvider({
    clientId: int.clientId,
    clientSecret: secret,
    scopes: o.scopes,
    imsUrl: int.imsUrl,
    negativeCacheMs: 0,
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    clock: int.clock,
    ...(int.dispatcher !== undefined ? { dispatcher: int.dispatcher } : {}),
    ...(int.timeoutMs !== undefined ? { timeoutMs: int.timeoutMs } : {}),
    ...(int.maxRetries !== undefined ? { maxRetries: int.maxRetries } : {}),
    ...(int.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: int.retryBaseDelayMs } : {}),
    ...(int.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: int.retryMaxDelayMs } : {}),
  });
  let last: ImsTokenError | undefined;
  let tries = 0;
  try {
    for (let i = 1; i <= o.verifyAttempts; i++) {
      tries = i;
      try {
        await provider.getToken({ forceRefresh: true, ...(o.signal ? { signal: o.signal } : {}) });
        return { ok: true, tries };
      } catch (err) {
        last = asIms(err, 'Minting a token with the new secret failed.');
        if (last.code !== 'IMS_INVALID_CLIENT' && !last.retryable) break;
        if (i < o.verifyAttempts) {
          int.logger.debug({ code: last.code, attempt: i }, 'ims-token rotation: the new secret does not work yet; trying again');
          try {
            await sleep(Math.min(o.verifyDelayMs * 2 ** (i - 1), o.verifyDelayMs * 6), o.signal, abortedRotation);
          } catch (abort) {
            last = asIms(abort, 'Cancelled.');
            break;
          }
        }
      }
    }
  } finally {
    await provider.close();
  }
  return { ok: false, tries, error: last! };
}

/** Deletes the secret this run added (never the only one). True when it is gone. */
async function rollback(client: SecretsClient, run: Run, uuid: string, what: string): Promise<boolean> {
  try {
    const list = await client.listClientSecrets();
    if (!list.some((s) => s.uuid === uuid)) {
      run.step('rollback', 'done', `${what[0]!.toUpperCase()}${what.slice(1)} ${uuid} is already gone.`);
      return true;
    }
    if (list.length < 2) {
      run.step('rollback', 'failed', `Not deleting ${what} ${uuid}: it is the only secret left.`);
      return false;
    }
    await client.deleteClientSecret(uuid);
    run.step('rollback', 'done', `Deleted ${what} ${uuid} again; the credential is back to its previous secret.`);
    return true;
  } catch (err) {
    const e = asIms(err, 'Rollback failed.');
    run.step(
      'rollback',
      'failed',
      `Could not delete ${what} ${uuid} (${e.code}): delete it by hand (deleteClientSecret or \`ims-token secrets delete ${uuid}\`).`,
    );
    return false;
  }
}

/** The `delete-old` step. Never throws: failures are reported. */
async function deleteOld(
  client: SecretsClient,
  run: Run,
  o: Resolved,
  oldUuid: string,
  newUuid: string,
  fresh: readonly ClientSecretInfo[] | undefined,
  now: () => number,
): Promise<void> {
  if (!o.deleteOld) {
    run.step(
      'delete-old',
      'skipped',
      `deleteOld is not set: the old secret ${oldUuid} stays. Once every service uses ${newUuid}, rerun with deleteOld: true and the new secret as the current one (it finishes this rotation), or delete ${oldUuid} by hand.`,
    );
    return;
  }
  if (o.signal?.aborted) {
    run.step(
      'delete-old',
      'skipped',
      `Cancelled by the AbortSignal: the old secret ${oldUuid} stays; rerun with the new secret and deleteOld: true to finish.`,
    );
    return;
  }
  let list: readonly ClientSecretInfo[];
  try {
    list = fresh ?? (await client.listClientSecrets(o.signal ? { signal: o.signal } : undefined));
  } catch (err) {
    const e = asIms(err, 'Listing failed.');
    run.step(
      'delete-old',
      'failed',
      `Could not list the secrets before deleting the old one (${e.code}): ${oldUuid} stays; rerun with the new secret and deleteOld: true to finish.`,
    );
    return;
  }
  const old = list.find((s) => s.uuid === oldUuid);
  if (!old) {
    run.step('delete-old', 'skipped', `The old secret ${oldUuid} is already gone.`);
    return;
  }
  if (!list.some((s) => s.uuid === newUuid)) {
    run.step(
      'delete-old',
      'failed',
      `The new secret ${newUuid} is not listed any more: not deleting ${oldUuid}, which may be the only working secret.`,
    );
    return;
  }
  const t = now();
  const idleMs = old.lastUsedAt === undefined ? Infinity : Math.max(0, t - old.lastUsedAt);
  const idle = idleMs >= o.minIdleMs;
  const why =
    old.lastUsedAt === undefined
      ? 'never used'
      : `last used ${humanDuration(t - old.lastUsedAt)} ago${idle ? `, idle for at least ${humanDuration(o.minIdleMs)}` : ''}`;
  if (!idle && !o.force) {
    run.step(
      'delete-old',
      'skipped',
      `Kept the old secret ${oldUuid}: ${why}, less than minIdleMs (${humanDuration(o.minIdleMs)}), so services may still use it. ` +
        `Rerun later with the new secret as the current one and deleteOld: true (it finishes this rotation), or pass force.`,
    );
    return;
  }
  if (o.dryRun) {
    run.step('delete-old', 'planned', `Would delete the old secret ${oldUuid} (${why}${idle ? '' : '; force'}).`);
    return;
  }
  try {
    await client.deleteClientSecret(oldUuid);
  } catch (err) {
    const e = asIms(err, 'Delete failed.');
    if (e.code !== 'IMS_NOT_FOUND') {
      run.step(
        'delete-old',
        'failed',
        `Could not delete the old secret ${oldUuid} (${e.code}): ${e.message} The new secret ${newUuid} is in place; rerun to finish.`,
      );
      return;
    }
  }
  run.deletedOld = true;
  run.step(
    'delete-old',
    'done',
    `Deleted the old secret ${oldUuid} (${why}${idle ? '' : '; forced although it was used recently'}). Tokens minted with it keep working until they expire.`,
  );
}

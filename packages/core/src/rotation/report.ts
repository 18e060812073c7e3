import type { Logger } from '../config';
import { ImsTokenError } from '../errors';
import type { ImsTokenErrorCode, ImsTokenErrorDetails } from '../errors';

/** The steps of a rotation, in order (`rollback` only after a failure). */
export type RotationStepName = 'token' | 'list' | 'check-limit' | 'add' | 'verify' | 'persist' | 'delete-old' | 'rollback';

/** `planned`: what a dry run would do. */
export type RotationStepStatus = 'done' | 'skipped' | 'failed' | 'planned';

/**
 * Why a step failed or was skipped, for programs (a CLI maps it to its own flags and advice):
 *
 * | reason | meaning |
 * |---|---|
 * | `aborted` | the `signal` fired |
 * | `mint-failed` | no I/O Management API token with the current secret |
 * | `list-failed` | listing the secrets failed |
 * | `no-secrets` | the API listed no secret at all |
 * | `secret-limit` | two secrets exist (or appeared): nothing can be added; `uuid` names the one that looks unused |
 * | `finish-pending` | two secrets, and this process already uses the newer one: an earlier rotation waits to be finished with `deleteOld` (on a `check-limit` that is `done`: this run finishes it); `uuid` is the older |
 * | `add-failed` | the API refused the add: nothing was created |
 * | `add-outcome-unknown` | the add timed out, was reset or answered 5xx: a secret may have been created |
 * | `orphan-kept` | a secret appeared during an add of unknown outcome but it was used or created outside that add's window: not ours to delete; `uuid` names it |
 * | `verify-failed` | the new secret did not mint a token |
 * | `persist-failed` | `persist` threw |
 * | `new-secret-kept` | `persist` failed with `keepNewSecret`: the new secret may be stored, so it is not deleted |
 * | `only-secret` | a secret was not deleted because it is the only one left |
 * | `rollback-failed` | the new secret could not be deleted again: `uuid` must be deleted by hand |
 * | `delete-not-requested` | `deleteOld` was not set |
 * | `not-idle` | the old secret was used within `minIdleMs`; `retryAt` says when it will have been idle long enough |
 * | `already-gone` | the secret to delete is no longer listed |
 * | `new-secret-missing` | the new secret is no longer listed: the old one is kept |
 * | `delete-failed` | deleting the old secret failed |
 */
export type RotationReason =
  | 'aborted'
  | 'mint-failed'
  | 'list-failed'
  | 'no-secrets'
  | 'secret-limit'
  | 'finish-pending'
  | 'add-failed'
  | 'add-outcome-unknown'
  | 'orphan-kept'
  | 'verify-failed'
  | 'persist-failed'
  | 'new-secret-kept'
  | 'only-secret'
  | 'rollback-failed'
  | 'delete-not-requested'
  | 'not-idle'
  | 'already-gone'
  | 'new-secret-missing'
  | 'delete-failed';

/**
 * One step of a rotation. `detail` is a sentence for a person with the facts (uuids, times), never a secret
 * value and never advice in terms of options; programs read `reason`, `uuid` and `retryAt`.
 */
export interface RotationStep {
  readonly name: RotationStepName;
  readonly status: RotationStepStatus;
  readonly detail: string;
  /** Why it failed or was skipped. */
  readonly reason?: RotationReason;
  /** The secret the step is about: the one added, deleted, kept, or to delete by hand. */
  readonly uuid?: string;
  /** `not-idle`: when (epoch ms) the old secret will have been idle for `minIdleMs`, if nothing uses it until then. */
  readonly retryAt?: number;
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

/**
 * The error {@link rotateClientSecret} throws: an {@link ImsTokenError} with the rotation's `report` and the
 * `reason` of the step that stopped it. `code` is `IMS_ROTATION_FAILED` once a secret had been (or may have been)
 * added, or the cause's code (`IMS_SECRET_LIMIT`, `IMS_FORBIDDEN`, `IMS_INVALID_CLIENT`, …) when nothing was changed.
 *
 * @example
 * ```ts
 * try { await rotateClientSecret(opts) } catch (err) {
 *   if (err instanceof RotationError && err.reason === 'secret-limit') console.error('delete', err.report.steps.at(-1)?.uuid)
 * }
 * ```
 */
export class RotationError extends ImsTokenError {
  readonly report: RotationReport;
  /** The reason of the step that stopped the rotation. */
  readonly reason: RotationReason | undefined;

  constructor(
    code: ImsTokenErrorCode,
    message: string,
    report: RotationReport,
    details: ImsTokenErrorDetails & { reason?: RotationReason } = {},
  ) {
    const { reason, ...rest } = details;
    super(code, message, rest);
    this.report = report;
    this.reason = reason;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reason: this.reason, report: this.report };
  }
}

/** Extra fields of a step. */
export type StepExtra = Pick<RotationStep, 'reason' | 'uuid' | 'retryAt'>;

/** Records steps, reports them (onStep, logger) and builds the report. */
export class Run {
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

  step(name: RotationStepName, status: RotationStepStatus, detail: string, extra: StepExtra = {}): RotationStep {
    const step: RotationStep = Object.freeze({
      name,
      status,
      detail,
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
      ...(extra.uuid !== undefined ? { uuid: extra.uuid } : {}),
      ...(extra.retryAt !== undefined ? { retryAt: extra.retryAt } : {}),
    });
    this.#steps.push(step);
    const log = status === 'failed' ? this.#logger.warn : this.#logger.info;
    log({ step: name, status, ...(step.reason ? { reason: step.reason } : {}) }, `ims-token rotation: ${name} ${status}: ${detail}`);
    if (this.#onStep) {
      try {
        this.#onStep(step);
      } catch (err) {
        this.#logger.warn({ step: name, error: String((err as Error)?.name ?? 'error') }, 'ims-token rotation: the onStep callback threw');
      }
    }
    return step;
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

  /** A {@link RotationError} for the run so far. */
  error(code: ImsTokenErrorCode, message: string, reason: RotationReason, details: ImsTokenErrorDetails = {}): RotationError {
    return new RotationError(code, message, this.report(), { ...details, reason });
  }
}

import { DEFAULT_MIN_IDLE_MS, ImsTokenError } from '@ims-token/core';
import type { RotationError, RotationReason, RotationReport, RotationStep } from '@ims-token/core';
import type { Context } from '../../context';
import { when } from './shared';

// What `secrets rotate` prints. Core's step details state the facts; the advice — what to run next — is the
// CLI's, chosen by each step's machine-readable `reason` and said in terms of the CLI's flags.

const SYMBOLS: Record<RotationStep['status'], string> = { done: '✓', failed: '✗', skipped: '–', planned: '→' };

/** "25 h", "30 min", "2 d". */
export function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 72 * 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

const deleteCmd = (uuid: string | undefined): string =>
  uuid ? `\`ims-token secrets delete ${uuid}\`` : '`ims-token secrets delete <uuid>`';

/** What to do next, in the CLI's words, for a step's reason. */
export function advice(
  reason: RotationReason | undefined,
  step: Pick<RotationStep, 'uuid' | 'retryAt'>,
  minIdleMs: number,
  where: string,
): string | undefined {
  const id = step.uuid ?? '<uuid>';
  switch (reason) {
    case 'secret-limit':
      return step.uuid
        ? `If no service uses ${id}, delete it with ${deleteCmd(id)}, then rotate again.`
        : 'Run `ims-token secrets list`, delete the secret no service uses, then rotate again.';
    case 'finish-pending':
      return `Rerun with --delete-old to finish that rotation: it deletes ${id} once it has been unused for ${duration(minIdleMs)}.`;
    case 'not-idle':
      return `Rerun with --delete-old after ${step.retryAt ? when(step.retryAt) : `${duration(minIdleMs)} without use`} to delete it (a daily job does), or add --force to delete it now: a service that still holds only the old secret then fails at its next mint.`;
    case 'delete-not-requested':
      return `Once every service uses the new secret, rerun with --delete-old: it deletes ${id} after ${duration(minIdleMs)} without use.`;
    case 'rollback-failed':
    case 'only-secret':
      return `Delete ${id} with ${deleteCmd(step.uuid)} before rotating again; the current secret still works.`;
    case 'orphan-kept':
      return `If no service uses ${id}, delete it with ${deleteCmd(step.uuid)}.`;
    case 'add-outcome-unknown':
      return 'Run `ims-token secrets list` to see whether a secret was added before rotating again.';
    case 'new-secret-kept':
      return `Check ${where}: it may hold the new secret ${id}. Rerun the rotation: it finishes or undoes what is left.`;
    case 'verify-failed':
      return 'Check that the credential has the scopes the new secret is verified with (--scopes, --preset or IMS_SCOPES); nothing changed at Adobe.';
    case 'persist-failed':
      return `Fix what stopped the write ${where}, then rotate again; nothing changed at Adobe.`;
    case 'aborted':
      return 'Nothing changed at Adobe: run the rotation again when ready.';
    default:
      return undefined;
  }
}

/** A step in the CLI's words: core's facts, where the new secret goes, and what to do next. */
export function stepText(step: RotationStep, where: string, minIdleMs: number): string {
  let text = step.detail;
  if (step.name === 'persist' && step.status === 'done')
    text = `Stored the new secret ${step.uuid ?? ''} ${where}; services switch to it as they reload it.`;
  if (step.name === 'persist' && step.status === 'planned')
    text = `Would store the new secret ${where}; on failure, would delete it again.`;
  const next = step.status === 'failed' ? undefined : advice(step.reason, step, minIdleMs, where);
  return next ? `${text} ${next}` : text;
}

export function progressLine(ctx: Context, step: RotationStep, where: string, minIdleMs: number): string {
  const s = ctx.err;
  const sym = SYMBOLS[step.status];
  const mark = step.status === 'done' ? s.green(sym) : step.status === 'failed' ? s.red(sym) : s.dim(sym);
  return `${mark} ${step.name.padEnd(11)} ${stepText(step, where, minIdleMs)}`;
}

/** The reason that decides what the user must do: a failed undo wins over everything else. */
function decisive(err: RotationError): { reason: RotationReason | undefined; step: RotationStep | undefined } {
  const steps = err.report.steps;
  const undo = steps.find((s) => s.reason === 'rollback-failed' || s.reason === 'only-secret' || s.reason === 'new-secret-kept');
  if (undo) return { reason: undo.reason, step: undo };
  return { reason: err.reason, step: [...steps].reverse().find((s) => s.reason === err.reason) };
}

/** A rotation error in the CLI's words: same code and facts, the CLI's advice as the fix (the report is printed apart). */
export function cliRotationError(err: RotationError, where: string, minIdleMs: number): ImsTokenError {
  const { reason, step } = decisive(err);
  const fix = advice(reason, step ?? {}, minIdleMs, where);
  return new ImsTokenError(err.code, err.message, {
    status: err.status,
    imsError: err.imsError,
    imsErrorDescription: err.imsErrorDescription,
    debugId: err.debugId,
    retryAfterMs: err.retryAfterMs,
    hint: fix ?? err.hint,
    cause: err.cause,
  });
}

/** The --json output: core's report (step details in the CLI's words) and the files written. */
export function reportJson(
  r: RotationReport,
  where: string,
  minIdleMs: number,
  extra: { written: readonly string[]; tidied: readonly string[]; recovered?: string },
): Record<string, unknown> {
  return { ...r, steps: r.steps.map((s) => ({ ...s, detail: stepText(s, where, minIdleMs) })), ...extra };
}

export function summary(r: RotationReport, written: readonly string[], toStdout: boolean): string {
  if (r.dryRun) return 'ims-token: dry run: nothing was changed.';
  const old = r.oldSecretUuid ?? 'the old secret';
  const oldState = r.deletedOld
    ? `the old secret ${old} was deleted`
    : `the old secret ${old} still works (rerun with --delete-old once no service has used it for ${duration(DEFAULT_MIN_IDLE_MS)})`;
  if (r.mode === 'finish') return `ims-token: finished an earlier rotation: ${oldState}.`;
  const where = toStdout ? 'printed on stdout (store it now: it is never shown again)' : `written to ${written.join(' and ')}`;
  return `ims-token: rotated: the new secret ${r.newSecretUuid ?? ''} is ${where}; ${oldState}.`;
}

/** The warning for a --min-idle shorter than the safe default. */
export function minIdleWarning(ctx: Context, text: string): string {
  return `ims-token: ${ctx.err.yellow('warning')}: --min-idle ${text} is shorter than a token lifetime plus the refresh window (${duration(DEFAULT_MIN_IDLE_MS)}): a service that minted with the old secret within that time and still holds only the old secret fails at its next mint once the old secret is deleted.`;
}

import { ENV, IO_MANAGEMENT_SCOPES, ImsTokenError, normalizeScopes, rotateClientSecret } from '@ims-token/core';
import type { RotationReport, RotationStep } from '@ims-token/core';
import { usageError } from '../../args';
import { loadEnv, resolvePath } from '../../config';
import type { Context } from '../../context';
import { SCOPE_PRESETS } from '../../presets';
import type { CommandModule } from '../types';
import { checkEnvFile, checkTarget, envKeys, parseDuration, restore, secretFileText, setEnvValues, writeAtomic } from './files';
import type { Target } from './files';
import { SECRETS_OPTIONS, cliWords, resolveSecretsConfig } from './shared';

const DEFAULT_MIN_IDLE = '15m';

/** The scopes the new secret must mint: --scopes, --preset, IMS_SCOPES, else the I/O Management API's. */
async function verifyScopes(ctx: Context): Promise<string[]> {
  const f = ctx.flags;
  let raw: string | undefined;
  let from = '--scopes';
  if (typeof f.scopes === 'string') raw = f.scopes;
  else if (typeof f.preset === 'string') {
    raw = (SCOPE_PRESETS as Record<string, string>)[f.preset];
    if (raw === undefined)
      throw usageError(
        `Unknown --preset "${f.preset.slice(0, 40)}".`,
        `Use one of: ${Object.keys(SCOPE_PRESETS).join(', ')}; or pass --scopes.`,
      );
  } else {
    raw = (await loadEnv(ctx)).env[ENV.scopes];
    from = ENV.scopes;
  }
  if (raw === undefined || raw.trim() === '') return [...IO_MANAGEMENT_SCOPES];
  try {
    return normalizeScopes(raw);
  } catch {
    throw usageError(
      `${from} must be a comma-separated list of scopes without spaces inside a scope.`,
      "Fix the scopes the new secret is checked with (your services' IMS_SCOPES).",
    );
  }
}

const SYMBOLS: Record<RotationStep['status'], string> = { done: '✓', failed: '✗', skipped: '–', planned: '→' };

function progressLine(ctx: Context, step: RotationStep, where: string): string {
  const s = ctx.err;
  const sym = SYMBOLS[step.status];
  const mark = step.status === 'done' ? s.green(sym) : step.status === 'failed' ? s.red(sym) : s.dim(sym);
  return `${mark} ${step.name.padEnd(11)} ${cliWords(step.detail, where)}`;
}

/** A copy of a rotation error without its report (printed on its own) and in the CLI's words. */
function plain(err: ImsTokenError, where: string): ImsTokenError {
  return new ImsTokenError(err.code, cliWords(err.message, where), {
    status: err.status,
    imsError: err.imsError,
    imsErrorDescription: err.imsErrorDescription,
    debugId: err.debugId,
    retryAfterMs: err.retryAfterMs,
    hint: cliWords(err.hint, where),
    cause: err.cause,
  });
}

/** Ctrl-C / SIGTERM cancel the rotation (core deletes a secret it added); a second one quits at once. */
function onSignals(ctx: Context, controller: AbortController): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const handler = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      ctx.note(`ims-token: ${signal}: cancelling the rotation (undoing what it did; press Ctrl-C again to quit at once)…`);
      controller.abort();
      return;
    }
    for (const sig of signals) process.removeListener(sig, handler);
    process.kill(process.pid, signal);
  };
  for (const sig of signals) process.on(sig, handler);
  return () => {
    for (const sig of signals) process.removeListener(sig, handler);
  };
}

export const command: CommandModule = {
  options: {
    ...SECRETS_OPTIONS,
    'write-secret-file': {
      type: 'string',
      value: '<path>',
      help: 'write the new secret, then the old one, to this file (0600, atomic): for IMS_CLIENT_SECRET_FILE',
    },
    'write-env-file': {
      type: 'string',
      value: '<path>',
      help: 'set IMS_CLIENT_SECRET (and IMS_CLIENT_SECRET_NEXT, if there, to the old secret) in this dotenv file',
    },
    'delete-old': { type: 'boolean', help: 'then delete the old secret, if it has been idle for --min-idle (or --force)' },
    'min-idle': {
      type: 'string',
      value: '<duration>',
      help: `how long the old secret must be unused before --delete-old deletes it: 30s, 15m, 2h, 1d (default ${DEFAULT_MIN_IDLE})`,
    },
    force: { type: 'boolean', help: 'with --delete-old: delete the old secret even if it was used recently' },
    'dry-run': { type: 'boolean', help: 'check and print the plan; change nothing' },
  },
  maxPositionals: 0,
  help: {
    usage:
      'ims-token secrets rotate [--write-secret-file <path> | --write-env-file <path>] [--delete-old [--min-idle 15m] [--force]] [--dry-run] [--json]',
    description: `Rotates the client secret without downtime, through the I/O Management API: mints a token with the
current secret, lists the secrets (Adobe allows two: with two already it stops with IMS_SECRET_LIMIT and
names the unused one), adds a secret, verifies it by minting a token for the services' scopes (--scopes,
--preset or IMS_SCOPES; default the I/O Management API's), stores it, and only then, with --delete-old,
deletes the old secret once its last use is --min-idle ago (or with --force). If verifying or storing
fails, the new secret is deleted again and the credential is as before (exit 7); Ctrl-C does the same.

Where the new secret goes: --write-secret-file (new secret first, old second, so providers reading
IMS_CLIENT_SECRET_FILE switch without a restart and fall back to the old one), --write-env-file (updates
IMS_CLIENT_SECRET in place; IMS_CLIENT_SECRET_NEXT too, if the file has it), both, or else stdout (the new
secret alone). One progress line per step on stderr; --json prints the report on stdout instead (it then
needs a --write-* option). A rerun with the new secret as the current one and --delete-old finishes an
earlier rotation (deletes the old secret once idle), so a nightly job can alternate the two.`,
    examples: [
      'ims-token secrets rotate --env-file .env --write-env-file .env --dry-run',
      'IMS_CLIENT_SECRET_FILE=/run/secrets/ims ims-token secrets rotate --write-secret-file /run/secrets/ims --scopes openid,AdobeID,firefly_api',
      'ims-token secrets rotate --env-file .env --write-env-file .env --delete-old --min-idle 1h --json',
      'ims-token secrets rotate --env-file .env > new-secret.txt',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const f = ctx.flags;
    const json = f.json === true;
    const dryRun = f['dry-run'] === true;
    const deleteOld = f['delete-old'] === true;
    const secretPath = typeof f['write-secret-file'] === 'string' ? resolvePath(ctx, f['write-secret-file']) : undefined;
    const envPath = typeof f['write-env-file'] === 'string' ? resolvePath(ctx, f['write-env-file']) : undefined;
    const toStdout = secretPath === undefined && envPath === undefined;
    if (json && toStdout && !dryRun) {
      throw usageError(
        '--json prints the report on stdout, so the new secret cannot go there too.',
        'Pass --write-secret-file <path> or --write-env-file <path> (or leave out --json).',
      );
    }
    if (!deleteOld && (f['min-idle'] !== undefined || f.force === true)) {
      throw usageError(
        `${f.force === true ? '--force' : '--min-idle'} only applies to --delete-old.`,
        'Add --delete-old, or leave it out.',
      );
    }
    const minIdleText = typeof f['min-idle'] === 'string' ? f['min-idle'] : DEFAULT_MIN_IDLE;
    const minIdleMs = parseDuration(minIdleText);
    if (minIdleMs === undefined || minIdleMs > 366 * 86_400_000) {
      throw usageError('--min-idle must be a duration such as 30s, 15m, 2h or 1d (at most 366d).', 'Pass e.g. --min-idle 15m.');
    }
    // Check the files first, so that a wrong path never gets as far as adding a secret.
    const secretTarget =
      secretPath === undefined ? undefined : await checkTarget(secretPath, '--write-secret-file', { mustExist: false, keepMode: false });
    const envTarget =
      envPath === undefined ? undefined : await checkTarget(envPath, '--write-env-file', { mustExist: true, keepMode: true });
    if (envTarget) checkEnvFile(envTarget, '--write-env-file');
    const scopes = await verifyScopes(ctx);
    const cfg = await resolveSecretsConfig(ctx);

    const where = toStdout ? 'on stdout' : `in ${[secretTarget?.path, envTarget?.path].filter(Boolean).join(' and ')}`;
    const written: string[] = [];
    let newSecret: string | undefined;
    const persist = async (secret: string): Promise<void> => {
      newSecret = secret;
      if (toStdout) {
        ctx.print(`${secret}\n`);
        return;
      }
      const done: Target[] = [];
      try {
        if (secretTarget) {
          await writeAtomic(secretTarget.path, secretFileText([secret, cfg.current]), 0o600);
          done.push(secretTarget);
        }
        if (envTarget) {
          const next = envKeys(envTarget.before ?? '')[ENV.clientSecretNext] !== undefined;
          const values: Array<[string, string]> = [
            [ENV.clientSecret, secret],
            ...(next ? [[ENV.clientSecretNext, cfg.current] as [string, string]] : []),
          ];
          await writeAtomic(envTarget.path, setEnvValues(envTarget.before, values), envTarget.mode);
          done.push(envTarget);
        }
      } catch (err) {
        for (const t of done.reverse()) await restore(t).catch(() => undefined);
        throw err;
      }
      written.push(...done.map((t) => t.path));
    };

    const controller = new AbortController();
    const offSignals = onSignals(ctx, controller);
    let report: RotationReport;
    try {
      report = await rotateClientSecret({
        client: cfg.client,
        scopes,
        persist,
        deleteOld,
        minIdleMs,
        force: f.force === true,
        dryRun,
        signal: controller.signal,
        onStep: json ? undefined : (step) => ctx.note(progressLine(ctx, step, where)),
      });
    } catch (err) {
      if (!ImsTokenError.is(err)) throw err;
      const failed = (err as { report?: RotationReport }).report;
      if (json && failed) ctx.printJson(reportJson(failed, where, written, []));
      throw plain(err, where); // a cancel is IMS_ABORTED (exit 130); its message says whether the new secret was deleted again
    } finally {
      offSignals();
      await cfg.client.close();
    }

    // The old secret is gone: take it out of the files this run manages.
    const tidied: string[] = [];
    const keep = newSecret ?? (report.mode === 'finish' ? cfg.current : undefined);
    if (report.deletedOld && keep !== undefined) {
      try {
        if (secretTarget) {
          await writeAtomic(secretTarget.path, secretFileText([keep]), 0o600);
          tidied.push(secretTarget.path);
        }
        if (envTarget) {
          const now = await checkTarget(envTarget.path, '--write-env-file', { mustExist: true, keepMode: true });
          const hasNext = envKeys(now.before ?? '')[ENV.clientSecretNext] !== undefined;
          await writeAtomic(
            now.path,
            setEnvValues(now.before, [[ENV.clientSecret, keep], ...(hasNext ? [[ENV.clientSecretNext, ''] as [string, string]] : [])]),
            now.mode,
          );
          tidied.push(now.path);
        }
      } catch (err) {
        ctx.note(
          `ims-token: ${ctx.err.yellow('warning')}: could not remove the deleted old secret from ${secretTarget?.path ?? envTarget?.path}: ${(err as Error).message}`,
        );
      }
    }

    if (json) {
      ctx.printJson(reportJson(report, where, written, tidied));
    } else {
      for (const p of tidied) ctx.note(`${ctx.err.green('✓')} ${'tidy'.padEnd(11)} Removed the deleted old secret from ${p}.`);
      ctx.note(summary(report, written, toStdout));
    }
    if (!report.ok) {
      const failed = report.steps.find((s) => s.status === 'failed');
      throw new ImsTokenError(
        'IMS_ROTATION_FAILED',
        `The new secret ${report.newSecretUuid ?? ''} is in place, but a step failed: ${cliWords(failed?.detail ?? 'see the steps above')}`,
        {
          hint: 'Rerun with the new secret as the current one and --delete-old to finish, or delete the old secret with "ims-token secrets delete <uuid>".',
        },
      );
    }
    return 0;
  },
};

/** The --json output: core's report (step details in the CLI's words) and the files written. */
function reportJson(r: RotationReport, where: string, written: readonly string[], tidied: readonly string[]): Record<string, unknown> {
  return { ...r, steps: r.steps.map((s) => ({ ...s, detail: cliWords(s.detail, where) })), written, tidied };
}

function summary(r: RotationReport, written: readonly string[], toStdout: boolean): string {
  if (r.dryRun) return 'ims-token: dry run: nothing was changed.';
  const old = r.oldSecretUuid ?? 'the old secret';
  const oldState = r.deletedOld
    ? `the old secret ${old} was deleted`
    : `the old secret ${old} still works (rerun with --delete-old once no service uses it)`;
  if (r.mode === 'finish') return `ims-token: finished an earlier rotation: ${oldState}.`;
  const where = toStdout ? 'printed on stdout (store it now: it is never shown again)' : `written to ${written.join(' and ')}`;
  return `ims-token: rotated: the new secret ${r.newSecretUuid ?? ''} is ${where}; ${oldState}.`;
}

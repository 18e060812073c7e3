import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_MIN_IDLE_MS,
  ENV,
  IO_MANAGEMENT_SCOPES,
  ImsTokenError,
  RotationError,
  defaultCacheDir,
  normalizeScopes,
  rotateClientSecret,
} from '@ims-token/core';
import type { FileLockHolder, RotationReport, RotationStep } from '@ims-token/core';
import { usageError } from '../../args';
import { cliEnv, resolvePath } from '../../config';
import type { Context } from '../../context';
import { streamOf } from '../../io';
import type { CommandModule } from '../types';
import { parseDuration } from './files';
import { Journal, recover } from './journal';
import { RotationLock, lockPathFor } from './lock';
import type { StaleRecord } from './lock';
import type { Recovered } from './journal';
import { cliRotationError, duration, minIdleWarning, progressLine, reportJson, stepText, summary } from './rotate-output';
import { SECRETS_OPTIONS, resolveSecretsConfig, when } from './shared';
import type { SecretsConfig } from './shared';
import { checkTarget, persistToFiles, targetNotes, tidyTargets, writeConfirmed } from './targets';
import type { FileTarget } from './targets';

/** How long a rotation waits for another one of the same target to finish. */
const LOCK_WAIT_MS = 120_000;

/** The scopes the new secret must mint: --scopes, --preset, IMS_SCOPES, else the I/O Management API's. */
async function verifyScopes(ctx: Context): Promise<string[]> {
  const f = ctx.flags;
  const raw = (await cliEnv(ctx)).env[ENV.scopes]; // --scopes, else --preset, else IMS_SCOPES: the rule of every command
  const from = typeof f.scopes === 'string' ? '--scopes' : typeof f.preset === 'string' ? '--preset' : ENV.scopes;
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

/**
 * Test hook for the crash-point suite: `IMS_TOKEN_TEST_FAILPOINT=after:<step>:kill|stop` SIGKILLs (or SIGSTOPs)
 * this process right after it recorded <step> — a real crash at an exact step boundary.
 */
function failpoint(ctx: Context, step: RotationStep): void {
  const m = /^after:([a-z-]+):(kill|stop)$/.exec(ctx.io.env.IMS_TOKEN_TEST_FAILPOINT ?? '');
  if (m && m[1] === step.name && step.status !== 'planned') process.kill(process.pid, m[2] === 'kill' ? 'SIGKILL' : 'SIGSTOP');
}

/** The lock of a rotation that prints to stdout: one per credential, in the cache directory. */
function credentialLock(ctx: Context, cfg: SecretsConfig): string {
  const dir = defaultCacheDir(ctx.io.env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = createHash('sha256').update(`${cfg.clientId}\0${cfg.client.orgId}\0${cfg.client.credentialId}`).digest('hex').slice(0, 16);
  return join(dir, `.rotate-${id}.ims-token.lock`);
}

function holder(o: FileLockHolder | undefined): string {
  return `pid ${o?.pid ?? '?'}${o?.host && o.host !== hostname() ? ` on ${o.host}` : ''}${o?.since !== undefined ? `, started ${when(o.since)}` : ''}`;
}

export const command: CommandModule = {
  options: {
    ...SECRETS_OPTIONS,
    'write-secret-file': {
      type: 'string',
      value: '<path>',
      help: 'write the new secret, then the old one, to this file (atomic; owner, group and mode kept): for IMS_CLIENT_SECRET_FILE',
    },
    'write-env-file': {
      type: 'string',
      value: '<path>',
      help: 'set IMS_CLIENT_SECRET (and IMS_CLIENT_SECRET_NEXT, if there, to the old secret) in this dotenv file',
    },
    'delete-old': { type: 'boolean', help: 'then delete the old secret, once unused for --min-idle (or with --force)' },
    'min-idle': {
      type: 'string',
      value: '<duration>',
      help: `how long the old secret must be unused before --delete-old deletes it: 30m, 2h, 1d (default ${duration(DEFAULT_MIN_IDLE_MS)}; shorter warns)`,
    },
    force: { type: 'boolean', help: 'with --delete-old: delete the old secret even if it was used recently (risky)' },
    'dry-run': { type: 'boolean', help: 'check and print the plan; change nothing' },
  },
  maxPositionals: 0,
  help: {
    usage:
      'ims-token secrets rotate [--write-secret-file <path> | --write-env-file <path>] [--delete-old [--min-idle 25h] [--force]] [--dry-run] [--json]',
    description: `Rotates the client secret without downtime, through the I/O Management API: mints a token with the
current secret, lists the secrets (Adobe allows two: with two already it stops with IMS_SECRET_LIMIT and
names the unused one), adds a secret, verifies it by minting a token for the services' scopes (--scopes,
--preset or IMS_SCOPES; default the I/O Management API's), stores it, and only then, with --delete-old,
deletes the old secret once it has been unused for a token lifetime plus the refresh window (25 h; see
--min-idle, --force). If verifying or storing fails, the new secret is deleted again and the credential is
as before (exit 7); Ctrl-C does the same. It never deletes a secret it did not add.

Where the new secret goes: --write-secret-file (new secret first, old second, so providers reading
IMS_CLIENT_SECRET_FILE switch without a restart and fall back to the old one), --write-env-file (updates
IMS_CLIENT_SECRET in place; IMS_CLIENT_SECRET_NEXT too, if the file has it), both, or else stdout (the new
secret alone; it counts as stored only once the write is confirmed). Files keep their owner, group, mode
(minus access for other users) and every other byte; a symbolic link is followed; the file is read again
just before writing. A lock file beside each target serialises rotations; a rerun after a crash finishes
or undoes what the crashed run left, and says which. A rerun with the new secret as the current one and
--delete-old finishes an earlier rotation (deletes the old secret once idle).`,
    examples: [
      'ims-token secrets rotate --env-file .env --write-env-file .env --dry-run',
      'IMS_CLIENT_SECRET_FILE=/run/secrets/ims ims-token secrets rotate --write-secret-file /run/secrets/ims --scopes openid,AdobeID,firefly_api',
      'ims-token secrets rotate --env-file .env --write-env-file .env --delete-old --json',
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
    const minIdleText = typeof f['min-idle'] === 'string' ? f['min-idle'] : undefined;
    const minIdleMs = minIdleText === undefined ? DEFAULT_MIN_IDLE_MS : parseDuration(minIdleText);
    if (minIdleMs === undefined || minIdleMs > 366 * 86_400_000) {
      throw usageError('--min-idle must be a duration such as 30s, 15m, 2h or 1d (at most 366d).', 'Pass e.g. --min-idle 25h.');
    }
    if (deleteOld && minIdleMs < DEFAULT_MIN_IDLE_MS && !dryRun && f.force !== true) ctx.note(minIdleWarning(ctx, minIdleText!));

    // The targets are checked before anything happens at Adobe, so that a wrong path never gets as far as adding a secret.
    const paths: Array<[FileTarget['kind'], string]> = [];
    if (secretPath !== undefined) paths.push(['secret-file', secretPath]);
    if (envPath !== undefined) paths.push(['env', envPath]);
    let targets: FileTarget[] = [];
    for (const [kind, path] of paths) targets.push(await checkTarget(kind, path));
    if (targets.length === 2 && targets[0]!.info.path === targets[1]!.info.path) {
      throw usageError('--write-secret-file and --write-env-file name the same file.', 'Pass one of them.');
    }
    for (const t of targets) targetNotes(ctx, t);
    const scopes = await verifyScopes(ctx);
    const where = toStdout ? 'on stdout' : `in ${targets.map((t) => t.info.given).join(' and ')}`;

    let cfg: SecretsConfig | undefined = toStdout || dryRun ? await resolveSecretsConfig(ctx) : undefined;
    const controller = new AbortController();
    const offSignals = onSignals(ctx, controller);
    let lock: RotationLock | undefined;
    let journal: Journal | undefined;
    let keepLock = false;
    /** Records of dead runs taken over but not recovered yet: kept in the lock if this run stops before. */
    let pending: StaleRecord[] = [];
    try {
      let stale: StaleRecord[] = [];
      if (!dryRun) {
        // One rotation of a target at a time: a lock beside each file (for stdout, one per credential).
        const lockPaths = toStdout ? [credentialLock(ctx, cfg!)] : targets.map((t) => lockPathFor(t.info.path));
        ({ lock, stale } = await RotationLock.acquire(lockPaths, {
          waitMs: LOCK_WAIT_MS,
          signal: controller.signal,
          onWait: (o) =>
            ctx.note(
              `ims-token: waiting for another rotation of ${toStdout ? 'this credential' : targets.map((t) => t.info.given).join(' and ')} (${holder(o)}) to finish…`,
            ),
          timeout: (o, path) =>
            new ImsTokenError(
              'IMS_ROTATION_FAILED',
              `Another rotation (${holder(o)}) has held ${path} for over ${duration(LOCK_WAIT_MS)}; nothing was changed.`,
              {
                hint: `Wait for it; if that process is gone (on another host), delete ${path} and run again.`,
              },
            ),
        }));
        pending = stale;
        // Under the lock, read the targets and the configuration again: the run we waited for may have changed them.
        if (!toStdout) {
          const fresh: FileTarget[] = [];
          for (const t of targets) fresh.push(await checkTarget(t.kind, t.info.given));
          targets = fresh;
          cfg = await resolveSecretsConfig(ctx);
        }
        journal = new Journal(lock, {
          clientId: cfg!.clientId,
          orgId: cfg!.client.orgId,
          credentialId: cfg!.client.credentialId,
          targets: toStdout ? ['stdout'] : targets.map((t) => t.info.path),
        });
      }
      const c = cfg!;

      // A run that died holding the lock: finish or undo what it left, and say which.
      let finished: Recovered | undefined;
      while (stale.length > 0) {
        const r = await recover(ctx, c.client, stale[0]!, targets);
        if (r.outcome === 'finished') finished = r;
        stale = stale.slice(1);
      }
      pending = [];
      if (finished && !(deleteOld && finished.oldListed)) {
        const tidied = finished.oldListed ? [] : await tidyTargets(ctx, targets, c.current);
        journal!.set('done');
        const oldState = finished.oldListed
          ? `the old secret ${finished.oldUuid ?? ''} still works (rerun with --delete-old once no service has used it for ${duration(minIdleMs)})`
          : 'the old secret was deleted';
        if (json)
          ctx.printJson({ ok: true, recovered: 'finished', newSecretUuid: finished.newUuid, oldSecretUuid: finished.oldUuid, tidied });
        else {
          for (const p of tidied) ctx.note(`${ctx.err.green('✓')} ${'tidy'.padEnd(11)} Removed the deleted old secret from ${p}.`);
          ctx.note(`ims-token: the interrupted rotation is complete: the new secret ${finished.newUuid ?? ''} is stored; ${oldState}.`);
        }
        return 0;
      }

      const written: string[] = [];
      let newSecret: string | undefined;
      const persist = async (secret: string): Promise<void> => {
        newSecret = secret;
        journal?.persisting(secret);
        if (toStdout) await writeConfirmed(streamOf(ctx.io.stdout), `${secret}\n`);
        else {
          try {
            written.push(...(await persistToFiles(targets, secret, c.current)));
          } catch (err) {
            if ((err as { keepNewSecret?: unknown }).keepNewSecret !== true) journal?.set('verify'); // the files are as before
            throw err;
          }
        }
        journal?.set('persisted');
      };

      let report: RotationReport;
      try {
        report = await rotateClientSecret({
          client: c.client,
          scopes,
          persist,
          deleteOld,
          minIdleMs,
          force: f.force === true,
          dryRun,
          signal: controller.signal,
          onStep: (step) => {
            journal?.onStep(step);
            if (!json) ctx.note(progressLine(ctx, step, where, minIdleMs));
            failpoint(ctx, step);
          },
        });
      } catch (err) {
        if (!(err instanceof RotationError) && !(ImsTokenError.is(err) && 'report' in err)) throw err;
        const e = err as RotationError;
        if (json) ctx.printJson(reportJson(e.report, where, minIdleMs, { written, tidied: [] }));
        keepLock = journal !== undefined && !journal.settled;
        throw cliRotationError(e, where, minIdleMs); // a cancel is IMS_ABORTED (exit 130); its message says whether the new secret was deleted again
      }

      // The old secret is gone: take it out of the files this run manages.
      const keep = newSecret ?? (report.mode === 'finish' ? c.current : undefined);
      const tidied = report.deletedOld && keep !== undefined ? await tidyTargets(ctx, targets, keep) : [];
      journal?.set('done');
      if (json) ctx.printJson(reportJson(report, where, minIdleMs, { written, tidied }));
      else {
        for (const p of tidied) ctx.note(`${ctx.err.green('✓')} ${'tidy'.padEnd(11)} Removed the deleted old secret from ${p}.`);
        ctx.note(summary(report, written, toStdout));
      }
      if (!report.ok) {
        const failed = report.steps.find((s) => s.status === 'failed');
        throw new ImsTokenError(
          'IMS_ROTATION_FAILED',
          `The new secret ${report.newSecretUuid ?? ''} is in place, but a step failed: ${failed ? stepText(failed, where, minIdleMs) : 'see the steps above'}`,
          {
            hint: 'Rerun with the new secret as the current one and --delete-old to finish, or delete the old secret with "ims-token secrets delete <uuid>".',
          },
        );
      }
      return 0;
    } finally {
      offSignals();
      await cfg?.client.close();
      if (lock && pending.length > 0) {
        lock.update(pending[0]!); // the dead run's record, for the next run to recover
        keepLock = true;
      }
      if (lock) {
        if (keepLock) lock.abandon();
        else await lock.release();
      }
    }
  },
};

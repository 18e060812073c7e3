import { ImsTokenError } from '../errors';
import type { ImsTokenErrorDetails } from '../errors';
import { wasNotSent } from '../http';
import { createTokenProvider } from '../provider';
import { scrub } from '../redact';
import { sleep } from '../sleep';
import { apiHint, describe, failedMessage, humanDuration } from './messages';
import type { Aftermath } from './messages';
import type { Resolved } from './options';
import { findOrphanedSecret } from './orphan';
import type { Run, RotationError, RotationReason } from './report';
import type { ClientSecretInfo, SecretsClient, SecretsClientInternals } from './secrets-types';

// The steps of a rotation that can go wrong in more than one way: a failed add, verify, rollback, delete-old.

const abortedRotation = (): ImsTokenError => new ImsTokenError('IMS_ABORTED', 'The rotation was cancelled by its AbortSignal.');

export function asIms(err: unknown, fallback: string): ImsTokenError {
  return ImsTokenError.is(err) ? err : new ImsTokenError('IMS_NETWORK', fallback, { cause: err });
}

export function detailsOf(e: ImsTokenError): ImsTokenErrorDetails {
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
export function sanitize(err: unknown, secrets: readonly string[]): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const copy = new Error(scrub(e.message, secrets));
  copy.name = scrub(e.name, secrets);
  if (e.stack) copy.stack = scrub(e.stack, secrets);
  return copy;
}

/** Whether a failed add may nevertheless have created a secret (its answer was lost or unreadable). */
function outcomeUnknown(e: ImsTokenError): boolean {
  switch (e.code) {
    case 'IMS_TIMEOUT':
    case 'IMS_SERVER_ERROR':
    case 'IMS_ABORTED':
      return true;
    case 'IMS_NETWORK':
      return !wasNotSent(e);
    case 'IMS_BAD_RESPONSE':
      return e.status === undefined || (e.status >= 200 && e.status < 300);
    default:
      return false;
  }
}

/** The error of a failed add; after an unknown outcome, first deletes the one secret the add created, if any. */
export async function failedAdd(
  client: SecretsClient,
  run: Run,
  o: Resolved,
  e: ImsTokenError,
  before: readonly ClientSecretInfo[],
  sentAt: number,
  answeredAt: number,
): Promise<RotationError> {
  if (!outcomeUnknown(e)) {
    const reason: RotationReason = e.code === 'IMS_SECRET_LIMIT' ? 'secret-limit' : 'add-failed';
    const why =
      reason === 'secret-limit'
        ? `Could not add a client secret: a second secret appeared since the list (another rotation, or someone in Developer Console), so nothing was created and nothing is deleted (${e.code}): ${e.message}`
        : `Could not add a client secret; nothing was created (${e.code}): ${e.message}`;
    run.step('add', 'failed', why, { reason });
    return run.error(e.code, why, reason, {
      ...detailsOf(e),
      ...(reason === 'secret-limit' ? { hint: apiHint(reason, undefined, o.minIdleMs) } : {}),
    });
  }
  run.step('add', 'failed', `The add's outcome is unknown (${e.code}): a secret may have been created. ${e.message}`, {
    reason: 'add-outcome-unknown',
  });
  let listed: ClientSecretInfo[];
  try {
    listed = await client.listClientSecrets();
  } catch (err) {
    const l = asIms(err, 'Listing failed.');
    const message = `Secret rotation failed at add: its outcome is unknown (${e.code}) and listing the secrets to find out failed too (${l.code}).`;
    return run.error('IMS_ROTATION_FAILED', message, 'add-outcome-unknown', {
      ...detailsOf(e),
      hint: apiHint('add-outcome-unknown', undefined, o.minIdleMs),
    });
  }
  const { orphan, strangers } = findOrphanedSecret(
    listed,
    before.map((s) => s.uuid),
    { sentAt, answeredAt },
  );
  if (orphan) {
    run.newSecretUuid = orphan.uuid;
    const after = await rollback(
      client,
      run,
      orphan.uuid,
      'the secret the failed add created (its value never arrived)',
      (s) => s.lastUsedAt === undefined,
    );
    return run.error(
      'IMS_ROTATION_FAILED',
      failedMessage('add', `its answer was lost (${e.code})`, orphan.uuid, after),
      after === 'undone' ? 'add-outcome-unknown' : 'rollback-failed',
      { ...detailsOf(e), hint: apiHint(after === 'undone' ? 'aborted' : 'rollback-failed', orphan.uuid, o.minIdleMs) },
    );
  }
  const now = answeredAt;
  if (strangers.length > 0) {
    const s = strangers[0]!;
    const detail = `Not deleting ${strangers.map((x) => describe(x, now)).join('; ')}: it appeared during the add, but it ${
      s.lastUsedAt !== undefined ? 'has been used' : 'was not created within that request'
    }, so it is not known to be this run's.`;
    run.step('rollback', 'skipped', detail, { reason: 'orphan-kept', uuid: s.uuid });
    return run.error('IMS_ROTATION_FAILED', `Secret rotation failed at add: its outcome is unknown (${e.code}). ${detail}`, 'orphan-kept', {
      ...detailsOf(e),
      hint: apiHint('orphan-kept', s.uuid, o.minIdleMs),
    });
  }
  run.step('rollback', 'done', 'No new secret is listed: the add created nothing, so there is nothing to undo.');
  return run.error(
    e.code,
    `${e.message} The add's answer was lost, but no new secret is listed: nothing was created.`,
    'add-outcome-unknown',
    detailsOf(e),
  );
}

type Verified = { ok: true; tries: number } | { ok: false; tries: number; error: ImsTokenError };

/** Mints a token with the new secret; retries while it activates (`invalid_client`) or IMS fails. */
export async function verify(secret: string, int: SecretsClientInternals, o: Resolved): Promise<Verified> {
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

/**
 * Deletes a secret this run created (never the only one), after listing again: `mayDelete` must still hold for
 * what is listed now. Runs even when the rotation's signal fired: undoing must not be cancelled.
 */
export async function rollback(
  client: SecretsClient,
  run: Run,
  uuid: string,
  what: string,
  mayDelete: (s: ClientSecretInfo) => boolean,
): Promise<Aftermath> {
  const What = `${what[0]!.toUpperCase()}${what.slice(1)}`;
  try {
    const list = await client.listClientSecrets();
    const target = list.find((s) => s.uuid === uuid);
    if (!target) {
      run.step('rollback', 'done', `${What} ${uuid} is already gone.`, { uuid });
      return 'undone';
    }
    if (list.length < 2) {
      run.step('rollback', 'failed', `Not deleting ${what} ${uuid}: it is the only secret left.`, { reason: 'only-secret', uuid });
      return 'not-undone';
    }
    if (!mayDelete(target)) {
      run.step('rollback', 'skipped', `Not deleting ${what} ${uuid}: it has been used meanwhile, so it is not known to be this run's.`, {
        reason: 'orphan-kept',
        uuid,
      });
      return 'kept';
    }
    await client.deleteClientSecret(uuid);
    run.step('rollback', 'done', `Deleted ${what} ${uuid} again; the credential is back to its previous secret.`, { uuid });
    return 'undone';
  } catch (err) {
    const e = asIms(err, 'Rollback failed.');
    run.step('rollback', 'failed', `Could not delete ${what} ${uuid} (${e.code}): it must be deleted by hand.`, {
      reason: 'rollback-failed',
      uuid,
    });
    return 'not-undone';
  }
}

/** The `delete-old` step, after listing again. Never throws: failures are reported. */
export async function deleteOld(
  client: SecretsClient,
  run: Run,
  o: Resolved,
  oldUuid: string,
  newUuid: string,
  now: () => number,
): Promise<void> {
  if (!o.deleteOld) {
    run.step('delete-old', 'skipped', `Deleting the old secret was not asked for: ${oldUuid} stays until every service uses ${newUuid}.`, {
      reason: 'delete-not-requested',
      uuid: oldUuid,
    });
    return;
  }
  if (o.signal?.aborted) {
    run.step('delete-old', 'skipped', `Cancelled: the old secret ${oldUuid} stays.`, { reason: 'aborted', uuid: oldUuid });
    return;
  }
  let list: readonly ClientSecretInfo[];
  try {
    list = await client.listClientSecrets(o.signal ? { signal: o.signal } : undefined);
  } catch (err) {
    const e = asIms(err, 'Listing failed.');
    run.step('delete-old', 'failed', `Could not list the secrets before deleting the old one (${e.code}): ${oldUuid} stays.`, {
      reason: 'list-failed',
      uuid: oldUuid,
    });
    return;
  }
  const old = list.find((s) => s.uuid === oldUuid);
  if (!old) {
    run.step('delete-old', 'skipped', `The old secret ${oldUuid} is already gone.`, { reason: 'already-gone', uuid: oldUuid });
    return;
  }
  if (!list.some((s) => s.uuid === newUuid)) {
    run.step(
      'delete-old',
      'failed',
      `The new secret ${newUuid} is not listed any more: not deleting ${oldUuid}, which may be the only working secret.`,
      {
        reason: 'new-secret-missing',
        uuid: oldUuid,
      },
    );
    return;
  }
  const t = now();
  const idleMs = old.lastUsedAt === undefined ? Infinity : Math.max(0, t - old.lastUsedAt);
  const idle = idleMs >= o.minIdleMs;
  const why = old.lastUsedAt === undefined ? 'never used' : `last used ${humanDuration(t - old.lastUsedAt)} ago`;
  if (!idle && !o.force) {
    run.step(
      'delete-old',
      'skipped',
      `Kept the old secret ${oldUuid}: ${why}; it is deleted only after ${humanDuration(o.minIdleMs)} without use, because a service that used it may still hold only it.`,
      { reason: 'not-idle', uuid: oldUuid, retryAt: old.lastUsedAt! + o.minIdleMs },
    );
    return;
  }
  if (o.dryRun) {
    run.step('delete-old', 'planned', `Would delete the old secret ${oldUuid} (${why}${idle ? '' : '; forced'}).`, { uuid: oldUuid });
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
        `Could not delete the old secret ${oldUuid} (${e.code}): ${e.message} The new secret ${newUuid} is in place.`,
        {
          reason: 'delete-failed',
          uuid: oldUuid,
        },
      );
      return;
    }
  }
  run.deletedOld = true;
  run.step(
    'delete-old',
    'done',
    `Deleted the old secret ${oldUuid} (${why}${idle ? '' : '; forced although it was used recently: a service that still holds only it fails at its next mint'}). Tokens minted with it keep working until they expire.`,
    { uuid: oldUuid },
  );
}

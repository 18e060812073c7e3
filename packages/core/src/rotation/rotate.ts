import { ImsTokenError, configError } from '../errors';
import { apiHint, describe, failedMessage, humanDuration, iso, limitFacts } from './messages';
import type { Aftermath } from './messages';
import { DEFAULT_MIN_IDLE_MS, resolveRotationOptions } from './options';
import type { Resolved, RotateClientSecretOptions } from './options';
import { Run } from './report';
import type { RotationError, RotationReason, RotationReport, RotationStepName } from './report';
import { createSecretsClient, internalsOf } from './secrets-client';
import type { ClientSecretInfo, NewClientSecret, SecretsClient, SecretsClientInternals, SecretsClientOptions } from './secrets-types';
import { asIms, deleteOld, detailsOf, failedAdd, rollback, sanitize, verify } from './steps';

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
 *    shows it idle for `minIdleMs` (default 25 h: a token lifetime plus the refresh window), or with `force`.
 *
 * It never deletes a secret it did not create: a refused add deletes nothing; after an add of unknown outcome
 * (timeout, reset, 5xx) it deletes only a secret created within that request's window and never used, and reports
 * any other. The secrets are listed again before every deletion. If `verify` or `persist` fails, the new secret is
 * deleted again (`rollback`) and a {@link RotationError} with code `IMS_ROTATION_FAILED` is thrown; every step has a
 * machine-readable `reason` when it failed or was skipped. After `persist` succeeded nothing throws: a failed
 * `delete-old` is reported with `ok: false`. Secret values appear only in the `persist` call.
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
 * for (const s of report.steps) console.log(s.name, s.status, s.reason ?? '', s.detail)
 * ```
 * @see https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation#rotating-client-secrets-programmatically
 */
export async function rotateClientSecret(options: RotateClientSecretOptions): Promise<RotationReport> {
  const o = resolveRotationOptions(options);
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
    return await rotate(client, internalsOf(client), o);
  } finally {
    if (owned) await client.close();
  }
}

async function rotate(client: SecretsClient, int: SecretsClientInternals, o: Resolved): Promise<RotationReport> {
  const run = new Run(o.dryRun, o.onStep, int.logger);
  const signal = o.signal;
  const now = int.clock;
  const callOpts = signal ? { signal } : undefined;

  /** Stops the run before anything was changed: the cause's own code. */
  const stop = (err: unknown, step: RotationStepName, what: string, reason: RotationReason): RotationError => {
    const e = asIms(err, `${what}.`);
    run.step(step, 'failed', `${what} (${e.code}): ${e.message}`, { reason });
    return run.error(e.code, e.message, reason, detailsOf(e));
  };
  const aborted = (step: RotationStepName): RotationError => {
    const e = new ImsTokenError('IMS_ABORTED', `The rotation was cancelled before the ${step} step; nothing was changed.`);
    run.step(step, 'skipped', 'Cancelled before this step; nothing was changed.', { reason: 'aborted' });
    return run.error('IMS_ABORTED', e.message, 'aborted', { cause: e, hint: apiHint('aborted', undefined, o.minIdleMs) });
  };

  if (o.deleteOld && !o.dryRun && o.minIdleMs < DEFAULT_MIN_IDLE_MS) {
    int.logger.warn(
      { minIdleMs: o.minIdleMs },
      `ims-token rotation: minIdleMs (${humanDuration(o.minIdleMs)}) is shorter than a token lifetime plus the refresh window (${humanDuration(DEFAULT_MIN_IDLE_MS)}): ` +
        `a service that minted with the old secret within that time and still holds only the old secret keeps working until its token runs out, then fails at its next mint.`,
    );
  }

  // 1. token
  if (signal?.aborted) throw aborted('token');
  try {
    await int.mint(signal);
  } catch (err) {
    throw stop(err, 'token', 'Could not mint an I/O Management API token with the current secret', 'mint-failed');
  }
  run.step('token', 'done', `Minted an I/O Management API token with the current secret of client id ${int.clientId}.`);

  // 2. list (+ which secret is ours)
  if (signal?.aborted) throw aborted('list');
  let list: ClientSecretInfo[];
  let current: ClientSecretInfo | undefined;
  try {
    ({ secrets: list, current } = await client.findCurrentClientSecret(callOpts));
  } catch (err) {
    throw stop(err, 'list', 'Could not list the client secrets', 'list-failed');
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
      'no-secrets',
    );
  }
  if (list.length >= 2) {
    const newest = list[list.length - 1]!;
    const older = list.length === 2 ? list[0]! : undefined;
    const finishing = current !== undefined && older !== undefined && current.uuid === newest.uuid && newest.createdAt > older.createdAt;
    if (!finishing || !o.deleteOld) {
      const f = limitFacts(client.credentialId, list, current, finishing, t);
      run.step('check-limit', 'failed', f.message, { reason: f.reason, ...(f.uuid ? { uuid: f.uuid } : {}) });
      throw run.error('IMS_SECRET_LIMIT', f.message, f.reason, { hint: apiHint(f.reason, f.uuid, o.minIdleMs) });
    }
    run.mode = 'finish';
    run.newSecretUuid = newest.uuid;
    run.oldSecretUuid = older!.uuid;
    run.step(
      'check-limit',
      'done',
      `2 secrets, and this process already authenticates with the newer one, ${newest.uuid}: an earlier rotation added and stored it. Finishing that rotation: the older secret ${older!.uuid} is deleted once idle.`,
      { reason: 'finish-pending', uuid: older!.uuid },
    );
    const earlier = `Already done by an earlier rotation: this process authenticates with ${newest.uuid}.`;
    run.step('add', 'skipped', earlier, { uuid: newest.uuid });
    run.step('verify', 'skipped', `${earlier} It just minted a token.`, { uuid: newest.uuid });
    run.step('persist', 'skipped', earlier, { uuid: newest.uuid });
    await deleteOld(client, run, o, older!.uuid, newest.uuid, now);
    return run.report();
  }
  const old = list[0]!;
  run.oldSecretUuid = old.uuid;
  run.step('check-limit', 'done', `1 of the 2 secrets Adobe allows exists (${old.uuid}): room to add one.`, { uuid: old.uuid });

  if (o.dryRun) {
    run.step('add', 'planned', `Would add a second client secret to credential ${client.credentialId}.`);
    run.step(
      'verify',
      'planned',
      `Would mint a token for ${o.scopes.join(',')} with the new secret (up to ${o.verifyAttempts} tries while it activates); on failure, would delete it again.`,
    );
    run.step('persist', 'planned', 'Would store the new secret; on failure, would delete it again.');
    if (o.deleteOld) {
      run.step(
        'delete-old',
        'planned',
        `Would delete the old secret ${old.uuid} after storing the new one${o.force ? ', even if it was used recently (forced)' : `, if by then it has been idle for ${humanDuration(o.minIdleMs)}; this run's own token counts as a use`}.`,
        { uuid: old.uuid },
      );
    } else {
      run.step('delete-old', 'skipped', `Deleting the old secret was not asked for: ${old.uuid} would stay.`, {
        reason: 'delete-not-requested',
        uuid: old.uuid,
      });
    }
    return run.report();
  }

  // 4. add
  if (signal?.aborted) throw aborted('add');
  const sentAt = now();
  let added: NewClientSecret;
  try {
    added = await client.addClientSecret(callOpts);
  } catch (err) {
    throw await failedAdd(client, run, o, asIms(err, 'Could not add a client secret.'), list, sentAt, now());
  }
  run.newSecretUuid = added.uuid;
  run.step('add', 'done', `Added secret ${added.uuid} (created ${iso(added.createdAt)}).`, { uuid: added.uuid });

  // 5. verify
  const verified = await verify(added.clientSecret, int, o);
  if (!verified.ok) {
    const e = verified.error;
    const cancelled = e.code === 'IMS_ABORTED' || o.signal?.aborted === true;
    run.step(
      'verify',
      'failed',
      `The new secret ${added.uuid} did not mint a token for ${o.scopes.join(',')} in ${verified.tries} tr${verified.tries === 1 ? 'y' : 'ies'} (${e.code}): ${e.message}`,
      { reason: cancelled ? 'aborted' : 'verify-failed', uuid: added.uuid },
    );
    const after = await rollback(client, run, added.uuid, 'the new secret', () => true);
    if (cancelled) {
      // Cancelled, not failed: the secret may well have been fine.
      throw run.error('IMS_ABORTED', failedMessage('verify', undefined, added.uuid, after), 'aborted', {
        ...detailsOf(e),
        hint:
          after === 'undone'
            ? 'Nothing changed at Adobe: run the rotation again when ready.'
            : apiHint('rollback-failed', added.uuid, o.minIdleMs),
      });
    }
    throw run.error(
      'IMS_ROTATION_FAILED',
      failedMessage('verify', `the new secret did not work (${e.code})`, added.uuid, after),
      after === 'undone' ? 'verify-failed' : 'rollback-failed',
      { ...detailsOf(e), ...(after === 'undone' ? {} : { hint: apiHint('rollback-failed', added.uuid, o.minIdleMs) }) },
    );
  }
  run.step(
    'verify',
    'done',
    `The new secret ${added.uuid} minted a token for ${o.scopes.join(',')} (try ${verified.tries} of ${o.verifyAttempts}).`,
    {
      uuid: added.uuid,
    },
  );

  // 6. persist
  try {
    if (signal?.aborted) throw new ImsTokenError('IMS_ABORTED', 'The rotation was cancelled before persist.');
    await o.persist!(added.clientSecret, Object.freeze({ uuid: added.uuid, createdAt: added.createdAt, oldSecretUuid: old.uuid, signal }));
  } catch (err) {
    const keep = typeof err === 'object' && err !== null && (err as { keepNewSecret?: unknown }).keepNewSecret === true;
    const cause = ImsTokenError.is(err) && err.code === 'IMS_ABORTED' ? err : sanitize(err, [added.clientSecret]);
    const said = `${cause.name}: ${cause.message}`.replace(/\s+/g, ' ').slice(0, 300);
    run.step('persist', 'failed', `The new secret ${added.uuid} was not stored (${said}).`, { reason: 'persist-failed', uuid: added.uuid });
    let after: Aftermath = 'kept';
    if (keep) {
      run.step(
        'rollback',
        'skipped',
        `Kept the new secret ${added.uuid}: storing it failed part-way and could not be undone, so it may be in use.`,
        {
          reason: 'new-secret-kept',
          uuid: added.uuid,
        },
      );
    } else {
      after = await rollback(client, run, added.uuid, 'the new secret', () => true);
    }
    const reason: RotationReason = after === 'undone' ? 'persist-failed' : after === 'kept' ? 'new-secret-kept' : 'rollback-failed';
    throw run.error('IMS_ROTATION_FAILED', failedMessage('persist', `storing the new secret failed (${said})`, added.uuid, after), reason, {
      cause,
      ...(after === 'undone' ? {} : { hint: apiHint(reason, added.uuid, o.minIdleMs) }),
    });
  }
  run.step('persist', 'done', `Stored the new secret ${added.uuid}; services switch to it as they reload it.`, { uuid: added.uuid });

  // 7. delete-old (never throws from here on: the new secret is in place)
  await deleteOld(client, run, o, old.uuid, added.uuid, now);
  return run.report();
}

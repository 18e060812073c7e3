import { randomBytes } from 'node:crypto';
import { findOrphanedSecret } from '@ims-token/core';
import type { ClientSecretInfo, RotationStep, SecretsClient } from '@ims-token/core';
import type { Context } from '../../context';
import type { RotationLock, StaleRecord } from './lock';
import { secretHash, targetHolds } from './targets';
import type { FileTarget } from './targets';
import { when } from './shared';

// The record a rotation keeps in its lock file: what it has done so far, in uuids and a salted hash of the
// new secret (never a secret). If the run dies, the next run finds the lock stale, reads this record, and
// finishes (the new secret is stored) or undoes (deletes the new secret it never stored) what was left.

/** Where a rotation got to. `clean`/`done`: nothing left to recover. */
export type JournalStep =
  | 'locked'
  | 'token'
  | 'list'
  | 'check-limit'
  | 'add'
  | 'verify'
  | 'persisting'
  | 'persisted'
  | 'finishing'
  | 'deleted-old'
  | 'clean'
  | 'done';

/** The longest an add can take before its answer is given up on (timeout and margin), for the orphan search. */
const ADD_WINDOW_MS = 15_000;

const SETTLED: ReadonlySet<string> = new Set<JournalStep>(['locked', 'token', 'list', 'clean', 'done']);

/** The record of this run, kept up to date in its lock file (synchronously, before the next step starts). */
export class Journal {
  readonly #lock: RotationLock;
  #step: JournalStep = 'locked';

  constructor(lock: RotationLock, base: { clientId: string; orgId: string; credentialId: string; targets: readonly string[] }) {
    this.#lock = lock;
    lock.update({ v: 1, command: 'secrets rotate', ...base, step: this.#step });
  }

  get step(): JournalStep {
    return this.#step;
  }

  /** Whether the run left nothing that a later run would have to finish or undo. */
  get settled(): boolean {
    return SETTLED.has(this.#step);
  }

  set(step: JournalStep, patch: Record<string, unknown> = {}): void {
    this.#step = step;
    this.#lock.update({ ...patch, step });
  }

  /** Follows core's steps (called from `onStep`, so each update is on disk before the next step starts). */
  onStep(s: RotationStep): void {
    if (s.status === 'planned') return;
    const failed = s.status === 'failed';
    switch (s.name) {
      case 'token':
      case 'list':
        if (!failed) this.set(s.name);
        return;
      case 'check-limit':
        if (failed) this.set('clean');
        else if (s.uuid !== undefined) this.set('check-limit', { oldUuid: s.uuid, addSentAt: Date.now() });
        return;
      case 'add':
        if (s.status === 'skipped') this.set('finishing', { newUuid: s.uuid });
        else if (!failed) this.set('add', { newUuid: s.uuid });
        else if (s.reason !== 'add-outcome-unknown') this.set('clean');
        return;
      case 'verify':
        if (s.status === 'done') this.set('verify');
        return;
      case 'rollback':
        if (s.status === 'done' || s.reason === 'orphan-kept') this.set('clean');
        return;
      case 'delete-old':
        if (s.status === 'done') this.set('deleted-old');
        return;
      default:
    }
  }

  /** Before the new secret is written: a salted hash, so a later run can tell whether a target holds it. */
  persisting(secret: string): void {
    const salt = randomBytes(16).toString('hex');
    this.set('persisting', { salt, newHash: secretHash(salt, secret) });
  }
}

/** What a recovery found and did. */
export interface Recovered {
  readonly outcome: 'nothing' | 'undone' | 'finished' | 'kept';
  readonly newUuid?: string;
  readonly oldUuid?: string;
  /** `finished`: whether the old secret is still listed. */
  readonly oldListed?: boolean;
}

function holderOf(rec: StaleRecord): string {
  const o = rec.owner ?? {};
  return `an interrupted rotation (pid ${o.pid ?? '?'}${typeof o.since === 'number' ? `, started ${when(o.since)}` : ''})`;
}

/** Deletes `uuid` after listing again, only when `ok` holds for it and it is not the only secret. */
async function deleteIf(client: SecretsClient, uuid: string, ok: (s: ClientSecretInfo) => boolean): Promise<'deleted' | 'gone' | 'kept'> {
  const list = await client.listClientSecrets();
  const s = list.find((x) => x.uuid === uuid);
  if (!s) return 'gone';
  if (list.length < 2 || !ok(s)) return 'kept';
  await client.deleteClientSecret(uuid);
  return 'deleted';
}

/**
 * Finishes or undoes what the dead run of `rec` left, and says which on stderr. Stored new secret (a target holds
 * it): finished. New secret never stored: deleted again (undone). An add that may have created a secret: only a
 * secret created in that add's window and never used is deleted.
 */
export async function recover(ctx: Context, client: SecretsClient, rec: StaleRecord, targets: readonly FileTarget[]): Promise<Recovered> {
  const who = holderOf(rec);
  const step = rec.step as JournalStep | undefined;
  const newUuid = typeof rec.newUuid === 'string' ? rec.newUuid : undefined;
  const oldUuid = typeof rec.oldUuid === 'string' ? rec.oldUuid : undefined;
  const say = (text: string): void => ctx.note(`ims-token: ${text}`);
  if (rec.clientId !== client.clientId || rec.credentialId !== client.credentialId) {
    say(`${who} of another credential (client id ${String(rec.clientId)}) left its lock here at step ${String(step)}; it was not touched.`);
    return { outcome: 'nothing' };
  }
  const undo = async (uuid: string, ok: (s: ClientSecretInfo) => boolean): Promise<Recovered> => {
    const r = await deleteIf(client, uuid, ok);
    if (r === 'kept') {
      say(
        `${who} left the new secret ${uuid} behind, and it is in use (or the only secret): kept. Delete it with \`ims-token secrets delete ${uuid}\` if no service uses it.`,
      );
      return { outcome: 'kept', newUuid: uuid };
    }
    say(
      `${who} added the new secret ${uuid} and never stored it: undone: ${r === 'deleted' ? `deleted the new secret ${uuid}` : `the new secret ${uuid} is already gone`}, which was never stored.`,
    );
    return { outcome: 'undone', newUuid: uuid };
  };
  switch (step) {
    case 'check-limit': {
      const sentAt = typeof rec.addSentAt === 'number' ? rec.addSentAt : 0;
      const { orphan, strangers } = findOrphanedSecret(await client.listClientSecrets(), oldUuid ? [oldUuid] : [], {
        sentAt,
        answeredAt: sentAt + ADD_WINDOW_MS,
      });
      if (orphan) return undo(orphan.uuid, (s) => s.lastUsedAt === undefined);
      if (strangers.length > 0) {
        say(
          `${who} may have been adding a secret; ${strangers.map((s) => s.uuid).join(', ')} appeared but is used or was not created by it: kept.`,
        );
        return { outcome: 'kept' };
      }
      break;
    }
    case 'add':
    case 'verify':
      if (newUuid) return undo(newUuid, () => true);
      break;
    case 'persisting':
    case 'persisted':
    case 'finishing':
    case 'deleted-old': {
      if (!newUuid) break;
      const hash = typeof rec.newHash === 'string' ? rec.newHash : undefined;
      const salt = typeof rec.salt === 'string' ? rec.salt : undefined;
      const holding: string[] = [];
      for (const t of targets) if (hash && salt && (await targetHolds(t, salt, hash))) holding.push(t.info.given);
      const stdoutOnly = targets.length === 0;
      if (step === 'persisting' && holding.length === 0 && !stdoutOnly) return undo(newUuid, () => true);
      if (step === 'persisting' && stdoutOnly) {
        say(
          `${who} was printing the new secret ${newUuid} on stdout when it stopped; it may have been stored: kept. Delete it with \`ims-token secrets delete ${newUuid}\` if it was not.`,
        );
        return { outcome: 'kept', newUuid };
      }
      const listed = (await client.listClientSecrets()).map((s) => s.uuid);
      const where = holding.length > 0 ? holding.join(' and ') : 'the target';
      say(`${who} had stored its new secret: finished: ${where} holds the new secret ${newUuid}.`);
      return {
        outcome: 'finished',
        newUuid,
        ...(oldUuid ? { oldUuid } : {}),
        oldListed: oldUuid !== undefined && listed.includes(oldUuid),
      };
    }
    default:
  }
  say(`${who} was interrupted before it changed anything; nothing to undo.`);
  return { outcome: 'nothing' };
}

import type { RotationReason, RotationStepName } from './report';
import type { ClientSecretInfo } from './secrets-types';

// The sentences of a rotation. Details state facts (uuids, times, what was done or undone) and never name an
// option: advice lives in error hints (in terms of the API) and in callers that map `reason` to their own words.

export const iso = (ms: number): string => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
};

/** "3 s", "20 min", "2.5 h", "4 d". */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 48 * 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

export function usage(s: ClientSecretInfo, now: number): string {
  return s.lastUsedAt === undefined ? 'never used' : `last used ${iso(s.lastUsedAt)}, ${humanDuration(now - s.lastUsedAt)} ago`;
}

export function describe(s: ClientSecretInfo, now: number): string {
  return `${s.uuid} (created ${iso(s.createdAt)}, ${usage(s, now)})`;
}

/** What a failed rotation left behind, for its message. */
export type Aftermath = 'undone' | 'kept' | 'not-undone';

export function failedMessage(step: RotationStepName, why: string | undefined, uuid: string, after: Aftermath): string {
  const head = why === undefined ? `Secret rotation cancelled during ${step}.` : `Secret rotation failed at ${step}: ${why}.`;
  const tail =
    after === 'undone'
      ? `The new secret ${uuid} was deleted again; the credential and the current secret are as before.`
      : after === 'kept'
        ? `It kept the new secret ${uuid}, which may already be stored; the old secret was not touched.`
        : `The new secret ${uuid} could NOT be deleted again and must be deleted by hand before rotating again.`;
  return `${head} ${tail}`;
}

/** Why the 2-secret limit stops this run, which secret to delete, and the reason for programs. */
export function limitFacts(
  credentialId: string,
  list: readonly ClientSecretInfo[],
  current: ClientSecretInfo | undefined,
  finishing: boolean,
  now: number,
): { message: string; reason: RotationReason; uuid: string | undefined } {
  const parts = list.map((s) => `${describe(s, now)}${current?.uuid === s.uuid ? ' — this process authenticates with it' : ''}`);
  const head = `Cannot add a client secret: credential ${credentialId} already has ${list.length} secrets, the most Adobe allows. Secrets: ${parts.join('; ')}.`;
  const other = current ? list.find((s) => s.uuid !== current.uuid) : undefined;
  if (current && other && finishing) {
    return {
      message: `${head} An earlier rotation added and stored ${current.uuid} (the newer secret, which this process already authenticates with); the older ${other.uuid} is left over.`,
      reason: 'finish-pending',
      uuid: other.uuid,
    };
  }
  if (current && other && list.length === 2) {
    const why =
      other.lastUsedAt === undefined
        ? ' and was never used: it looks like a secret added by an interrupted rotation and never stored.'
        : `; it was last used ${humanDuration(now - other.lastUsedAt)} ago, so a service may still use it.`;
    return {
      message: `${head} ${other.uuid} is not the secret this process authenticates with${why}`,
      reason: 'secret-limit',
      uuid: other.uuid,
    };
  }
  const never = list.filter((s) => s.lastUsedAt === undefined && s.uuid !== current?.uuid);
  const candidates = list.filter((s) => s.uuid !== current?.uuid);
  const pick =
    never.length === 1 ? never[0]! : [...candidates].sort((a, b) => (a.lastUsedAt ?? -Infinity) - (b.lastUsedAt ?? -Infinity))[0]!;
  const unsure = current ? '' : 'Could not tell which secret this process authenticates with (last_used_at did not single one out). ';
  return {
    message: `${head} ${unsure}${pick.uuid} looks unused (${pick.lastUsedAt === undefined ? 'never used' : `least recently used: ${usage(pick, now)}`}).`,
    reason: 'secret-limit',
    uuid: pick.uuid,
  };
}

/** The fix for a person using the API, per reason (the CLI says it in terms of its flags instead). */
export function apiHint(reason: RotationReason, uuid: string | undefined, minIdleMs: number): string | undefined {
  const id = uuid ?? '<uuid>';
  switch (reason) {
    case 'secret-limit':
      return `If no service uses ${id}, delete it (client.deleteClientSecret('${id}')), then rotate again.`;
    case 'finish-pending':
      return `Rerun with deleteOld: true to finish that rotation: it deletes ${id} once it has been idle for ${humanDuration(minIdleMs)}.`;
    case 'orphan-kept':
    case 'add-outcome-unknown':
      return `List the secrets (listClientSecrets) and, if ${id} is not one a service uses, delete it before rotating again.`;
    case 'rollback-failed':
      return `Delete ${id} by hand (client.deleteClientSecret('${id}')) before rotating again; the current secret still works.`;
    case 'new-secret-kept':
      return `Check where persist stores the secret: finish storing ${id} there, or delete it (client.deleteClientSecret('${id}')).`;
    case 'aborted':
      return 'Run the rotation again when ready.';
    default:
      return undefined;
  }
}

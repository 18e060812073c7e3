import type { ClientSecretInfo } from './secrets-types';

/** Clock difference allowed between this host and the I/O Management API when matching `created_at` to an add. */
export const ORPHAN_SKEW_MS = 30_000;

/** What {@link findOrphanedSecret} found. */
export interface OrphanSearch {
  /** The secret the add created, when exactly one secret qualifies. Safe to delete: nobody has used it. */
  readonly orphan: ClientSecretInfo | undefined;
  /** Secrets that appeared but do not qualify (used, created outside the window, or more than one): never delete them. */
  readonly strangers: readonly ClientSecretInfo[];
}

/**
 * After an add whose outcome is unknown (timeout, reset, 5xx), finds the secret it may have created: listed
 * now, not among `knownUuids` (the list before the add), created within `[sentAt, answeredAt]` (± 30 s of
 * clock difference) and never used. Any other new secret — used, or created outside that window — belongs to
 * someone else (another rotation, a person in Developer Console) and is returned in `strangers`, never as
 * the orphan. Used by {@link rotateClientSecret} and by callers that recover an interrupted rotation.
 *
 * @example
 * ```ts
 * const { orphan } = findOrphanedSecret(await client.listClientSecrets(), before.map((s) => s.uuid), { sentAt, answeredAt: Date.now() })
 * if (orphan) await client.deleteClientSecret(orphan.uuid)
 * ```
 */
export function findOrphanedSecret(
  listed: readonly ClientSecretInfo[],
  knownUuids: readonly string[],
  window: { sentAt: number; answeredAt: number },
): OrphanSearch {
  const appeared = listed.filter((s) => !knownUuids.includes(s.uuid));
  const fits = (s: ClientSecretInfo): boolean =>
    s.lastUsedAt === undefined && s.createdAt >= window.sentAt - ORPHAN_SKEW_MS && s.createdAt <= window.answeredAt + ORPHAN_SKEW_MS;
  const candidates = appeared.filter(fits);
  const orphan = candidates.length === 1 ? candidates[0] : undefined;
  return { orphan, strangers: appeared.filter((s) => s !== orphan) };
}

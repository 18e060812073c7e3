import { normalizeScopes } from '../config';
import { ImsTokenError, configError } from '../errors';
import type { RotationStep } from './report';
import { IO_MANAGEMENT_SCOPES } from './secrets-types';
import type { SecretsClient, SecretsClientOptions } from './secrets-types';

/**
 * How long the old secret must have been unused before {@link rotateClientSecret} deletes it, by default: a full
 * token lifetime (24 h) plus the refresh window (1 h). A service that minted with the old secret less than that ago
 * may still hold a token from it and mint with the old secret again when that token runs out; 25 h without any
 * use shows that no running service still depends on it.
 *
 * @example
 * ```ts
 * const retryAt = lastUsedAt + DEFAULT_MIN_IDLE_MS
 * ```
 */
export const DEFAULT_MIN_IDLE_MS = 25 * 3_600_000;

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
   * secret was verified; it counts as stored only when the returned promise resolves, so resolve only once the
   * storage confirmed the write. If it throws, the new secret is deleted again — unless the thrown error has
   * `keepNewSecret: true` (a partial write that could not be undone, so the new secret may be in use): then it is
   * kept and the report says so. Keep the old secret usable while services switch: e.g. write `new\nold` to an
   * `IMS_CLIENT_SECRET_FILE` (atomically), which the token provider re-reads.
   */
  persist: (newSecret: string, ctx: PersistContext) => Promise<void>;
  /** Scopes of the services' own token, used to verify that the new secret works. Default {@link IO_MANAGEMENT_SCOPES}. */
  scopes?: string | readonly string[];
  /** Delete the old secret after `persist`, if it has been idle for `minIdleMs` (or `force`). Default false. */
  deleteOld?: boolean;
  /**
   * How long the old secret must have been unused (its `last_used_at`) before it is deleted. Default
   * {@link DEFAULT_MIN_IDLE_MS} (25 h); a shorter time is obeyed with a warning in the log.
   */
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

/** The options, checked, with their defaults. */
export interface Resolved {
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

/** Checks the rotation options (`IMS_CONFIG` naming the field) and fills in the defaults. */
export function resolveRotationOptions(options: RotateClientSecretOptions): Resolved {
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

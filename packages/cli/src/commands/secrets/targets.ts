import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { ENV, parseSecretLines } from '@ims-token/core';
import { usageError } from '../../args';
import type { Context } from '../../context';
import type { CliWritable } from '../../io';
import { ChangedMeanwhileError, inspectFile, readNow, worldAccessWarning, writeFileAtomic } from '../../files/atomic';
import type { FileInfo } from '../../files/atomic';
import { editEnv, envValues } from '../../files/dotenv';

// Where `secrets rotate` stores the new secret: a secret file, a dotenv file, or stdout. Every write is
// confirmed (an fsynced rename, a write callback) before it counts; the files are read again just before
// writing, other edits are merged (dotenv) or stop the write (a changed secret); a failed write puts back
// what was already written, byte for byte, with its owner and mode.

/** A file target of the rotation. `info.bytes` is what it held when the rotation started. */
export interface FileTarget {
  readonly kind: 'secret-file' | 'env';
  readonly flag: '--write-secret-file' | '--write-env-file';
  readonly info: FileInfo;
}

/** The secret file's text: one secret per line, the one to use first. */
export function secretFileText(secrets: readonly string[]): Buffer {
  return Buffer.from(`${secrets.join('\n')}\n`);
}

/** Checks a target (and, for a dotenv file, that rotate can edit it) before anything changes at Adobe. */
export async function checkTarget(kind: FileTarget['kind'], path: string): Promise<FileTarget> {
  const flag = kind === 'env' ? '--write-env-file' : '--write-secret-file';
  const info = await inspectFile(path, flag, { mustExist: kind === 'env' });
  if (kind === 'env') {
    const file = envValues(info.bytes)[ENV.clientSecretFile]?.trim();
    if (file) {
      throw usageError(
        `${flag} ${path} sets IMS_CLIENT_SECRET_FILE: the services read their secret from that file, not from IMS_CLIENT_SECRET.`,
        `Pass --write-secret-file ${file.slice(0, 200)} instead.`,
      );
    }
    editEnv(info.bytes, { set: [[ENV.clientSecret, 'p8e-check']] }); // throws now, not after the add, on a value it cannot edit
  }
  return { kind, flag, info };
}

/** Notes for the user about a target: a link that is followed, world access that will be removed. */
export function targetNotes(ctx: Context, t: FileTarget): void {
  if (t.info.linked)
    ctx.note(`ims-token: ${t.info.given} is a symbolic link: updating ${t.info.path}, the file it points to (the link stays).`);
  const world = worldAccessWarning(t.info);
  if (world) ctx.note(`ims-token: ${ctx.err.yellow('warning')}: ${world}`);
}

const KEYS = [ENV.clientSecret, ENV.clientSecretNext] as const;

/** The new contents of a target, computed from what it holds now; throws when its secret was changed meanwhile. */
function nextBytes(t: FileTarget, now: Buffer | undefined, secret: string, current: string): Buffer {
  if (t.kind === 'secret-file') {
    const same = now === undefined ? t.info.bytes === undefined : t.info.bytes !== undefined && now.equals(t.info.bytes);
    if (!same)
      throw new ChangedMeanwhileError(`${t.info.given} changed while the rotation ran (another program wrote it); it was not overwritten.`);
    return secretFileText([secret, current]);
  }
  const was = envValues(t.info.bytes);
  const is = envValues(now);
  if (KEYS.some((k) => was[k] !== is[k])) {
    throw new ChangedMeanwhileError(
      `${t.info.given} changed while the rotation ran: its ${ENV.clientSecret} was changed by another program; it was not overwritten.`,
    );
  }
  const next = is[ENV.clientSecretNext] !== undefined;
  return editEnv(now, { set: [[ENV.clientSecret, secret], ...(next ? [[ENV.clientSecretNext, current] as const] : [])] });
}

/**
 * Writes the new secret (and the current one second, where there is room) to every target, or to none: after a
 * failed write the targets already written are put back. If putting one back fails too, the error has
 * `keepNewSecret: true` (that file holds the new secret, so it must not be deleted). Returns the paths written.
 */
export async function persistToFiles(targets: readonly FileTarget[], secret: string, current: string): Promise<string[]> {
  const written: Array<{ t: FileTarget; info: FileInfo; wrote: Buffer }> = [];
  try {
    for (const t of targets) {
      const now = await readNow(t.info.path);
      const info = now === undefined ? t.info : { ...(await inspectFile(t.info.given, t.flag, { mustExist: false })), bytes: now };
      const bytes = nextBytes(t, now, secret, current);
      await writeFileAtomic(info, bytes, { expect: now ?? null });
      written.push({ t, info, wrote: bytes });
    }
  } catch (err) {
    const failed: string[] = [];
    for (const w of written.reverse()) {
      try {
        if (w.info.bytes === undefined) await removeIfStill(w.info.path, w.wrote);
        else await writeFileAtomic(w.info, w.info.bytes, { mode: w.info.mode, expect: w.wrote });
      } catch {
        failed.push(w.info.given);
      }
    }
    if (failed.length > 0) {
      const message = `${(err as Error).message}; putting back ${failed.join(' and ')} failed too, so it holds the new secret`;
      throw Object.assign(new Error(message), { keepNewSecret: true });
    }
    throw err;
  }
  return written.map((w) => w.info.given);
}

async function removeIfStill(path: string, bytes: Buffer): Promise<void> {
  const now = await readNow(path);
  if (now?.equals(bytes)) await rm(path, { force: true });
}

/** Writes `text` to a stream and resolves only when the stream confirmed it (its write callback); rejects on EPIPE, ENOSPC … */
export function writeConfirmed(stream: CliWritable, text: string): Promise<void> {
  const s = stream as CliWritable & {
    on?: (e: string, f: (err: Error) => void) => unknown;
    write(chunk: string, cb?: (err?: Error | null) => void): unknown;
  };
  if (typeof s.on !== 'function') {
    s.write(text);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    s.on!('error', (err) => reject(err)); // stays: a later 'error' of this stream must not crash the run
    try {
      s.write(text, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err as Error);
    }
  });
}

/** After the old secret was deleted: the targets hold only `keep` (skipped, with a warning, where `keep` is not first). */
export async function tidyTargets(ctx: Context, targets: readonly FileTarget[], keep: string): Promise<string[]> {
  const tidied: string[] = [];
  for (const t of targets) {
    try {
      const now = await readNow(t.info.path);
      if (now === undefined) continue;
      const info = { ...(await inspectFile(t.info.given, t.flag, { mustExist: true })), bytes: now };
      let bytes: Buffer;
      if (t.kind === 'secret-file') {
        const lines = parseSecretLines(now.toString('utf8'));
        if (lines[0] !== keep) throw new ChangedMeanwhileError(`${t.info.given} no longer starts with the new secret`);
        if (lines.length === 1) continue;
        bytes = secretFileText([keep]);
      } else {
        const values = envValues(now);
        if (values[ENV.clientSecret] !== keep)
          throw new ChangedMeanwhileError(`${t.info.given} no longer holds the new secret in ${ENV.clientSecret}`);
        if (!values[ENV.clientSecretNext]) continue;
        bytes = editEnv(now, { set: [[ENV.clientSecretNext, '']] });
      }
      await writeFileAtomic(info, bytes, { expect: now });
      tidied.push(t.info.given);
    } catch (err) {
      ctx.note(
        `ims-token: ${ctx.err.yellow('warning')}: could not remove the deleted old secret from ${t.info.given}: ${(err as Error).message}`,
      );
    }
  }
  return tidied;
}

/** A salted hash of a secret: lets a later run tell whether a file holds it, without storing the secret. */
export function secretHash(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update('\0').update(secret).digest('hex');
}

/** Whether a target holds the secret with this hash now (first or second). */
export async function targetHolds(t: FileTarget, salt: string, hash: string): Promise<boolean> {
  const now = await readNow(t.info.path).catch(() => undefined);
  if (now === undefined) return false;
  const values =
    t.kind === 'secret-file'
      ? parseSecretLines(now.toString('utf8'))
      : [envValues(now)[ENV.clientSecret], envValues(now)[ENV.clientSecretNext]].filter((v): v is string => !!v);
  return values.some((v) => secretHash(salt, v) === hash);
}

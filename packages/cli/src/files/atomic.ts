import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, open, readFile, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../args';

// The one atomic writer of the CLI (`init`, `secrets rotate`). A file it replaces keeps its owner, group and
// mode (world access is removed); a symbolic link is followed and its target is updated, the link stays;
// the file is read again just before the rename, so an edit made meanwhile is never overwritten unseen.

/** A file the CLI is about to write, as it was when it was checked. */
export interface FileInfo {
  /** The path as the user gave it (for messages). */
  readonly given: string;
  /** The file actually written: the target of a symbolic link, resolved. */
  readonly path: string;
  /** Set when `given` is a symbolic link to `path`. */
  readonly linked: boolean;
  /** The contents, or `undefined` when the file does not exist yet. */
  readonly bytes: Buffer | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Permission bits (`& 0o7777`); 0o600 for a new file. */
  readonly mode: number;
}

const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'error';

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

/** The mode a replaced file gets: its own, without access for other users and without special bits. */
export function writeMode(info: FileInfo): number {
  return info.bytes === undefined ? 0o600 : info.mode & 0o770;
}

/** A warning when writing would remove access for other users, or `undefined`. */
export function worldAccessWarning(info: FileInfo): string | undefined {
  if (info.bytes === undefined || (info.mode & 0o007) === 0) return undefined;
  return `${info.given} was readable by every user (mode ${octal(info.mode)}); it is now ${octal(writeMode(info))}, because it holds a client secret.`;
}

/**
 * Checks a file before anything changes at Adobe: where a link points, that an existing one is a readable
 * regular file whose owner and group this process can keep, and that its directory is writable.
 * Throws a usage error (`IMS_CONFIG`) naming `flag`.
 */
export async function inspectFile(given: string, flag: string, { mustExist }: { mustExist: boolean }): Promise<FileInfo> {
  let path = given;
  let linked = false;
  try {
    path = await realpath(given);
    linked = (await lstat(given)).isSymbolicLink();
  } catch (err) {
    if (errno(err) !== 'ENOENT')
      throw usageError(`${flag} ${given} cannot be read (${errno(err)}).`, `Check the path and its permissions, or pass another ${flag}.`);
    const l = await lstat(given).catch(() => undefined);
    if (l?.isSymbolicLink()) {
      const to = resolve(dirname(given), await readlink(given));
      throw usageError(
        `${flag} ${given} is a symbolic link to ${to}, which does not exist.`,
        `Create ${to} first (the link stays as it is and the file it points to is updated), or pass the path of a regular file.`,
      );
    }
    if (mustExist)
      throw usageError(
        `${flag} ${given} does not exist.`,
        `${flag} updates an existing file; check the path (it is relative to the current directory).`,
      );
    try {
      path = join(await realpath(dirname(given)), basename(given));
    } catch (e) {
      throw usageError(`${flag} ${given}: its directory cannot be used (${errno(e)}).`, `Create the directory, or pass another ${flag}.`);
    }
  }
  let bytes: Buffer | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  let mode = 0o600;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: st.isDirectory() ? 'EISDIR' : 'ENOTFILE' });
    bytes = await readFile(path);
    ({ uid, gid } = st);
    mode = st.mode & 0o7777;
  } catch (err) {
    if (errno(err) !== 'ENOENT')
      throw usageError(`${flag} ${given} cannot be read (${errno(err)}).`, `Check the path and its permissions, or pass another ${flag}.`);
  }
  const me = process.getuid?.();
  if (bytes !== undefined && me !== undefined && me !== 0) {
    if (uid !== me) {
      throw usageError(
        `${flag} ${given} is owned by uid ${uid}; this process (uid ${me}) could not keep that owner when it replaces the file.`,
        'Run the command as the owner of the file (or as root), so that the services reading it keep their access.',
      );
    }
    if (gid !== process.getgid?.() && !(process.getgroups?.() ?? []).includes(gid!)) {
      throw usageError(
        `${flag} ${given} belongs to group ${gid}, which this process (uid ${me}) is not a member of: it could not keep that group.`,
        'Run the command as a member of that group (or as root), so that the services reading the file keep their access.',
      );
    }
  }
  try {
    await access(dirname(path), constants.W_OK);
  } catch (err) {
    throw usageError(
      `${flag} ${given}: its directory ${dirname(path)} is not writable (${errno(err)}).`,
      `Fix the directory's permissions, or pass another ${flag}.`,
    );
  }
  return { given, path, linked, bytes, uid, gid, mode };
}

/** The file was changed by someone else since it was read; nothing was written. */
export class ChangedMeanwhileError extends Error {
  override readonly name = 'ChangedMeanwhileError';
}

/** Reads the file as it is now (`undefined`: it does not exist). */
export async function readNow(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw new Error(`Cannot read ${path}: ${errno(err)}`);
  }
}

/**
 * Replaces `info.path` with `bytes`, atomically: a temp file in the same directory, given the original's owner
 * and group (fchown) and `mode` (fchmod), fsynced, then renamed over the original, then the directory is fsynced.
 * `expect`: the bytes the file must still hold right before the rename (`null`: it must not exist; `'any'`: no
 * check), else {@link ChangedMeanwhileError} and nothing is written.
 */
export async function writeFileAtomic(
  info: FileInfo,
  bytes: Buffer,
  { mode = writeMode(info), expect }: { mode?: number; expect: Buffer | null | 'any' },
): Promise<void> {
  const dir = dirname(info.path);
  const tmp = join(dir, `.${basename(info.path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fail = (err: unknown): Error => new Error(`Cannot write ${info.given}: ${errno(err)}`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o600);
  } catch (err) {
    throw fail(err);
  }
  try {
    await fh.writeFile(bytes);
    if (info.uid !== undefined && info.gid !== undefined && process.getuid !== undefined) {
      const st = await fh.stat();
      if (st.uid !== info.uid || st.gid !== info.gid) await fh.chown(info.uid, info.gid);
    }
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (expect !== 'any') {
      const now = await readNow(info.path);
      const same = expect === null ? now === undefined : now !== undefined && now.equals(expect);
      if (!same)
        throw new ChangedMeanwhileError(`${info.given} changed while the rotation ran (another program wrote it); it was not overwritten.`);
    }
    await rename(tmp, info.path);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err instanceof ChangedMeanwhileError ? err : fail(err);
  }
  try {
    const d = await open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // not every file system can fsync a directory; the rename is done
  }
}

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// A lock file that holds a small JSON record (the holder, and what it has done so far). A lock whose holder
// died — same host, and no process with its pid and start time — is stale: the next run takes it over and
// gets the dead holder's record, so it can finish or undo what that run left. Updates are synchronous and
// atomic (temp file + rename), so a crash never leaves half a record.

/** Who holds a lock. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process's start time (Linux `/proc/<pid>/stat`), against a reused pid. */
  readonly start?: string;
  readonly since: number;
}

/** The lock file beside `file`: `.<name>.ims-token.lock`. */
export function lockPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.ims-token.lock`);
}

function startOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19];
  } catch {
    return undefined;
  }
}

const ME: LockOwner = {
  pid: process.pid,
  host: hostname(),
  ...(startOf(process.pid) ? { start: startOf(process.pid)! } : {}),
  since: Date.now(),
};

/** Lock files this process holds (a lock of this very process that it does not hold is stale: `run()` in-process). */
const heldHere = new Set<string>();

/** Whether the owner of a lock is still running (unknowable on another host: assumed so). */
function alive(owner: Partial<LockOwner>, path: string): boolean {
  if (typeof owner.pid !== 'number' || owner.host !== ME.host) return owner.host !== ME.host;
  if (owner.pid === ME.pid && owner.start === ME.start) return heldHere.has(path);
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.start === undefined || startOf(owner.pid) === undefined || startOf(owner.pid) === owner.start;
}

function writeRecord(path: string, record: object, flag: 'wx' | 'w'): void {
  const fd = openSync(path, flag, 0o600);
  try {
    writeSync(fd, `${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a stale lock held: its record, as the dead holder last wrote it. */
export type StaleRecord = Record<string, unknown> & { owner?: Partial<LockOwner> };

/** Held lock files (one or several, taken in path order). */
export class FileLock {
  readonly paths: readonly string[];
  #record: Record<string, unknown>;

  private constructor(paths: readonly string[], record: Record<string, unknown>) {
    this.paths = paths;
    this.#record = record;
  }

  /**
   * Takes every lock in `paths` (sorted, so two runs never deadlock), waiting while a live holder has one.
   * `onWait` is called once with the holder when it has to wait; after `waitMs` it throws `timeout(holder, path)`.
   * Returns the lock and the records of stale locks it took over.
   */
  static async acquire(
    paths: readonly string[],
    record: Record<string, unknown>,
    options: {
      waitMs: number;
      onWait?: (owner: Partial<LockOwner>, path: string) => void;
      timeout: (owner: Partial<LockOwner>, path: string) => Error;
      /** Stops waiting (throws its reason, or an `AbortError`). */
      signal?: AbortSignal;
    },
  ): Promise<{ lock: FileLock; stale: StaleRecord[] }> {
    const sorted = [...new Set(paths)].sort();
    const full = { ...record, owner: ME };
    const taken: string[] = [];
    const stale: StaleRecord[] = [];
    const deadline = Date.now() + options.waitMs;
    let told = false;
    try {
      for (const path of sorted) {
        for (;;) {
          try {
            writeRecord(path, full, 'wx');
            taken.push(path);
            heldHere.add(path);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
          const st = statSync(path, { throwIfNoEntry: false });
          if (!st) continue; // released meanwhile
          let seen: StaleRecord | undefined;
          try {
            seen = JSON.parse(readFileSync(path, 'utf8')) as StaleRecord;
          } catch {
            // half-written by a holder that died in its first write, or replaced meanwhile: judge by age
            if (Date.now() - st.mtimeMs > 10_000) seen = {};
          }
          const owner = seen?.owner ?? {};
          if (seen !== undefined && !alive(owner, path)) {
            if (statSync(path, { throwIfNoEntry: false })?.ino === st.ino) {
              rmSync(path, { force: true });
              if (Object.keys(seen).length > 0) stale.push(seen);
            }
            continue;
          }
          if (Date.now() > deadline) throw options.timeout(owner, path);
          options.signal?.throwIfAborted();
          if (!told && seen !== undefined) {
            told = true;
            options.onWait?.(owner, path);
          }
          await sleep(50);
        }
      }
    } catch (err) {
      for (const p of taken) {
        rmSync(p, { force: true });
        heldHere.delete(p);
      }
      throw err;
    }
    return { lock: new FileLock(taken, full), stale };
  }

  /** Merges `patch` into the record, in every lock file, synchronously and atomically. */
  update(patch: Record<string, unknown>): void {
    this.#record = { ...this.#record, ...patch };
    for (const path of this.paths) {
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      writeRecord(tmp, this.#record, 'wx');
      renameSync(tmp, path);
    }
  }

  /** Removes the lock files: the run is over and left nothing to recover. */
  release(): void {
    for (const path of this.paths) {
      rmSync(path, { force: true });
      heldHere.delete(path);
    }
  }

  /**
   * Leaves the lock files in place with their record, for the next run to recover from (it finds them stale
   * once this process has exited).
   */
  abandon(): void {
    for (const path of this.paths) heldHere.delete(path);
  }
}

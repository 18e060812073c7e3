import { basename, dirname, join } from 'node:path';
import { acquireFileLock } from '@ims-token/core';
import type { FileLock, FileLockHolder } from '@ims-token/core';

// The locks of a rotation: core's lock file (the rule FileStore uses too), one per target, with the rotation's
// record (journal.ts) in each. Only a dead holder's lock is taken over (staleMs: Infinity): never a live one,
// however slow, nor one of another host. Whoever takes over a dead run's lock is given its record, to finish
// or undo what that run left.

/** The lock file beside `file`: `.<name>.ims-token.lock`. */
export function lockPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.ims-token.lock`);
}

/** What a dead run left in its lock: its record, and who it was. */
export type StaleRecord = Record<string, unknown> & { owner?: { pid?: number; host?: string; since?: number } };

export interface RotationLockOptions {
  waitMs: number;
  signal?: AbortSignal;
  /** Called once, when a live holder makes this run wait. */
  onWait?: (holder: FileLockHolder | undefined, path: string) => void;
  /** What to throw when a live holder still has `path` after `waitMs`. */
  timeout: (holder: FileLockHolder | undefined, path: string) => Error;
}

/** The lock files of one rotation, and the record they keep. */
export class RotationLock {
  readonly #locks: readonly FileLock[];
  #record: Record<string, unknown> = {};

  private constructor(locks: readonly FileLock[]) {
    this.#locks = locks;
  }

  /**
   * Takes every lock in `paths` (sorted, so two runs never deadlock), waiting up to `waitMs` in all while a live
   * holder has one. Returns the lock and the records of the dead runs whose locks it took over.
   */
  static async acquire(paths: readonly string[], options: RotationLockOptions): Promise<{ lock: RotationLock; stale: StaleRecord[] }> {
    const deadline = Date.now() + options.waitMs;
    const stale: StaleRecord[] = [];
    const taken: FileLock[] = [];
    let told = false;
    try {
      for (const path of [...new Set(paths)].sort()) {
        taken.push(
          await acquireFileLock(path, {
            staleMs: Infinity,
            waitMs: Math.max(0, deadline - Date.now()),
            ...(options.signal ? { signal: options.signal } : {}),
            onWait: (holder) => {
              if (!told) options.onWait?.(holder, path);
              told = true;
            },
            timeout: (holder) => options.timeout(holder, path),
            // (a record that a run passed on when it stopped before recovering names the run that left it)
            onTakeOver: ({ pid, host, since, data }) => {
              stale.push({ owner: { pid, host, ...(since !== undefined ? { since } : {}) }, ...data });
            },
          }),
        );
      }
    } catch (err) {
      await Promise.all(taken.map((l) => l.release()));
      throw err;
    }
    return { lock: new RotationLock(taken), stale };
  }

  /** Merges `patch` into the record, in every lock file, synchronously and atomically. */
  update(patch: Record<string, unknown>): void {
    this.#record = { ...this.#record, ...patch };
    for (const lock of this.#locks) lock.update(this.#record);
  }

  /** Removes the lock files: the run is over and left nothing to recover. */
  async release(): Promise<void> {
    await Promise.all(this.#locks.map((l) => l.release()));
  }

  /** Leaves the lock files with their record, for the next run to recover from (once this process has exited). */
  abandon(): void {
    for (const lock of this.#locks) lock.abandon();
  }
}

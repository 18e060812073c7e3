/**
 * The cross-process lock file of `FileStore` and of the `ims-token` CLI's rotations: created with `O_EXCL`, it
 * names its holder (pid, host, a random owner token, the process's start time), is renewed while the holder
 * works, is removed only by its owner (compare before delete), and is taken over only when its holder is gone:
 * dead (a pid on this host that no longer exists, or is now another process), or silent for longer than
 * `staleMs` (no renewal: a frozen process, or another host's). Waiting honours an `AbortSignal`. A holder may
 * keep a small JSON record in the file (`update`) that whoever takes the lock over after a crash is given.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, uniqueId, unlinkIfExists } from './local-files';
import { errnoOf } from './cache-file';
import { ImsTokenError } from './errors';
import { sleep } from './sleep';

/** Who holds a lock file, as the file says. */
export interface FileLockHolder {
  readonly pid: number;
  /** Its host name (`''` when the file does not say). */
  readonly host: string;
  /** When it took the lock (epoch ms), if the file says. */
  readonly since?: number;
  /** The record it kept in the lock with {@link FileLock.update}. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** A lock not renewed for this long is taken over; `Infinity`: only a lock whose holder is dead. */
  staleMs: number;
  /** How long to wait for a live holder. */
  waitMs: number;
  /** Stops the wait at once: rejects with its reason (or `IMS_ABORTED`). */
  signal?: AbortSignal;
  /** What to throw once `waitMs` has passed; without it, `acquireFileLock` resolves `undefined` then. */
  timeout?: (holder: FileLockHolder | undefined) => Error;
  /** Called once, when a live holder makes this wait. */
  onWait?: (holder: FileLockHolder | undefined) => void;
  /** Called for each lock of a dead or stale holder that is taken over, with what that holder left in it. */
  onTakeOver?: (holder: FileLockHolder) => void;
}

/** A lock file this process holds. */
export interface FileLock {
  readonly path: string;
  /** Replaces the record kept in the lock file: synchronous and atomic (a crash leaves the old or the new one). */
  update(data: Readonly<Record<string, unknown>>): void;
  /** Stops renewing and removes the lock file, if it is still this holder's. */
  release(): Promise<void>;
  /** Stops renewing and leaves the file with its record, for a later run to take over once this process has exited. */
  abandon(): void;
}

/** An unreadable lock (a holder that died between creating and writing it) older than this is taken over. */
const UNREADABLE_MS = 10_000;

/** What a wait stopped by `signal` rejects with: its reason, else `IMS_ABORTED`. */
function aborted(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new ImsTokenError('IMS_ABORTED', 'Stopped waiting for a lock file.');
}

let host: string | undefined;
const HOST = (): string => (host ??= hostname());

/** A process's start time (Linux `/proc/<pid>/stat`, field 22): tells a reused pid from its first owner. */
async function startOf(pid: number): Promise<string | undefined> {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(') ') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let myStart: Promise<string | undefined> | undefined;

/** Owner tokens of the locks this process holds: a lock with this pid and another token was left by an earlier run. */
const heldHere = new Set<string>();

/** What a lock file says, line by line: pid, host, owner token, start time, since, the record (JSON). */
interface Parsed extends FileLockHolder {
  owner: string;
  start: string;
}

function parse(text: string): Parsed | undefined {
  const [pid, host = '', owner = '', start = '', since = '', data] = text.split('\n');
  const n = Number.parseInt(pid ?? '', 10);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  let record: Record<string, unknown> | undefined;
  try {
    const v: unknown = data ? JSON.parse(data) : undefined;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) record = v as Record<string, unknown>;
  } catch {
    // a record cut short: the holder still counts
  }
  const s = Number.parseInt(since, 10);
  return { pid: n, host, owner, start, ...(Number.isFinite(s) ? { since: s } : {}), ...(record ? { data: record } : {}) };
}

function publicHolder(p: Parsed | undefined): FileLockHolder | undefined {
  return p && { pid: p.pid, host: p.host, ...(p.since !== undefined ? { since: p.since } : {}), ...(p.data ? { data: p.data } : {}) };
}

interface Judged {
  verdict: 'dead' | 'stale' | 'live' | 'gone';
  text?: string;
  holder?: Parsed;
}

/** First whether the holder lives (a pid on this host, with the start time it recorded), then how old the lock is. */
async function judge(path: string, staleMs: number): Promise<Judged> {
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch (err) {
    return { verdict: errnoOf(err) === 'ENOENT' ? 'gone' : 'live' };
  }
  const holder = parse(text);
  const age = Date.now() - mtimeMs;
  if (!holder) return { verdict: age > Math.min(staleMs, UNREADABLE_MS) ? 'stale' : 'live', text };
  if (holder.host === HOST() || holder.host === '') {
    if (holder.pid === process.pid) {
      if (!heldHere.has(holder.owner)) return { verdict: 'dead', text, holder };
    } else {
      try {
        process.kill(holder.pid, 0);
      } catch (err) {
        if (errnoOf(err) === 'ESRCH') return { verdict: 'dead', text, holder };
      }
      if (holder.start !== '') {
        const now = await startOf(holder.pid);
        if (now !== undefined && now !== holder.start) return { verdict: 'dead', text, holder }; // the pid was reused
      }
    }
  }
  return { verdict: age > staleMs ? 'stale' : 'live', text, holder };
}

async function create(path: string, content: string): Promise<boolean> {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600); // O_CREAT|O_EXCL: never follows a symbolic link
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Removes `path` only while it still holds `content` (compare before delete). */
async function removeIf(path: string, content: string): Promise<boolean> {
  try {
    if (readFileSync(path, 'utf8') !== content) return false;
    unlinkIfExists(path);
    return true;
  } catch {
    return false; // gone already, or unreadable: not ours to remove
  }
}

/**
 * Breaks a dead or stale lock. Two waiters may judge the same lock stale: only the one that creates the
 * `.break` file removes it, after judging again, and only while it holds what was judged, so a fresh lock
 * taken meanwhile is never removed. Returns the holder whose lock it removed.
 */
async function breakLock(path: string, staleMs: number): Promise<Parsed | undefined | false> {
  const breaker = `${path}.break`;
  const mine = `${process.pid}\n${HOST()}\n${uniqueId()}\n`;
  if (!(await create(breaker, mine))) {
    // Another waiter is breaking it; its breaker may itself be left over by a crash (a break takes milliseconds).
    try {
      if (Date.now() - statSync(breaker).mtimeMs > Math.min(Math.max(1_000, staleMs), UNREADABLE_MS)) unlinkIfExists(breaker);
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    const j = await judge(path, staleMs);
    if ((j.verdict === 'dead' || j.verdict === 'stale') && j.text !== undefined && (await removeIf(path, j.text))) return j.holder;
    return false;
  } finally {
    await removeIf(breaker, mine);
  }
}

/** Writes `text` to `path` through a temporary file and a rename: synchronous, atomic, flushed. */
function replaceSync(path: string, text: string): void {
  const tmp = `${path}.${uniqueId()}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * Takes the lock file `path`, waiting while a live holder has it (up to `waitMs`; then throws what `timeout`
 * returns, or resolves `undefined` without it: the caller decides whether to go on without the lock). A lock
 * whose holder is dead, or that was not renewed for `staleMs`, is taken over (`onTakeOver` is told what it
 * held). Renews the lock every `staleMs / 3` while held. Rejects at once when `signal` aborts.
 *
 * @example
 * ```ts
 * const lock = await acquireFileLock('/run/app/.job.lock', {
 *   staleMs: Infinity,
 *   waitMs: 60_000,
 *   timeout: (h) => new Error(`pid ${h?.pid ?? '?'} holds /run/app/.job.lock`),
 * })
 * try {
 *   lock.update({ step: 'started' })
 * } finally {
 *   await lock.release()
 * }
 * ```
 */
export function acquireFileLock(path: string, options: FileLockOptions & Required<Pick<FileLockOptions, 'timeout'>>): Promise<FileLock>;
export function acquireFileLock(path: string, options: FileLockOptions): Promise<FileLock | undefined>;
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<FileLock | undefined> {
  const { staleMs, waitMs, signal } = options;
  const owner = uniqueId();
  const head = `${process.pid}\n${HOST()}\n${owner}\n${(await (myStart ??= startOf(process.pid))) ?? ''}\n${Date.now()}\n`;
  const deadline = Date.now() + waitMs;
  let delay = 10;
  let told = false;
  heldHere.add(owner); // before the file exists, so that no judge of this process finds it left over
  try {
    for (;;) {
      if (signal?.aborted) throw aborted(signal);
      if (await create(path, head)) break;
      const j = await judge(path, staleMs);
      if (j.verdict === 'dead' || j.verdict === 'stale') {
        const taken = await breakLock(path, staleMs);
        if (taken === false)
          await sleep(delay, signal, () => aborted(signal)); // another waiter is breaking it, or it changed meanwhile
        else if (taken) options.onTakeOver?.(publicHolder(taken)!);
        continue;
      }
      if (j.verdict === 'gone') continue;
      if (Date.now() > deadline) {
        if (signal?.aborted) throw aborted(signal);
        if (options.timeout) throw options.timeout(publicHolder(j.holder));
        heldHere.delete(owner);
        return undefined;
      }
      if (!told) {
        told = true;
        options.onWait?.(publicHolder(j.holder));
      }
      await sleep(delay, signal, () => aborted(signal));
      delay = Math.min(delay * 2, 200);
    }
  } catch (err) {
    heldHere.delete(owner);
    throw err;
  }
  return held(path, head, owner, staleMs);
}

function held(path: string, head: string, owner: string, staleMs: number): FileLock {
  let content = head;
  // Renew while the holder works, so a slow one never looks stale; stop renewing a lock that is no longer ours
  // (its first lines name this owner token, whatever record follows).
  const renew = Number.isFinite(staleMs)
    ? setInterval(
        () => {
          try {
            if (readFileSync(path, 'utf8').startsWith(head)) utimesSync(path, new Date(), new Date());
            else clearInterval(renew);
          } catch {
            clearInterval(renew);
          }
        },
        Math.max(10, Math.floor(staleMs / 3)),
      )
    : undefined;
  renew?.unref();
  const stop = (): void => {
    clearInterval(renew);
    heldHere.delete(owner);
  };
  return {
    path,
    update(data) {
      const next = `${head}${JSON.stringify(data)}\n`;
      replaceSync(path, next);
      content = next;
    },
    async release() {
      stop();
      await removeIf(path, content);
    },
    abandon: stop,
  };
}

/**
 * Runs `fn` holding the lock file `path`. Waits for a live holder up to `waitMs` (then runs `fn` anyway:
 * availability over sharing); rejects at once when `signal` aborts while waiting, and never runs `fn` after that.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: Omit<FileLockOptions, 'timeout'>): Promise<T> {
  const lock = await acquireFileLock(path, options);
  if (!lock) return fn(); // a live holder that is too slow
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

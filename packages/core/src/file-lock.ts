/**
 * The cross-process lock of `FileStore`: a lock file created with `O_EXCL` that names its holder (pid, host and a
 * random owner token), renewed while the holder works, removed only by its owner (compare before delete), and
 * taken over only when its holder is gone: dead (a pid on this host that no longer exists) or silent for longer
 * than `staleMs` (no renewal: a frozen process, or another host's). Waiting honours an `AbortSignal`.
 */
import { hostname, open, randomBytes, readFile, rm, stat, utimes } from './lazy-builtins';
import { ImsTokenError } from './errors';

export interface FileLockOptions {
  /** A lock not renewed for this long is taken over. */
  staleMs: number;
  /** How long to wait for a live holder before running without the lock (availability over sharing). */
  waitMs: number;
  signal?: AbortSignal;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? new ImsTokenError('IMS_ABORTED', 'Stopped waiting for the token cache lock.');
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

let host: string | undefined;
const HOST = (): string => (host ??= hostname());

/** What a lock file says about its holder. */
interface Holder {
  pid: number;
  host: string;
  owner: string;
}

function parseHolder(text: string): Holder | undefined {
  const [pid, host, owner] = text.split('\n');
  const n = Number.parseInt(pid ?? '', 10);
  return Number.isInteger(n) && n > 0 ? { pid: n, host: host ?? '', owner: owner ?? '' } : undefined;
}

/** `'dead'`: its holder is gone; `'stale'`: not renewed in time; `'live'`; `'gone'`: the file vanished. */
async function judge(path: string, staleMs: number): Promise<'dead' | 'stale' | 'live' | 'gone'> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (err) {
    return errno(err) === 'ENOENT' ? 'gone' : 'live';
  }
  const holder = parseHolder(text);
  // First whether the holder lives (a pid on this host), then its age.
  if (holder && (holder.host === HOST() || holder.host === '') && holder.pid !== process.pid) {
    try {
      process.kill(holder.pid, 0);
    } catch (err) {
      if (errno(err) === 'ESRCH') return 'dead';
    }
  }
  return Date.now() - mtimeMs > staleMs ? 'stale' : 'live';
}

async function create(path: string, content: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o600); // O_CREAT|O_EXCL: never follows a symbolic link
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  return true;
}

/** Removes `path` only while it still holds `content` (compare before delete). */
async function removeIfOurs(path: string, content: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')) === content) await rm(path, { force: true });
  } catch {
    // gone already, or unreadable: not ours to remove
  }
}

/**
 * Breaks a dead or stale lock. Two waiters may judge the same lock stale: only the one that creates the
 * `.break` file removes it, after judging again, so a fresh lock taken meanwhile is never removed.
 */
async function breakLock(path: string, staleMs: number): Promise<void> {
  const breaker = `${path}.break`;
  const mine = `${process.pid}\n${HOST()}\n${randomBytes(12).toString('hex')}\n`;
  if (!(await create(breaker, mine))) {
    // Another waiter is breaking it; its breaker may itself be left over by a crash.
    try {
      if (Date.now() - (await stat(breaker)).mtimeMs > Math.max(1_000, staleMs)) await rm(breaker, { force: true });
    } catch {
      // gone meanwhile
    }
    return;
  }
  try {
    const verdict = await judge(path, staleMs);
    if (verdict === 'dead' || verdict === 'stale') await rm(path, { force: true });
  } finally {
    await removeIfOurs(breaker, mine);
  }
}

/**
 * Runs `fn` holding the lock file `path`. Waits for a live holder up to `waitMs` (then runs `fn` anyway);
 * rejects at once when `signal` aborts while waiting, and never runs `fn` after that.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, { staleMs, waitMs, signal }: FileLockOptions): Promise<T> {
  const mine = `${process.pid}\n${HOST()}\n${randomBytes(12).toString('hex')}\n`;
  const deadline = Date.now() + waitMs;
  let delay = 10;
  for (;;) {
    if (signal?.aborted) throw aborted(signal);
    if (await create(path, mine)) break;
    const verdict = await judge(path, staleMs);
    if (verdict === 'dead' || verdict === 'stale') {
      await breakLock(path, staleMs);
      continue;
    }
    if (verdict === 'gone') continue;
    if (Date.now() > deadline) {
      if (signal?.aborted) throw aborted(signal);
      return fn(); // a live holder that is too slow: availability over sharing
    }
    await pause(delay, signal);
    delay = Math.min(delay * 2, 200);
  }
  // Renew while `fn` works, so a slow mint never looks stale; stop renewing a lock that is no longer ours.
  const renew = setInterval(
    () => {
      void readFile(path, 'utf8')
        .then((text) => (text === mine ? utimes(path, new Date(), new Date()) : clearInterval(renew)))
        .catch(() => clearInterval(renew));
    },
    Math.max(10, Math.floor(staleMs / 3)),
  );
  renew.unref();
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    await removeIfOurs(path, mine);
  }
}

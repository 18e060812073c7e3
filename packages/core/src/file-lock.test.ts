import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileStore } from './file-store';
import { acquireFileLock } from './file-lock';
import type { FileLockHolder } from './file-lock';
import { ImsTokenError } from './errors';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

// A real second process holds the lock: core's built dist, as another CLI run or worker would.
const DIST = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;

let env: Env | undefined;
let dir: string;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await env?.cleanup();
  env = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A process that takes `key`'s lock, prints "locked", holds it `holdMs`, prints "done" just before letting go. */
function holder(
  key: string,
  holdMs: number,
  staleLockMs: number,
): { child: ChildProcess; locked: Promise<void>; done: () => boolean; exited: Promise<number | null> } {
  const script = `import { FileStore } from ${JSON.stringify(DIST)};
    const s = new FileStore({ dir: process.env.DIR, staleLockMs: ${staleLockMs} });
    await s.withLock(${JSON.stringify(key)}, async () => { console.log('locked'); await new Promise((r) => setTimeout(r, ${holdMs})); console.log('done'); });
    console.log('released');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, DIR: dir } });
  children.push(child);
  let out = '';
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += String(c);
      if (out.includes('locked')) resolve();
    });
    child.on('exit', () => reject(new Error(`the holder exited before locking: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, locked, done: () => out.includes('done'), exited };
}

describe('FileStore lock, between real processes', () => {
  it('a holder slower than staleLockMs renews its lock: nobody else enters until it lets go', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const h = holder('k', 3_000, 1_000);
    await h.locked;
    const store = new FileStore({ dir, staleLockMs: 1_000, lockWaitMs: 30_000 });
    const enteredWhileHeld = await store.withLock('k', async () => !h.done());
    expect(enteredWhileHeld).toBe(false);
  });

  it('a holder whose lock was taken over (it froze) does not delete the new holder’s lock', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const h = holder('k', 400, 60_000);
    await h.locked;
    h.child.kill('SIGSTOP'); // frozen: alive, but no longer renewing
    const store = new FileStore({ dir, staleLockMs: 600, lockWaitMs: 30_000 });
    const lockFile = `${store.pathFor('k')}.lock`;
    const stillMine = await store.withLock('k', async () => {
      const mine = await readFile(lockFile, 'utf8');
      h.child.kill('SIGCONT'); // it wakes up, finishes its work and releases "its" lock
      expect(await h.exited).toBe(0);
      return existsSync(lockFile) && (await readFile(lockFile, 'utf8')) === mine;
    });
    expect(stillMine).toBe(true);
    expect(existsSync(lockFile)).toBe(false); // and ours is removed when we let go
  });

  it('a lock whose holder died is taken over at once, however young it is', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const h = holder('k', 60_000, 60_000);
    await h.locked;
    h.child.kill('SIGKILL');
    await h.exited;
    const started = Date.now();
    await expect(new FileStore({ dir, staleLockMs: 60_000 }).withLock('k', async () => 'ran')).resolves.toBe('ran');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an aborted signal stops the wait at once and never runs fn', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const h = holder('k', 60_000, 60_000);
    await h.locked;
    const ac = new AbortController();
    let ran = false;
    const wait = new FileStore({ dir, lockWaitMs: 60_000 }).withLock('k', async () => (ran = true), { signal: ac.signal });
    setTimeout(() => ac.abort(new ImsTokenError('IMS_ABORTED', 'test abort')), 100); // not the emulator's: abort once the wait is under way
    const started = Date.now();
    await expect(wait).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ran).toBe(false);
  });

  it("close() settles a getToken waiting on another process's lock at once (IMS_CLOSED), not after lockWaitMs", async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const probe = env.make();
    const h = holder(probe.cacheKey, 60_000, 60_000);
    await h.locked;
    const p = env.make({ store: new FileStore({ dir, lockWaitMs: 20_000 }) });
    const pending = p.getToken().then(
      () => 'resolved',
      (e: unknown) => (ImsTokenError.is(e) ? e.code : 'other'),
    );
    await new Promise((r) => setTimeout(r, 200)); // not the emulator's: lets getToken reach the other process's lock
    const started = Date.now();
    await p.close();
    expect(await pending).toBe('IMS_CLOSED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(env.emu.stats.tokensMinted).toBe(0);
  });
});

/** A process that takes the lock file `path` for good (`staleMs: Infinity`), keeps a record in it and prints "locked". */
function recordHolder(path: string): { child: ChildProcess; locked: Promise<void>; exited: Promise<unknown> } {
  const script = `import { acquireFileLock } from ${JSON.stringify(DIST)};
    const lock = await acquireFileLock(process.env.LOCK, { staleMs: Infinity, waitMs: 1000 });
    lock.update({ step: 'add', newUuid: 'u-1' });
    console.log('locked');
    setTimeout(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, LOCK: path } });
  children.push(child);
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => String(c).includes('locked') && resolve());
    child.on('exit', () => reject(new Error('the holder exited before locking')));
  });
  return { child, locked, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

describe('acquireFileLock (the lock the CLI keeps its rotation record in)', () => {
  it('a holder that died leaves its record to whoever takes the lock over', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const path = join(dir, 'job.lock');
    const h = recordHolder(path);
    await h.locked;
    h.child.kill('SIGKILL');
    await h.exited;
    const taken: FileLockHolder[] = [];
    const lock = await acquireFileLock(path, {
      staleMs: Infinity,
      waitMs: 5_000,
      timeout: () => new Error('timed out'),
      onTakeOver: (holder) => taken.push(holder),
    });
    expect(taken).toEqual([expect.objectContaining({ pid: h.child.pid, host: hostname(), data: { step: 'add', newUuid: 'u-1' } })]);
    await lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('with staleMs Infinity a live holder is never taken over, however old its lock; the timeout names it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const path = join(dir, 'job.lock');
    const h = recordHolder(path);
    await h.locked;
    await utimes(path, new Date(0), new Date(0));
    const waited: Array<FileLockHolder | undefined> = [];
    const attempt = acquireFileLock(path, {
      staleMs: Infinity,
      waitMs: 300,
      onWait: (holder) => waited.push(holder),
      timeout: (holder) => new Error(`pid ${holder?.pid ?? '?'} holds ${path}`),
    });
    await expect(attempt).rejects.toThrow(`pid ${h.child.pid} holds ${path}`);
    expect(waited).toHaveLength(1);
    expect(waited[0]).toMatchObject({ pid: h.child.pid, data: { step: 'add' } });
    expect(await readFile(path, 'utf8')).toContain('"newUuid":"u-1"');
  });

  it.skipIf(!existsSync('/proc/self/stat'))('a lock naming a live pid that started after it (a reused pid) is taken over', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const path = join(dir, 'job.lock');
    await writeFile(path, `${process.ppid}\n${hostname()}\nsomeone\n1\n${Date.now()}\n{"step":"verify"}\n`);
    const taken: FileLockHolder[] = [];
    const lock = await acquireFileLock(path, {
      staleMs: Infinity,
      waitMs: 2_000,
      timeout: () => new Error('timed out'),
      onTakeOver: (x) => taken.push(x),
    });
    expect(taken.map((t) => t.data)).toEqual([{ step: 'verify' }]);
    await lock.release();
  });

  it('a lock this process abandoned is taken over by its next attempt, record and all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-lock-'));
    const path = join(dir, 'job.lock');
    const first = await acquireFileLock(path, { staleMs: Infinity, waitMs: 0, timeout: () => new Error('timed out') });
    first.update({ step: 'persisting' });
    await expect(acquireFileLock(path, { staleMs: Infinity, waitMs: 100 })).resolves.toBeUndefined(); // held: a live holder
    first.abandon();
    const taken: FileLockHolder[] = [];
    const second = await acquireFileLock(path, {
      staleMs: Infinity,
      waitMs: 0,
      timeout: () => new Error('timed out'),
      onTakeOver: (x) => taken.push(x),
    });
    expect(taken.map((t) => t.data)).toEqual([{ step: 'persisting' }]);
    await second.release();
  });
});

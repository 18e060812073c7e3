import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import type { Logger } from '@ims-token/core';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const CHILD = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url));

export type RawClient = ReturnType<typeof createClient>;

/** A plain client for looking at what the store wrote. */
export async function rawClient(url = REDIS_URL): Promise<RawClient> {
  const c = createClient({ url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export function randomPrefix(): string {
  return `ims-test-${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function cleanup(raw: RawClient, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const batch of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
  if (keys.length) await raw.del(keys);
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/** A pino-like logger that keeps every line. */
export function captureLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), text: () => JSON.stringify(lines) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A private redis-server (no persistence) on `port`, for tests that stop it; `extra`: more config directives. */
export async function startRedisServer(port: number, extra: string[] = []): Promise<ChildProcess> {
  const proc = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.destroy();
      return proc;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}`);
      }
      await sleep(50);
    }
  }
}

export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill(signal);
  await exited;
}

export interface ChildResult {
  sha256: string;
  ms: number;
  mints: number;
  storeHits: number;
  cacheKey: string;
  logs: LogLine[];
}

export interface Child {
  proc: ChildProcess;
  /** Resolves when the child printed `ready` (barrier mode). */
  ready: Promise<void>;
  /** Resolves with the exit code and the parsed result line. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; result: ChildResult | undefined; stdout: string; stderr: string }>;
  go(): void;
}

/** Starts one fleet member: test/fixtures/child.mjs (or another fixture), which imports the built core and redis packages. */
export function startChild(config: object, env: NodeJS.ProcessEnv = {}, script = CHILD): Child {
  const proc = spawn(process.execPath, [script, JSON.stringify(config)], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.startsWith('ready\n')) onReady();
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Awaited<Child['done']>>((resolve) => {
    proc.on('exit', (code, signal) => {
      const last = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop();
      resolve({ code, signal, result: last ? (JSON.parse(last) as ChildResult) : undefined, stdout, stderr });
    });
  });
  return { proc, ready, done, go: () => proc.stdin!.end('go\n') };
}

/** Polls `check` until it is truthy (or throws after `ms`). */
export async function waitFor<T>(check: () => Promise<T> | T, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

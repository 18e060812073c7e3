import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '@ims-token/emulator';
import type { TokenProviderOptions } from '@ims-token/core';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import { pino } from 'pino';
import { expect, vi } from 'vitest';
import type { Logger } from 'pino';
import { loadConfig, startServer } from '../src/index';
import type { AppConfig, RunningServer } from '../src/index';

/** apps/example (or the copy of it). */
export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built entry points: `npm start` runs main.js, `npm run dev` dev.js. */
export const MAIN = join(APP_DIR, 'dist', 'main.js');
export const DEV = join(APP_DIR, 'dist', 'dev.js');
/** The monorepo root, or undefined in a copy outside it. */
export const REPO_ROOT: string | undefined = existsSync(join(APP_DIR, '..', '..', 'pnpm-workspace.yaml'))
  ? resolve(APP_DIR, '..', '..')
  : undefined;

export const JOB = { prompt: 'a lighthouse at dusk' };

export interface Harness {
  emu: Emulator;
  clientId: string;
  secret: string;
  server: RunningServer;
  url: string;
  /** Every log line the app wrote. */
  logs: string[];
  config: AppConfig;
  stop(): Promise<void>;
}

/** A logger that keeps every JSON line. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

/**
 * An emulator with its own client, and the app in-process on port 0 pointed at it through the same
 * environment variables a user sets.
 */
export async function startHarness(
  emuOptions: EmulatorOptions = {},
  configOverrides: Omit<Partial<AppConfig>, 'ims'> & { ims?: Partial<TokenProviderOptions> } = {},
): Promise<Harness> {
  const emu = await startEmulator(emuOptions);
  const client = emu.addClient();
  const base = loadConfig({
    IMS_CLIENT_ID: client.clientId,
    IMS_CLIENT_SECRET: client.clientSecret,
    IMS_SCOPES: 'openid,AdobeID,firefly_api',
    IMS_URL: emu.url,
    ADOBE_API_URL: emu.url,
    PORT: '0',
    JOB_POLL_INTERVAL_MS: '50',
  });
  // Short backoffs so that retries against an injected fault take milliseconds, not seconds.
  const config: AppConfig = {
    ...base,
    ...configOverrides,
    ims: { ...base.ims, retryBaseDelayMs: 2, retryMaxDelayMs: 20, ...configOverrides.ims },
  };
  const { logger, lines } = captureLogger();
  const server = await startServer(config, { logger });
  return {
    emu,
    clientId: client.clientId,
    secret: client.clientSecret,
    server,
    url: server.url,
    logs: lines,
    config,
    async stop() {
      await server.close();
      await emu.stop();
    },
  };
}

/** The emulator's clock stopped at the test's start: only advance() moves the sample API's jobs. */
export function frozen(): () => number {
  const start = Date.now();
  return () => start;
}

/** Resolves once POST /jobs/run has submitted its job and is waiting for it. */
export async function submitted(harness: Harness): Promise<void> {
  await vi.waitFor(() => expect(harness.logs.some((l) => l.includes('job submitted; waiting for it'))).toBe(true), {
    timeout: 10_000,
    interval: 5,
  });
}

/** fetch + JSON body. */
export async function call(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

/** Fails when any of `secrets` appears in `text`. */
export function expectNoLeak(text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    if (s && text.includes(s)) throw new Error(`leaked a secret or token (${s.slice(0, 4)}…) in: ${text.slice(0, 300)}`);
  }
}

/** An environment without IMS_* / ADOBE_* and with an empty .env, so a developer's own credentials are never used. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('IMS_') || k.startsWith('ADOBE_') || k === 'PORT' || k === 'ENV_FILE' || k.startsWith('VITEST') || k === 'NODE_ENV')
      continue;
    env[k] = v;
  }
  return { ...env, ENV_FILE: join(APP_DIR, 'test', 'empty.env'), ...extra };
}

/** A child process with its output collected, and a way to wait for a line. */
export interface Child {
  proc: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function run(command: string, args: string[], options: SpawnOptions): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('exit', (code, signal) => res({ code, signal })),
  );
  return {
    proc,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((res, rej) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            res(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`timed out waiting for ${pattern} in output:\n${out}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            check();
            if (waiters.has(check)) {
              waiters.delete(check);
              clearTimeout(timer);
              rej(new Error(`process exited before ${pattern} appeared; output:\n${out}`));
            }
          }
        });
        check();
      });
    },
  };
}

/** The built app as a child process, the way `npm start` (main.js) or `npm run dev` (dev.js) runs it. */
export function runMain(env: NodeJS.ProcessEnv, entry: string = MAIN, cwd: string = APP_DIR): Child {
  // `npm test` builds first; inside the monorepo, turbo does.
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` (in the monorepo: pnpm build)`);
  return run(process.execPath, [entry], { cwd, env });
}

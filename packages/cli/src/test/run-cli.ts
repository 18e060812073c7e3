import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The BUILT bin: the tests exercise what users install. */
export const CLI = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url));
/** The `ims-token` command as users run it: the committed sh/JS polyglot bin, which loads {@link CLI}. */
export const BIN = fileURLToPath(new URL('../../bin/ims-token.cjs', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: build the CLI first with \`pnpm --filter @ims-token/cli build\` (these tests run the built bin).`);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (default: stdin closed at once). */
  input?: string;
  cwd?: string;
  /** The command's purpose is printing the token (token, token --json/--header): skip the token scan on stdout. */
  printsToken?: boolean;
  /** Called with the child once it is spawned (signals, interaction). */
  onSpawn?: (child: ChildProcess) => void;
  /** Run through another program (e.g. `script` for a terminal): gets the argv, returns [file, args]. */
  wrap?: (argv: string[]) => [string, string[]];
  timeoutMs?: number;
  /** Run as this user (uid = gid; the tests run as root): another user's view of the cache. */
  uid?: number;
}

/** Every client secret handed out in this test run: no output may contain one. */
export const SECRETS = new Set<string>();

/** A secret IMS rejects; it must not be printed either. */
export const WRONG_SECRET = `wrong-secret-${randomBytes(8).toString('hex')}`;
SECRETS.add(WRONG_SECRET);

/** A full JWT-shaped token (the 6-character previews do not match). */
const JWT = /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/;

/** Checks one run's stdout and stderr for secrets and, unless printing it is the point, for tokens. */
export function scan(r: CliResult, printsToken: boolean): void {
  for (const secret of SECRETS) {
    expect(r.stdout.includes(secret), 'a client secret on stdout').toBe(false);
    expect(r.stderr.includes(secret), 'a client secret on stderr').toBe(false);
  }
  expect(JWT.test(r.stderr), `a full token on stderr: ${r.stderr.slice(0, 200)}`).toBe(false);
  if (!printsToken) expect(JWT.test(r.stdout), 'a full token on stdout').toBe(false);
}

/** Runs `node dist/cli.cjs <args>` with exactly `env` (plus PATH), and scans what it printed. */
export function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const argv = [CLI, ...args];
  const [file, fileArgs] = options.wrap ? options.wrap(argv) : [process.execPath, argv];
  const child = spawn(file, fileArgs, {
    env: { PATH: process.env.PATH, ...options.env } as NodeJS.ProcessEnv,
    cwd: options.cwd,
    stdio: 'pipe',
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  if (options.input !== undefined) child.stdin.end(options.input);
  else if (!options.onSpawn) child.stdin.end();
  options.onSpawn?.(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = { code, signal, stdout, stderr };
      try {
        scan(r, options.printsToken === true);
      } catch (err) {
        reject(err);
        return;
      }
      resolve(r);
    });
  });
}

/** Resolves once `stream` has printed `text`. */
export function waitFor(child: ChildProcess, text: string | RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const s = child[stream]!;
    const onData = (c: Buffer | string): void => {
      seen += String(c);
      if (typeof text === 'string' ? seen.includes(text) : text.test(seen)) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
    child.once('close', () => reject(new Error(`exited before printing ${String(text)}; got: ${seen.slice(-300)}`)));
  });
}

/** A JWT-shaped token with the given claims (for inspect; the signature is fake). */
export function fakeToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', x5u: 'ims_na1-key-at-1.cer' })}.${b64(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

/**
 * Runs `fn` with every directory above the CLI and the Node binary traversable by other users (o+x, no
 * listing), restoring each mode after. Tests that run the CLI as another uid need to reach both, wherever
 * the checkout lies: a clone in `mktemp -d` sits in a 0700 directory.
 */
export async function reachableByOthers<T>(fn: () => Promise<T>): Promise<T> {
  const changed = new Map<string, number>();
  for (const file of [CLI, process.execPath]) {
    for (let dir = dirname(realpathSync(file)); ; dir = dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o001) === 0 && !changed.has(dir)) {
        changed.set(dir, mode);
        chmodSync(dir, mode | 0o001);
      }
      if (dir === dirname(dir)) break;
    }
  }
  try {
    return await fn();
  } finally {
    for (const [dir, mode] of changed) chmodSync(dir, mode);
  }
}

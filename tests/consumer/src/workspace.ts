/**
 * Helpers for the consumer tests: where the workspace is, which packages it publishes, child processes,
 * `pnpm pack`, and `npm install` into fresh projects outside the workspace.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The fixture files copied into consumer projects. */
export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures');

/** The packages we publish, by folder; the metadata test fails when this list and `packages/*` disagree. */
export const PUBLISHED_DIRS = ['core', 'fetch', 'express', 'cli', 'redis', 'emulator', 'otel'] as const;
export type PackageDir = (typeof PUBLISHED_DIRS)[number];

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  [field: string]: unknown;
}

export function readJson<T = PackageJson>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Every `packages/*` folder with a package.json, and its manifest. */
export function workspacePackages(): Array<{ dir: string; path: string; pkg: PackageJson }> {
  const base = join(ROOT, 'packages');
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'package.json')))
    .map((d) => ({ dir: d.name, path: join(base, d.name), pkg: readJson(join(base, d.name, 'package.json')) }));
}

/** `@ims-token/<dir>` */
export function nameOf(dir: PackageDir): string {
  return `@ims-token/${dir}`;
}

/** A package counts as built when its dist has the entry points its exports name. */
export function isBuilt(dir: PackageDir): boolean {
  const d = join(ROOT, 'packages', dir, 'dist');
  return existsSync(join(d, 'index.js')) && existsSync(join(d, 'index.cjs')) && existsSync(join(d, 'index.d.ts'));
}

export const BUILT: ReadonlySet<PackageDir> = new Set(PUBLISHED_DIRS.filter(isBuilt));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string;
}

/** Runs a command without a shell; never rejects for a non-zero exit (the caller asserts). */
export function run(cmd: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a child that exits without reading its input
      child.stdin.end(o.input);
    }
  });
}

/** Runs a command and throws with its output when it fails. */
export async function runOk(cmd: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${o.cwd}) exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

/** One npm cache for every install of every run: the second run installs from it. */
export const NPM_CACHE = process.env.IMS_CONSUMER_NPM_CACHE ?? join(tmpdir(), 'ims-token-consumer-npm-cache');

/**
 * The caller's environment without what our own tooling added: the `npm_*`/`pnpm_*` variables pnpm sets for
 * scripts (they would configure npm as if it ran inside our workspace), vitest's variables, `NODE_OPTIONS`
 * `NODE_ENV` and `NODE_PATH` (pnpm points it into its store, which would let a consumer find packages it never installed). A consumer project sees a plain shell.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const lower = k.toLowerCase();
    if (lower === 'npm_config_registry') env[k] = v;
    else if (/^(npm_|pnpm_|vitest|node_options$|node_env$|node_path$|turbo_)/.test(lower)) continue;
    else env[k] = v;
  }
  return { ...env, ...extra };
}

/** {@link cleanEnv} plus our npm cache and quiet flags. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    npm_config_cache: NPM_CACHE,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_loglevel: 'error',
    npm_config_prefer_offline: 'true',
    ...extra,
  });
}

/** `pnpm pack` each package into `dest` (in parallel); returns package name → tarball path. */
export async function packAll(dirs: readonly PackageDir[], dest: string): Promise<Map<string, string>> {
  await mkdir(dest, { recursive: true });
  const out = new Map<string, string>();
  await Promise.all(
    dirs.map(async (dir) => {
      const cwd = join(ROOT, 'packages', dir);
      const r = await runOk('pnpm', ['pack', '--pack-destination', dest], { cwd, env: { ...process.env, COREPACK_ENABLE_STRICT: '0' } });
      const pkg = readJson(join(cwd, 'package.json'));
      const file = join(dest, `${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}.tgz`);
      if (!existsSync(file)) throw new Error(`pnpm pack in ${cwd} did not write ${file}:\n${r.stdout}${r.stderr}`);
      out.set(pkg.name, file);
    }),
  );
  return out;
}

export interface ConsumerSpec {
  /** The folder name under the work dir. */
  id: string;
  /** Our packages the user asks for, by name (→ `file:<tarball>`). */
  ours: readonly string[];
  /** Third-party packages the user asks for: name → range. */
  thirdParty?: Record<string, string>;
}

/**
 * A fresh npm project in `<work>/<id>` whose package.json lists only what the user asked for. Our other
 * packages are unpublished, so `overrides` points npm at their tarballs wherever they appear in the tree
 * (npm ignores an override for a package the tree does not hold).
 */
export async function installConsumer(work: string, spec: ConsumerSpec, tarballs: ReadonlyMap<string, string>): Promise<string> {
  const dir = join(work, spec.id);
  await mkdir(dir, { recursive: true });
  const dependencies: Record<string, string> = {};
  for (const name of spec.ours) dependencies[name] = `file:${tarballOf(tarballs, name)}`;
  Object.assign(dependencies, spec.thirdParty ?? {});
  const overrides: Record<string, string> = {};
  for (const [name, file] of tarballs) if (!(name in dependencies)) overrides[name] = `file:${file}`;
  const manifest = { name: `consumer-${spec.id}`, version: '1.0.0', private: true, dependencies, overrides };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await runOk('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, env: npmEnv(), timeoutMs: 200_000 });
  return dir;
}

/** `npm install -g --prefix <prefix> <tarballs…>`; returns the prefix. */
export async function installGlobal(prefix: string, names: readonly string[], tarballs: ReadonlyMap<string, string>): Promise<string> {
  await mkdir(prefix, { recursive: true });
  const files = names.map((n) => tarballOf(tarballs, n));
  await runOk('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...files], {
    cwd: prefix,
    env: npmEnv(),
    timeoutMs: 200_000,
  });
  return prefix;
}

export function tarballOf(tarballs: ReadonlyMap<string, string>, name: string): string {
  const file = tarballs.get(name);
  if (!file) throw new Error(`${name} was not packed (is it built?)`);
  return file;
}

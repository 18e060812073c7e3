// Synchronous reads: a one-shot command waits for them anyway, and node:fs/promises would cost a cold `token` ~2 ms to load.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import {
  ENV,
  FileStore,
  ImsTokenError,
  createTokenProvider,
  currentClientSecret,
  defaultCacheDir,
  fromEnv,
  parseSecretLines,
} from '@ims-token/core';
import type { Logger, TokenProvider, TokenProviderOptions } from '@ims-token/core';
import { usageError } from './args';
import type { Context } from './context';
import { readAll } from './io';
import { startSpinner } from './output';
import { SECRET_VARS, layerEnvFile } from './launcher/env-file';
import { CLI_MIN_REMAINING_MS } from './launcher/policy';
import { SCOPE_PRESETS } from './launcher/presets';
import { canPrompt, promptHidden } from './prompt';

/** Where this run keeps tokens. */
export type CacheInfo =
  { kind: 'file'; dir: string; store: FileStore } | { kind: 'memory'; why: string } | { kind: 'redis'; where: string };

export interface CliConfig {
  options: TokenProviderOptions;
  cache: CacheInfo;
  /** Where the secret comes from, for `doctor` (never the secret). */
  secretSource: string;
}

type Env = Record<string, string | undefined>;

export function resolvePath(ctx: Context, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.io.cwd, p);
}

/** Reads a dotenv file (Node's own parser: `KEY=value`, quotes, `#` comments). */
export async function readEnvFile(ctx: Context, path: string): Promise<Env> {
  let text: string;
  const full = resolvePath(ctx, path);
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') {
      // The usual cause: ims-token run from another folder than the one holding the file.
      throw usageError(
        `--env-file ${path}: there is no such file${isAbsolute(path) ? '' : ` in ${ctx.io.cwd}`}.`,
        'A relative --env-file is read from the current directory: cd to the folder that holds it, or pass its full path.',
      );
    }
    throw usageError(`Cannot read --env-file ${path} (${code}).`, `Check that ${full} is a readable file.`);
  }
  return parseEnv(text) as Env;
}

/**
 * The environment this run configures itself from: `--env-file` fills in what the process environment lacks
 * (the real environment wins; the secret source is one unit): the rule of ./launcher/env-file.ts.
 */
export async function loadEnv(ctx: Context): Promise<{ env: Env; fromFile: Env }> {
  const file = ctx.flags['env-file'];
  if (typeof file !== 'string') return { env: { ...ctx.io.env }, fromFile: {} };
  const { env, used } = layerEnvFile(ctx.io.env, await readEnvFile(ctx, file));
  return { env, fromFile: used };
}

/** Reads one or two secrets from stdin (hidden prompt on a terminal), once per run. */
export async function stdinSecrets(ctx: Context): Promise<string[]> {
  if (ctx.stdinSecrets) return ctx.stdinSecrets;
  let text: string;
  if (canPrompt(ctx.io)) text = await promptHidden(ctx.io, 'Client secret (not shown): ');
  else text = await readAll(ctx.io.stdin, 64 * 1024);
  const lines = parseSecretLines(text);
  if (lines.length === 0)
    throw usageError(
      '--client-secret-stdin was given but standard input held no secret.',
      'Pipe the secret in: `printf %s "$SECRET" | ims-token token --client-secret-stdin`.',
    );
  if (lines.length > 2)
    throw usageError(
      `Standard input held ${lines.length} lines; --client-secret-stdin takes one secret, or two during a rotation.`,
      'Pass one secret per line, at most two.',
    );
  ctx.stdinSecrets = lines;
  return lines;
}

/** The CLI's fix for an `IMS_CONFIG` error about each variable (core's hints speak of options, not flags). */
const CONFIG_HINTS: ReadonlyArray<readonly [string, string]> = [
  [ENV.clientId, 'Pass --client-id, or set IMS_CLIENT_ID in the environment or an --env-file.'],
  [
    ENV.clientSecretFile,
    'Point IMS_CLIENT_SECRET_FILE at a readable file whose first line is the secret, or use IMS_CLIENT_SECRET or --client-secret-stdin (only one of them).',
  ],
  [ENV.clientSecretNext, 'Set IMS_CLIENT_SECRET too: IMS_CLIENT_SECRET_NEXT is only the second secret of a rotation.'],
  [
    ENV.clientSecret,
    'Set IMS_CLIENT_SECRET or IMS_CLIENT_SECRET_FILE (in the environment or an --env-file), or pipe the secret to --client-secret-stdin.',
  ],
  [ENV.scopes, 'Pass --scopes or --preset (firefly, io-management), or set IMS_SCOPES.'],
  [ENV.imsUrl, 'Pass a valid --ims-url or fix IMS_URL: https://ims-na1.adobelogin.com (plain http only for 127.0.0.1, e.g. the emulator).'],
  [ENV.tokenCacheKey, 'Unset IMS_TOKEN_CACHE_KEY, or use a redis:// IMS_TOKEN_CACHE (only Redis encrypts tokens at rest).'],
  [ENV.tokenCache, 'Use --cache-dir <dir> or --no-cache, or set IMS_TOKEN_CACHE to file, file:<dir>, memory or a redis:// URL.'],
  [
    ENV.orgId,
    'Pass --org-id, or set IMS_ORG_ID to the numeric org id (the number after /console/projects/ in the Developer Console URL of the project) in the environment or an --env-file.',
  ],
  [
    ENV.credentialId,
    'Pass --credential-id, or set IMS_CREDENTIAL_ID (the number after /credentials/ in the Developer Console URL of the OAuth Server-to-Server credential) in the environment or an --env-file.',
  ],
  [
    ENV.managementUrl,
    'Pass a valid --management-url or fix IMS_MANAGEMENT_URL: https://api.adobe.io (plain http only for 127.0.0.1, e.g. the emulator).',
  ],
];

/**
 * An `IMS_CONFIG` error that names a variable, with the CLI's fix (flags, --env-file) as its hint; any other
 * error as it is. With `ctx`, a missing variable also mentions a `.env` that was not read.
 */
export function cliHint(err: unknown, ctx?: Context): unknown {
  if (!ImsTokenError.is(err) || err.code !== 'IMS_CONFIG') return err;
  const m = err.message;
  let hint = CONFIG_HINTS.find(([name]) => m.startsWith(`${name} `))?.[1];
  if (hint === undefined) return err;
  if (ctx && /is not set/.test(m) && ctx.flags['env-file'] === undefined && existsSync(resolve(ctx.io.cwd, '.env'))) {
    hint += ' (There is a .env here; ims-token reads it only with --env-file .env.)';
  }
  return new ImsTokenError(err.code, m, { hint });
}

function redisWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'redis';
  }
}

/** The flags that stand for a variable (those a command has): they win over the environment and `--env-file`. */
const FLAG_VARS: ReadonlyArray<readonly [string, string]> = [
  ['client-id', ENV.clientId],
  ['ims-url', ENV.imsUrl],
  ['org-id', ENV.orgId],
  ['credential-id', ENV.credentialId],
  ['management-url', ENV.managementUrl],
];

/** Puts the flags (--client-id, --preset, --scopes, --ims-url, and the secrets commands' IDs) over `env`: flags win. */
export function applyFlags(ctx: Context, env: Env): void {
  const f = ctx.flags;
  for (const [flag, name] of FLAG_VARS) {
    const v = f[flag];
    if (typeof v === 'string') env[name] = v;
  }
  if (typeof f.preset === 'string') {
    const scopes = (SCOPE_PRESETS as Record<string, string>)[f.preset];
    if (scopes === undefined)
      throw usageError(
        `Unknown --preset "${f.preset.slice(0, 40)}".`,
        `Use one of: ${Object.keys(SCOPE_PRESETS).join(', ')}; or pass --scopes.`,
      );
    if (typeof f.scopes !== 'string') env[ENV.scopes] = scopes;
  }
  if (typeof f.scopes === 'string') env[ENV.scopes] = f.scopes;
}

/**
 * The configuration of this run, before the secret: `--env-file` under the environment (./launcher/env-file.ts),
 * flags over both. `fromFile` holds the variables that came from the file.
 */
export async function cliEnv(ctx: Context): Promise<{ env: Env; fromFile: Env }> {
  const loaded = await loadEnv(ctx);
  applyFlags(ctx, loaded.env);
  return loaded;
}

/** Where this run's secret comes from, for messages (never the secret). */
export interface SecretSource {
  /** Every secret configured: `IMS_CLIENT_SECRET + IMS_CLIENT_SECRET_NEXT`, `two secrets from stdin`, …; `none`. */
  all: string;
  /** The first (current) one: `IMS_CLIENT_SECRET`, `IMS_CLIENT_SECRET_FILE from .env (path)`, `stdin`; `none`. */
  first: string;
}

/**
 * The secret source of this run, one rule for every command: `--client-secret-stdin` (its one or two secrets
 * replace the secret variables in `env`), else `IMS_CLIENT_SECRET_FILE`, else `IMS_CLIENT_SECRET` (and
 * `IMS_CLIENT_SECRET_NEXT`). Never a flag value. Core checks the combination (e.g. a file and a secret).
 */
export async function resolveSecretSource(ctx: Context, env: Env, fromFile: Env): Promise<SecretSource> {
  const where = (name: string): string => (fromFile[name] !== undefined ? `${name} from ${String(ctx.flags['env-file'])}` : name);
  if (ctx.flags['client-secret-stdin'] === true) {
    const secrets = await stdinSecrets(ctx);
    for (const v of SECRET_VARS) delete env[v];
    env[ENV.clientSecret] = secrets[0];
    if (secrets[1] !== undefined) env[ENV.clientSecretNext] = secrets[1];
    return { all: secrets.length === 2 ? 'two secrets from stdin' : 'stdin', first: 'stdin' };
  }
  const file = env[ENV.clientSecretFile]?.trim();
  if (file) {
    const source = `${where(ENV.clientSecretFile)} (${file})`;
    return { all: source, first: source };
  }
  if (env[ENV.clientSecret]?.trim()) {
    const first = where(ENV.clientSecret);
    return { all: env[ENV.clientSecretNext]?.trim() ? `${first} + ${ENV.clientSecretNext}` : first, first };
  }
  return { all: 'none', first: 'none' };
}

/**
 * The current (first) secret of `env` after {@link resolveSecretSource}, for a command that needs its value (a
 * rotation writes it back as the old secret): core's `currentClientSecret` (`IMS_CLIENT_SECRET`, or the first secret
 * line of `IMS_CLIENT_SECRET_FILE`, read now from the working directory), with the CLI's hints on its errors.
 */
export function readCurrentSecret(ctx: Context, env: Env): string {
  try {
    return currentClientSecret(env, { cwd: ctx.io.cwd });
  } catch (err) {
    throw cliHint(err);
  }
}

/**
 * Builds the provider options of this run. Precedence: flags, then the environment, then `--env-file`.
 * (status, inspect and cache clear never mint: they read the cache through ./cache-target.ts.)
 */
export async function resolveConfig(ctx: Context): Promise<CliConfig> {
  const { env, fromFile } = await cliEnv(ctx);
  const secretSource = (await resolveSecretSource(ctx, env, fromFile)).all;

  const cacheVar = env[ENV.tokenCache]?.trim();
  delete env[ENV.tokenCache];
  const cache = resolveCache(ctx, env, cacheVar);
  if (cache.kind === 'redis') env[ENV.tokenCache] = cacheVar; // core loads @ims-token/redis, or says why the value is wrong

  let options: TokenProviderOptions;
  try {
    options = fromEnv(env);
  } catch (err) {
    throw cliHint(err, ctx);
  }
  if (cache.kind === 'file') options.store = cache.store;
  return { options, cache, secretSource };
}

/** The cache of this run: --no-cache / --cache-dir, then IMS_TOKEN_CACHE, then a FileStore in the default directory. */
export function resolveCache(ctx: Context, env: Env, cacheVar = env[ENV.tokenCache]?.trim()): CacheInfo {
  const f = ctx.flags;
  if (f['no-cache'] === true) return { kind: 'memory', why: '--no-cache' };
  if (typeof f['cache-dir'] === 'string') return fileCache(ctx, resolvePath(ctx, f['cache-dir']));
  if (!cacheVar || cacheVar === 'file') return fileCache(ctx, defaultCacheDir(env as NodeJS.ProcessEnv));
  if (cacheVar === 'memory') return { kind: 'memory', why: `${ENV.tokenCache}=memory` };
  if (cacheVar.startsWith('file:') && cacheVar.length > 5) return fileCache(ctx, resolvePath(ctx, cacheVar.slice(5)));
  return { kind: 'redis', where: redisWhere(cacheVar) };
}

/**
 * The CLI's file cache: an untrusted directory or token file (not yours, writable by others, a link) stops the
 * run with an `IMS_CONFIG` error naming the path and the fix; a write that fails is a warning on stderr.
 */
function fileCache(ctx: Context, dir: string): CacheInfo {
  const noop = (): void => {};
  const warn = (_obj: object, msg?: string): void =>
    ctx.note(`ims-token: ${ctx.err.yellow('warning')}: ${(msg ?? '').replace(/^ims-token: /, '')}.`);
  return { kind: 'file', dir, store: new FileStore({ dir, onUntrusted: 'error', logger: { debug: noop, info: noop, warn, error: noop } }) };
}

/**
 * The logger of this run: a retry updates the spinner; with --verbose, every line but errors goes to stderr
 * (errors reach the user as the command's own error). `skip` drops lines the command reports itself.
 */
export function cliLogger(ctx: Context, skip?: (msg: string) => boolean): Logger {
  const verbose = ctx.flags.verbose === true;
  const line =
    (level: string) =>
    (obj: object, msg?: string): void => {
      const o = obj as Record<string, unknown>;
      if (msg?.includes('retrying') && ctx.spinner) {
        ctx.spinner.update(`IMS answered ${String(o.code)}; retrying (attempt ${String(o.attempt)})…`);
      }
      if (!verbose || level === 'error' || (msg !== undefined && skip?.(msg))) return;
      const fields = Object.entries(o)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      ctx.spinner?.update('');
      ctx.note(ctx.err.dim(`${msg ?? 'ims-token'}${fields ? ` (${fields})` : ''}`));
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** The provider of this run, logging retries to the spinner and, with --verbose, to stderr. */
export function createProvider(ctx: Context, config: CliConfig, extra: Partial<TokenProviderOptions> = {}): TokenProvider {
  return createTokenProvider({ ...config.options, minRemainingMs: CLI_MIN_REMAINING_MS, logger: cliLogger(ctx), ...extra });
}

/** Runs `fn` with a spinner on stderr (only on a terminal, only after a moment). */
export async function withSpinner<T>(ctx: Context, label: string, fn: () => Promise<T>): Promise<T> {
  ctx.spinner = ctx.flags.verbose === true ? undefined : startSpinner(ctx.io, label);
  try {
    return await fn();
  } finally {
    ctx.spinner?.stop();
    ctx.spinner = undefined;
  }
}

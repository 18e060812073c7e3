/**
 * The warm path of `ims-token token`, without loading `@ims-token/core` or the rest of the CLI.
 *
 * A script that calls `ims-token token` a hundred times pays Node's start-up plus this module
 * (node builtins only): it finds the cached token file, checks it, prints it. Whenever anything is not
 * plainly the common case (an option it does not know, a config core would reject, no cached token,
 * a token due for refresh, any error), it answers `undefined` and the full CLI runs instead, which is
 * always correct. So this path can only be faster, never different.
 *
 * It mirrors three things of core: `fromEnv`'s checks, the provider's cache key
 * (`ims-` + sha256(imsUrl \n clientId \n sorted scopes), 32 hex) and `FileStore`'s file layout.
 * fast-path.test.ts pins them to core's own `cacheKey` and files.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import {
  DEFAULT_IMS_URL,
  cacheKeyFor,
  defaultCacheDir,
  normalizeImsUrl,
  normalizeScopes,
  cacheFilePath,
  parseSecretLines,
  readCacheFileSync,
} from '@ims-token/core/cache';
import { layerEnvFile } from './env-file';
import { formatToken } from './format';
import type { TokenFormat } from './format';
import { serveUntil } from './policy';
import { SCOPE_PRESETS } from './presets';

type Env = Record<string, string | undefined>;

const STRING_OPTIONS = new Set(['env-file', 'client-id', 'scopes', 'preset', 'ims-url', 'cache-dir']);

function trimmed(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function parseArgv(argv: readonly string[]): { flags: Map<string, string>; format: TokenFormat } | undefined {
  const flags = new Map<string, string>();
  let command = false;
  let json = false;
  let header = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === 'token' && !command) command = true;
    else if (a === '--json') json = true;
    else if (a === '--header') header = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      if (!STRING_OPTIONS.has(name)) return undefined;
      const value = eq === -1 ? argv[++i] : a.slice(eq + 1);
      if (value === undefined || (eq === -1 && value.startsWith('-'))) return undefined;
      flags.set(name, value);
    } else return undefined;
  }
  if (!command || (json && header)) return undefined;
  return { flags, format: json ? 'json' : header ? 'header' : 'plain' };
}

/** One or two secrets in the file, as core's secret source requires (it reads the file before the cache). */
function secretFileOk(path: string): boolean {
  try {
    const n = parseSecretLines(readFileSync(path, 'utf8')).length;
    return n >= 1 && n <= 2;
  } catch {
    return false;
  }
}

/**
 * The text `ims-token <argv>` prints, when it is a `token` run that a cached token answers; else `undefined`.
 * Never throws.
 */
export function fastToken(argv: readonly string[], processEnv: Env, cwd: string, now = Date.now()): string | undefined {
  try {
    const parsed = parseArgv(argv);
    if (!parsed) return undefined;
    const { flags, format } = parsed;
    const path = (p: string): string => (isAbsolute(p) ? p : resolve(cwd, p));

    // Layers: --env-file under the environment (./env-file.ts), then flags.
    const envFile = flags.get('env-file');
    const env: Env =
      envFile === undefined ? { ...processEnv } : layerEnvFile(processEnv, parseEnv(readFileSync(path(envFile), 'utf8')) as Env).env;
    const preset = flags.get('preset');
    if (preset !== undefined && !Object.hasOwn(SCOPE_PRESETS, preset)) return undefined;
    const clientId = trimmed(flags.get('client-id') ?? env.IMS_CLIENT_ID);
    const scopesRaw = trimmed(
      flags.get('scopes') ?? (preset !== undefined ? SCOPE_PRESETS[preset as keyof typeof SCOPE_PRESETS] : env.IMS_SCOPES),
    );
    const urlRaw = trimmed(flags.get('ims-url') ?? env.IMS_URL);

    // What fromEnv would refuse, the full CLI reports. IMS_TOKEN_CACHE_KEY (Redis encryption) never goes with a
    // file cache: the full CLI says so.
    if (trimmed(env.IMS_TOKEN_CACHE_KEY) !== undefined) return undefined;
    if (!clientId || /[\s,]/.test(clientId) || !scopesRaw) return undefined;
    const secret = trimmed(env.IMS_CLIENT_SECRET);
    const next = trimmed(env.IMS_CLIENT_SECRET_NEXT);
    const file = trimmed(env.IMS_CLIENT_SECRET_FILE);
    if (file ? secret || next || !secretFileOk(file) : !secret) return undefined;
    // core's own rules (they throw for what fromEnv would refuse: caught below, and the full CLI reports it)
    const scopes = normalizeScopes(scopesRaw);
    const imsUrl = normalizeImsUrl(urlRaw ?? DEFAULT_IMS_URL);

    // The cache: --cache-dir, IMS_TOKEN_CACHE=file|file:<dir>, or FileStore's default directory.
    let dir: string;
    const cacheDir = flags.get('cache-dir');
    const cacheVar = trimmed(env.IMS_TOKEN_CACHE);
    if (cacheDir !== undefined) dir = path(cacheDir);
    else if (cacheVar === undefined || cacheVar === 'file') dir = defaultCacheDir(env);
    else if (cacheVar.startsWith('file:') && cacheVar.length > 5) dir = path(cacheVar.slice(5));
    else return undefined;

    // The full CLI reports an untrusted cache (not yours, writable by others, a link): here it is just a miss.
    const key = cacheKeyFor(imsUrl, clientId, scopes);
    const read = readCacheFileSync(dir, cacheFilePath(dir, key), now, { key, clientId, scopes });
    // (the reader checked it is this client's token for these scopes: printed as read)
    if (read.kind !== 'token' || now >= serveUntil(read.token)) return undefined;
    return formatToken(read.token, format, now);
  } catch {
    return undefined;
  }
}

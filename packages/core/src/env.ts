import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeImsUrl, normalizeScopes } from './config';
import type { TokenProviderOptions } from './config';
import { ImsTokenError, configError } from './errors';
import { DEFAULT_IMS_URL, cacheKeyFor, defaultCacheDir } from './cache';
import { FileStore } from './file-store';
import { ATTACH_LOGGER, OWNED_STORE } from './provider';
import type { Logger } from './config';
import { hiddenSecret } from './secret-source';
import type { TokenStore } from './store';
import type { ImsToken } from './token';

/** The environment variables ims-token reads. */
export const ENV = {
  clientId: 'IMS_CLIENT_ID',
  clientSecret: 'IMS_CLIENT_SECRET',
  clientSecretNext: 'IMS_CLIENT_SECRET_NEXT',
  clientSecretFile: 'IMS_CLIENT_SECRET_FILE',
  scopes: 'IMS_SCOPES',
  imsUrl: 'IMS_URL',
  tokenCache: 'IMS_TOKEN_CACHE',
  tokenCacheKey: 'IMS_TOKEN_CACHE_KEY',
  orgId: 'IMS_ORG_ID',
  credentialId: 'IMS_CREDENTIAL_ID',
  managementUrl: 'IMS_MANAGEMENT_URL',
} as const;

/** The variable `name` of `env`, trimmed; `undefined` when unset or blank. */
export function readEnvVar(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** The credential as the environment gives it: read once here for {@link fromEnv} and `secretsClientFromEnv`. */
export interface CredentialEnv {
  readonly clientId: string;
  /** `IMS_CLIENT_SECRET_FILE`, or `IMS_CLIENT_SECRET` (and `IMS_CLIENT_SECRET_NEXT`). */
  readonly secret: { readonly file: string } | { readonly values: readonly [string] | readonly [string, string] };
  readonly imsUrl: string | undefined;
}

/**
 * Reads `IMS_CLIENT_ID`, the secret source (`IMS_CLIENT_SECRET` [+ `IMS_CLIENT_SECRET_NEXT`] or
 * `IMS_CLIENT_SECRET_FILE`) and `IMS_URL`, with the rules every reader shares; `IMS_CONFIG` naming the variable.
 *
 * @example
 * ```ts
 * const { clientId, secret } = readCredentialEnv(process.env)
 * ```
 */
export function readCredentialEnv(env: Record<string, string | undefined>): CredentialEnv {
  const clientId = readClientId(env);
  const secret = readEnvVar(env, ENV.clientSecret);
  const next = readEnvVar(env, ENV.clientSecretNext);
  const file = readEnvVar(env, ENV.clientSecretFile);
  if (file && (secret || next)) {
    throw configError(ENV.clientSecretFile, `is set together with ${ENV.clientSecret}; set only one of them`);
  }
  if (!file && !secret) {
    throw configError(ENV.clientSecret, `is not set (or set ${ENV.clientSecretFile} to a file holding it)`);
  }
  if (next && !secret) throw configError(ENV.clientSecretNext, `is set but ${ENV.clientSecret} is not`);
  return { clientId, secret: file ? { file } : { values: next ? [secret!, next] : [secret!] }, imsUrl: readImsUrl(env) };
}

function readClientId(env: Record<string, string | undefined>): string {
  const clientId = readEnvVar(env, ENV.clientId);
  if (!clientId) throw configError(ENV.clientId, 'is not set (the client ID of the OAuth Server-to-Server credential)');
  if (/[\s,]/.test(clientId)) throw configError(ENV.clientId, 'must not contain spaces or commas');
  return clientId;
}

function readImsUrl(env: Record<string, string | undefined>): string | undefined {
  const raw = readEnvVar(env, ENV.imsUrl);
  return raw ? normalizeImsUrl(raw, ENV.imsUrl) : undefined;
}

function readScopes(env: Record<string, string | undefined>): string[] {
  const raw = readEnvVar(env, ENV.scopes);
  if (!raw) throw configError(ENV.scopes, 'is not set (comma-separated scopes, e.g. openid,AdobeID,firefly_api)');
  try {
    return normalizeScopes(raw, ENV.scopes);
  } catch {
    throw configError(ENV.scopes, 'must be a comma-separated list of scopes without spaces inside a scope');
  }
}

/**
 * Builds provider options from `IMS_*` environment variables. Throws `IMS_CONFIG` naming the variable
 * that is missing or wrong (never its value). The secret is wrapped so that logging the returned options
 * (`util.inspect`, `JSON.stringify`) shows `[redacted]`.
 *
 * | variable | meaning |
 * |---|---|
 * | `IMS_CLIENT_ID` | client ID (API key), required |
 * | `IMS_CLIENT_SECRET` | client secret, required unless `IMS_CLIENT_SECRET_FILE` is set |
 * | `IMS_CLIENT_SECRET_NEXT` | a second secret during a rotation |
 * | `IMS_CLIENT_SECRET_FILE` | a file with one or two secrets, one per line, re-read when it changes |
 * | `IMS_SCOPES` | comma-separated scopes, required |
 * | `IMS_URL` | IMS base URL, default `https://ims-na1.adobelogin.com` |
 * | `IMS_TOKEN_CACHE` | `memory` (default), `file`, `file:<dir>`, or a `redis://` / `rediss://` URL (needs `@ims-token/redis`) |
 *
 * @example
 * ```ts
 * const provider = createTokenProvider({ ...fromEnv(), logger: pino() })
 * ```
 */
export function fromEnv(env: Record<string, string | undefined> = process.env): TokenProviderOptions {
  const cred = readCredentialEnv(env);
  const scopes = readScopes(env);
  const store = storeFor(env);
  return {
    clientId: cred.clientId,
    ...('file' in cred.secret ? { clientSecretFile: cred.secret.file } : { clientSecret: hiddenSecret([...cred.secret.values]) }),
    scopes,
    ...(cred.imsUrl ? { imsUrl: cred.imsUrl } : {}),
    ...(store ? { store: owned(store) } : {}),
  };
}

/** Where the token of the credential that the environment names is cached: see {@link cacheEntryFromEnv}. */
export interface CacheEntryEnv {
  readonly clientId: string;
  /** Normalised (trimmed, without duplicates). */
  readonly scopes: readonly string[];
  /** Normalised; `https://ims-na1.adobelogin.com` unless `IMS_URL` says otherwise. */
  readonly imsUrl: string;
  /** The store key: a hash of the IMS URL, client ID and sorted scopes (never of the secret). */
  readonly key: string;
  /** The store `IMS_TOKEN_CACHE` (and `IMS_TOKEN_CACHE_KEY`) name; none for `memory` or unset. Close it when done. */
  readonly store?: TokenStore;
}

/**
 * The cache entry of the credential that the environment names, with {@link fromEnv}'s rules for
 * `IMS_CLIENT_ID`, `IMS_URL`, `IMS_SCOPES`, `IMS_TOKEN_CACHE` and `IMS_TOKEN_CACHE_KEY` — without a secret: for a
 * tool that reads or clears a cached token and never mints. Throws `IMS_CONFIG` naming the variable. Nothing is
 * sent and no store is connected to until it is used.
 *
 * @example
 * ```ts
 * const { key, store } = cacheEntryFromEnv({ ...process.env, IMS_TOKEN_CACHE: 'file' })
 * const token = await store?.get(key)
 * await store?.close?.()
 * ```
 */
export function cacheEntryFromEnv(env: Record<string, string | undefined> = process.env): CacheEntryEnv {
  const clientId = readClientId(env);
  const imsUrl = readImsUrl(env) ?? DEFAULT_IMS_URL;
  const scopes = readScopes(env);
  const store = storeFor(env);
  return { clientId, scopes, imsUrl, key: cacheKeyFor(imsUrl, clientId, scopes), ...(store ? { store } : {}) };
}

function owned<T extends TokenStore>(store: T): T {
  Object.defineProperty(store, OWNED_STORE, { value: true });
  return store;
}

/** Interprets `IMS_TOKEN_CACHE` and `IMS_TOKEN_CACHE_KEY` (the caller owns the store). */
function storeFor(env: Record<string, string | undefined>): TokenStore | undefined {
  const value = readEnvVar(env, ENV.tokenCache);
  const encryptionKey = readEnvVar(env, ENV.tokenCacheKey);
  if (encryptionKey !== undefined && !(value !== undefined && /^rediss?:\/\//i.test(value))) {
    throw configError(
      ENV.tokenCacheKey,
      'is set, but only a redis:// or rediss:// IMS_TOKEN_CACHE encrypts tokens at rest; unset it or use Redis',
    );
  }
  if (value === undefined || value === 'memory') return undefined;
  if (value === 'file') return new FileStore({ dir: defaultCacheDir(env) });
  if (value.startsWith('file:')) {
    const dir = value.slice('file:'.length);
    if (!dir) throw configError(ENV.tokenCache, 'is "file:" without a directory (use file or file:/path/to/dir)');
    return new FileStore({ dir });
  }
  if (/^rediss?:\/\//i.test(value)) return new LazyRedisStore(value, encryptionKey);
  throw configError(ENV.tokenCache, 'must be memory, file, file:<dir>, or a redis:// or rediss:// URL');
}

interface RedisModule {
  RedisStore: new (options: { url: string; encryptionKey?: string; logger?: Logger }) => TokenStore;
}

async function loadRedis(): Promise<RedisModule> {
  const name = '@ims-token/redis';
  try {
    return (await import(name)) as RedisModule;
  } catch {
    // Not reachable from core itself (pnpm keeps packages out of each other's reach): ask the application.
  }
  // Resolve from the application: its working directory, then its main script.
  const bases = [join(process.cwd(), 'package.json'), process.argv[1]].filter((b): b is string => typeof b === 'string' && b !== '');
  for (const base of bases) {
    try {
      const req = process.getBuiltinModule('node:module').createRequire(base); // not at import: node:module loads the ESM loader
      return (await import(pathToFileURL(req.resolve(name)).href)) as RedisModule;
    } catch {
      // next base
    }
  }
  throw new ImsTokenError('IMS_CONFIG', `${ENV.tokenCache} is a Redis URL, but @ims-token/redis is not installed.`, {
    hint: 'Run `npm install @ims-token/redis` in your application, or set IMS_TOKEN_CACHE=memory.',
  });
}

/** A `RedisStore` from `@ims-token/redis`, loaded on first use so that core neither depends on it nor pays for it. */
class LazyRedisStore implements TokenStore {
  readonly #url: string;
  readonly #key: string | undefined;
  #logger: Logger | undefined;
  #store: Promise<TokenStore> | undefined;

  [ATTACH_LOGGER](logger: Logger): void {
    this.#logger = logger;
  }

  constructor(url: string, key: string | undefined) {
    this.#url = url;
    this.#key = key;
  }

  #load(): Promise<TokenStore> {
    this.#store ??= loadRedis().then(
      (m) =>
        new m.RedisStore({
          url: this.#url,
          ...(this.#key ? { encryptionKey: this.#key } : {}),
          ...(this.#logger ? { logger: this.#logger } : {}),
        }),
    );
    return this.#store;
  }

  async get(key: string): Promise<ImsToken | undefined> {
    return (await this.#load()).get(key);
  }

  async set(key: string, token: ImsToken): Promise<void> {
    return (await this.#load()).set(key, token);
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    return (await this.#load()).delete(key, accessToken);
  }

  async withLock<T>(key: string, fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T> {
    const s = await this.#load();
    return s.withLock ? s.withLock(key, fn, options) : fn();
  }

  async close(): Promise<void> {
    if (this.#store) await (await this.#store).close?.();
  }
}

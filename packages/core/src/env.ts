import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeImsUrl, normalizeScopes } from './config';
import type { TokenProviderOptions } from './config';
import { ImsTokenError, configError } from './errors';
import { defaultCacheDir } from './cache';
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

function read(env: Record<string, string | undefined>, name: string): string | undefined {
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
  const clientId = read(env, ENV.clientId);
  if (!clientId) throw configError(ENV.clientId, 'is not set (the client ID of the OAuth Server-to-Server credential)');
  if (/[\s,]/.test(clientId)) throw configError(ENV.clientId, 'must not contain spaces or commas');
  const secret = read(env, ENV.clientSecret);
  const next = read(env, ENV.clientSecretNext);
  const file = read(env, ENV.clientSecretFile);
  if (file && (secret || next)) {
    throw configError(ENV.clientSecretFile, `is set together with ${ENV.clientSecret}; set only one of them`);
  }
  if (!file && !secret) {
    throw configError(ENV.clientSecret, `is not set (or set ${ENV.clientSecretFile} to a file holding it)`);
  }
  if (next && !secret) throw configError(ENV.clientSecretNext, `is set but ${ENV.clientSecret} is not`);
  const imsUrlRaw = read(env, ENV.imsUrl);
  return {
    clientId,
    secret: file ? { file } : { values: next ? [secret!, next] : [secret!] },
    imsUrl: imsUrlRaw ? normalizeImsUrl(imsUrlRaw, ENV.imsUrl) : undefined,
  };
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
  const scopesRaw = read(env, ENV.scopes);
  if (!scopesRaw) throw configError(ENV.scopes, 'is not set (comma-separated scopes, e.g. openid,AdobeID,firefly_api)');
  let scopes: string[];
  try {
    scopes = normalizeScopes(scopesRaw, ENV.scopes);
  } catch {
    throw configError(ENV.scopes, 'must be a comma-separated list of scopes without spaces inside a scope');
  }
  const store = storeFromEnv(read(env, ENV.tokenCache), read(env, ENV.tokenCacheKey), env);
  return {
    clientId: cred.clientId,
    ...('file' in cred.secret ? { clientSecretFile: cred.secret.file } : { clientSecret: hiddenSecret([...cred.secret.values]) }),
    scopes,
    ...(cred.imsUrl ? { imsUrl: cred.imsUrl } : {}),
    ...(store ? { store } : {}),
  };
}

function owned<T extends TokenStore>(store: T): T {
  Object.defineProperty(store, OWNED_STORE, { value: true });
  return store;
}

/** Interprets `IMS_TOKEN_CACHE`. */
function storeFromEnv(
  value: string | undefined,
  encryptionKey?: string,
  env: Record<string, string | undefined> = process.env,
): TokenStore | undefined {
  if (encryptionKey !== undefined && !(value !== undefined && /^rediss?:\/\//i.test(value))) {
    throw configError(
      ENV.tokenCacheKey,
      'is set, but only a redis:// or rediss:// IMS_TOKEN_CACHE encrypts tokens at rest; unset it or use Redis',
    );
  }
  if (value === undefined || value === 'memory') return undefined;
  if (value === 'file') return owned(new FileStore({ dir: defaultCacheDir(env) }));
  if (value.startsWith('file:')) {
    const dir = value.slice('file:'.length);
    if (!dir) throw configError(ENV.tokenCache, 'is "file:" without a directory (use file or file:/path/to/dir)');
    return owned(new FileStore({ dir }));
  }
  if (/^rediss?:\/\//i.test(value)) return owned(new LazyRedisStore(value, encryptionKey));
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

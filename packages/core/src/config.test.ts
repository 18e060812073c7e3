import { describe, expect, it } from 'vitest';
import { createTokenProvider } from './provider';
import type { TokenProviderOptions } from './config';
import { cacheEntryFromEnv, fromEnv } from './env';
import type { ImsTokenError } from './errors';
import { FileStore } from './file-store';
import { configErrorOf, setup } from './test/helpers';
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const base: TokenProviderOptions = { clientId: 'abc123', clientSecret: 'p8e-SECRET-VALUE-1234', scopes: ['openid'] };

function configError(fn: () => unknown): ImsTokenError {
  const err = configErrorOf(fn);
  expect(err.message).not.toContain('p8e-SECRET-VALUE-1234');
  return err;
}

describe('createTokenProvider validates its options', () => {
  it.each<[string, Partial<Record<keyof TokenProviderOptions, unknown>>, string, RegExp]>([
    ['missing clientId', { clientId: undefined }, 'clientId', /^clientId is required/],
    ['empty clientId', { clientId: '  ' }, 'clientId', /^clientId must not be empty/],
    ['clientId with a comma', { clientId: 'a,b' }, 'clientId', /^clientId /],
    ['missing secret', { clientSecret: undefined }, 'clientSecret', /^clientSecret is required/],
    ['empty secret', { clientSecret: '' }, 'clientSecret', /^clientSecret /],
    ['three secrets', { clientSecret: ['a', 'b', 'c'] }, 'clientSecret', /^clientSecret may hold at most two secrets/],
    ['no secret in an array', { clientSecret: [] }, 'clientSecret', /^clientSecret must hold one or two secrets/],
    ['an empty secret in an array', { clientSecret: ['a', ' '] }, 'clientSecret.1', /^clientSecret\.1 must not be empty/],
    ['a number as secret', { clientSecret: 42 }, 'clientSecret', /^clientSecret must be a non-empty string, an array/],
    ['secret and secret file', { clientSecretFile: '/tmp/x' }, 'clientSecretFile', /^clientSecretFile is set together with clientSecret/],
    ['missing scopes', { scopes: undefined }, 'scopes', /^scopes /],
    ['empty scopes', { scopes: ' , ' }, 'scopes', /^scopes must name at least one scope/],
    ['empty scope array', { scopes: [] }, 'scopes', /^scopes /],
    ['a scope with a space', { scopes: 'openid AdobeID' }, 'scopes', /^scopes must not contain spaces inside a scope/],
    ['plain http IMS', { imsUrl: 'http://ims-na1.adobelogin.com' }, 'imsUrl', /^imsUrl must use https/],
    ['ftp IMS', { imsUrl: 'ftp://ims' }, 'imsUrl', /^imsUrl must be an https URL/],
    ['not a URL', { imsUrl: 'ims-na1' }, 'imsUrl', /^imsUrl is not a valid URL/],
    ['URL with a query', { imsUrl: 'https://ims-na1.adobelogin.com/?client_secret=x' }, 'imsUrl', /^imsUrl must not have a query/],
    ['URL with credentials', { imsUrl: 'https://u:p@ims-na1.adobelogin.com' }, 'imsUrl', /^imsUrl must not contain credentials/],
    ['negative timeout', { timeoutMs: -1 }, 'timeoutMs', /^timeoutMs must be at least 1\./],
    ['a timeout past 10 min', { timeoutMs: 600_001 }, 'timeoutMs', /^timeoutMs must be at most 600000\./],
    ['NaN as a timeout', { timeoutMs: NaN }, 'timeoutMs', /^timeoutMs must be a number of milliseconds\./],
    ['a string as a window', { refreshWindowMs: '5' }, 'refreshWindowMs', /^refreshWindowMs must be a number of milliseconds\./],
    ['a negative back-off', { retryBaseDelayMs: -5 }, 'retryBaseDelayMs', /^retryBaseDelayMs must not be negative\./],
    ['21 retries', { maxRetries: 21 }, 'maxRetries', /^maxRetries must be at most 20\./],
    [
      'a secret file that is not a string',
      { clientSecret: undefined, clientSecretFile: 5 },
      'clientSecretFile',
      /^clientSecretFile must be a string/,
    ],
    ['an imsUrl that is not a string', { imsUrl: new URL('https://ims-na1.adobelogin.com') }, 'imsUrl', /^imsUrl must be a URL string/],
    ['a logger that is not an object', { logger: 'pino' }, 'logger', /^logger must be a logger object/],
    ['a dispatcher without dispatch', { dispatcher: {} }, 'dispatcher', /^dispatcher must be an undici Dispatcher/],
    ['two bad fields: the first one named', { clientSecret: undefined, timeoutMs: 0 }, 'timeoutMs', /^timeoutMs must be at least 1/],
    ['fractional retries', { maxRetries: 1.5 }, 'maxRetries', /^maxRetries must be a whole number/],
    ['a store without get', { store: { set() {}, delete() {} } }, 'store', /^store must implement get, set and delete/],
    ['a clock that is not a function', { clock: 5 }, 'clock', /^clock /],
  ])('%s', (_name, patch, field, message) => {
    const e = configError(() => createTokenProvider({ ...base, ...patch } as TokenProviderOptions));
    expect(e.field).toBe(field); // programs read the field; people read the message
    expect(e.message).toMatch(message);
  });

  it('accepts http for loopback hosts only (the emulator)', () => {
    for (const imsUrl of ['http://127.0.0.1:9000', 'http://localhost:9000/', 'http://[::1]:9000']) {
      expect(createTokenProvider({ ...base, imsUrl }).imsUrl).toBe(imsUrl.replace(/\/$/, ''));
    }
  });

  it('normalises scopes and derives a cache key that ignores their order and the secret', () => {
    const a = createTokenProvider({ ...base, scopes: ' openid, AdobeID ,openid' });
    const b = createTokenProvider({ ...base, clientSecret: 'other', scopes: ['AdobeID', 'openid'] });
    expect(a.scopes).toEqual(['openid', 'AdobeID']);
    expect(a.cacheKey).toBe(b.cacheKey);
    expect(createTokenProvider({ ...base, scopes: 'openid,firefly_api' }).cacheKey).not.toBe(a.cacheKey);
  });

  it('keeps the cache key of earlier versions: tokens are stored under it in files and in Redis', () => {
    // SHA-256 of "https://ims-na1.adobelogin.com\nabc123\nAdobeID,firefly_api,openid", as 0.x has always computed it.
    expect(createTokenProvider({ ...base, scopes: 'openid,AdobeID,firefly_api' }).cacheKey).toBe('ims-33a641931b285f246ccfe7c50c324754');
  });

  it('a missing options object is IMS_CONFIG', () => {
    for (const options of [undefined, null, 'abc123', []]) {
      expect(configError(() => createTokenProvider(options as unknown as TokenProviderOptions)).message).toMatch(/needs an options object/);
    }
  });

  it('trims the client id and the secrets it is given (a pasted newline does not break a mint)', async () => {
    const env = await setup();
    try {
      const p = env.make({ clientId: ` ${env.clientId}\n`, clientSecret: [`  ${env.secret}\n`] });
      expect(p.clientId).toBe(env.clientId);
      expect((await p.getToken()).clientId).toBe(env.clientId);
      expect(p.status().secret).toEqual({ source: 'static', index: 0, count: 1 });
    } finally {
      await env.cleanup();
    }
  });
});

describe('fromEnv', () => {
  const env = { IMS_CLIENT_ID: 'abc123', IMS_CLIENT_SECRET: 'p8e-SECRET-VALUE-1234', IMS_SCOPES: 'openid,AdobeID' };

  it('reads the IMS_* variables, and hides the secret from inspect and JSON', () => {
    const o = fromEnv(env);
    expect(o).toMatchObject({ clientId: 'abc123', scopes: ['openid', 'AdobeID'] });
    expect((o.clientSecret as () => string[])()).toEqual(['p8e-SECRET-VALUE-1234']);
    expect(inspect(o) + JSON.stringify(o)).not.toContain('p8e-SECRET-VALUE-1234');
    expect(createTokenProvider(o).status().secret).toEqual({ source: 'static', index: 0, count: 1 });
    const two = fromEnv({ ...env, IMS_CLIENT_SECRET_NEXT: 'next-secret', IMS_URL: 'https://ims-na1-stg1.adobelogin.com/' });
    expect(two.imsUrl).toBe('https://ims-na1-stg1.adobelogin.com');
    expect((two.clientSecret as () => string[])()).toEqual(['p8e-SECRET-VALUE-1234', 'next-secret']);
    expect(inspect({ ...two })).not.toContain('next-secret');
    expect(fromEnv({ ...env, IMS_CLIENT_SECRET: undefined, IMS_CLIENT_SECRET_FILE: '/run/secrets/ims' })).toMatchObject({
      clientSecretFile: '/run/secrets/ims',
    });
  });

  it('chooses the token cache from IMS_TOKEN_CACHE', () => {
    expect(fromEnv({ ...env, IMS_TOKEN_CACHE: 'memory' }).store).toBeUndefined();
    expect(fromEnv({ ...env, IMS_TOKEN_CACHE: 'file' }).store).toBeInstanceOf(FileStore);
    expect((fromEnv({ ...env, IMS_TOKEN_CACHE: 'file:/tmp/ims-cache' }).store as FileStore).dir).toBe('/tmp/ims-cache');
    expect((fromEnv({ ...env, IMS_TOKEN_CACHE: 'file', XDG_CACHE_HOME: '/srv/cache' }).store as FileStore).dir).toBe(
      '/srv/cache/ims-token',
    );
    expect((fromEnv({ ...env, IMS_TOKEN_CACHE: 'file', HOME: '/home/svc' }).store as FileStore).dir).toBe('/home/svc/.cache/ims-token');
    expect(fromEnv({ ...env, IMS_TOKEN_CACHE: 'redis://127.0.0.1:6379' }).store).toBeDefined();
  });

  it.each<[string, Record<string, string | undefined>, RegExp]>([
    ['no client id', { IMS_CLIENT_ID: undefined }, /^IMS_CLIENT_ID is not set/],
    ['blank client id', { IMS_CLIENT_ID: '   ' }, /^IMS_CLIENT_ID is not set/],
    ['no secret', { IMS_CLIENT_SECRET: undefined }, /^IMS_CLIENT_SECRET is not set/],
    ['secret and file', { IMS_CLIENT_SECRET_FILE: '/x' }, /^IMS_CLIENT_SECRET_FILE is set together with IMS_CLIENT_SECRET/],
    [
      'next without secret',
      { IMS_CLIENT_SECRET: undefined, IMS_CLIENT_SECRET_NEXT: 'n', IMS_CLIENT_SECRET_FILE: undefined },
      /IMS_CLIENT_SECRET/,
    ],
    ['no scopes', { IMS_SCOPES: undefined }, /^IMS_SCOPES is not set/],
    ['empty scopes', { IMS_SCOPES: ',,' }, /^IMS_SCOPES must be a comma-separated list/],
    ['http IMS_URL', { IMS_URL: 'http://ims.example.com' }, /^IMS_URL must use https/],
    ['bad cache', { IMS_TOKEN_CACHE: 'memcached://x' }, /^IMS_TOKEN_CACHE must be memory, file/],
    ['file: without dir', { IMS_TOKEN_CACHE: 'file:' }, /^IMS_TOKEN_CACHE is "file:" without a directory/],
    ['a cache key without Redis', { IMS_TOKEN_CACHE: 'file', IMS_TOKEN_CACHE_KEY: 'k' }, /^IMS_TOKEN_CACHE_KEY is set, but only a redis/],
  ])('%s → IMS_CONFIG naming the variable', (_n, patch, message) => {
    const e = configError(() => fromEnv({ ...env, ...patch }));
    expect(e.message).toMatch(message);
  });

  it('a redis:// cache without @ims-token/redis installed fails at first use with a clear IMS_CONFIG', async () => {
    // The built package, run from a directory where @ims-token/redis cannot be resolved (as in an app that lacks it).
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `import { createTokenProvider, fromEnv } from ${JSON.stringify(pathToFileURL(dist).href)};
      const p = createTokenProvider({ ...fromEnv({ IMS_CLIENT_ID: 'a', IMS_CLIENT_SECRET: 'b', IMS_SCOPES: 'openid', IMS_TOKEN_CACHE: 'redis://127.0.0.1:1' }), imsUrl: 'http://127.0.0.1:1' });
      try { await p.getToken(); } catch (e) { console.log(JSON.stringify(e)); }`;
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: tmpdir(),
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      } /* no NODE_PATH: pnpm sets one that reaches every workspace package */,
    );
    const e = JSON.parse(out) as ImsTokenError;
    expect(e).toMatchObject({ code: 'IMS_CONFIG', message: expect.stringContaining('@ims-token/redis is not installed') });
    expect(e.hint).toContain('npm install @ims-token/redis');
  });
});

describe('cacheEntryFromEnv', () => {
  const env = { IMS_CLIENT_ID: 'abc123', IMS_SCOPES: 'openid, AdobeID,openid', IMS_URL: 'https://ims-na1-stg1.adobelogin.com/' };

  it('names the cached token of a credential without its secret: the provider’s key, the store IMS_TOKEN_CACHE names', async () => {
    const entry = cacheEntryFromEnv({ ...env, IMS_TOKEN_CACHE: 'file:/tmp/ims-cache' });
    const provider = createTokenProvider({ ...base, scopes: 'AdobeID,openid', imsUrl: 'https://ims-na1-stg1.adobelogin.com' });
    expect(entry).toMatchObject({ clientId: 'abc123', scopes: ['openid', 'AdobeID'], imsUrl: 'https://ims-na1-stg1.adobelogin.com' });
    expect(entry.key).toBe(provider.cacheKey);
    expect((entry.store as FileStore).dir).toBe('/tmp/ims-cache');
    expect(cacheEntryFromEnv({ IMS_CLIENT_ID: 'abc123', IMS_SCOPES: 'openid' })).toMatchObject({
      imsUrl: 'https://ims-na1.adobelogin.com',
    });
    expect(cacheEntryFromEnv(env).store).toBeUndefined();
    expect(cacheEntryFromEnv({ ...env, IMS_TOKEN_CACHE: 'redis://127.0.0.1:1', IMS_TOKEN_CACHE_KEY: 'k' }).store).toBeDefined();
    await provider.close();
  });

  it.each<[string, Record<string, string | undefined>, RegExp]>([
    ['no client id', { IMS_CLIENT_ID: undefined }, /^IMS_CLIENT_ID is not set/],
    ['no scopes', { IMS_SCOPES: undefined }, /^IMS_SCOPES is not set/],
    ['http IMS_URL', { IMS_URL: 'http://ims.example.com' }, /^IMS_URL must use https/],
    ['bad cache', { IMS_TOKEN_CACHE: 'memcached://x' }, /^IMS_TOKEN_CACHE must be memory, file/],
    ['a cache key without Redis', { IMS_TOKEN_CACHE_KEY: 'k' }, /^IMS_TOKEN_CACHE_KEY is set, but only a redis/],
  ])('%s → IMS_CONFIG naming the variable, as fromEnv', (_n, patch, message) => {
    expect(configError(() => cacheEntryFromEnv({ ...env, ...patch })).message).toMatch(message);
  });
});

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore, createImsToken, createTokenProvider, fromEnv } from '@ims-token/core';
import { fastToken } from './fast-path';
import { SCOPE_PRESETS } from './presets';

// fastToken mirrors core's cache key, fromEnv's checks and FileStore's layout: these tests pin it to core.

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ims-cli-fast-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const HOUR = 3_600_000;
const base = { IMS_CLIENT_ID: 'fast-client', IMS_CLIENT_SECRET: 'fast-secret-value', IMS_SCOPES: 'openid,AdobeID' };

/** Stores a token the way the full CLI does: core's provider key, core's FileStore. */
async function store(
  env: Record<string, string | undefined>,
  dir: string,
  times = { issuedAt: Date.now(), expiresAt: Date.now() + 24 * HOUR },
): Promise<string> {
  const provider = createTokenProvider({ ...fromEnv(env), store: new FileStore({ dir }) });
  const accessToken = `token-${++n}-${Math.random().toString(36).slice(2)}`;
  await new FileStore({ dir }).set(
    provider.cacheKey,
    createImsToken({ accessToken, ...times, scopes: provider.scopes, clientId: provider.clientId }),
  );
  await provider.close();
  return accessToken;
}

function home(): { cwd: string; env: Record<string, string>; dir: string } {
  const cwd = mkdtempSync(join(root, 'h-'));
  return { cwd, env: { HOME: cwd, XDG_CACHE_HOME: join(cwd, 'cache') }, dir: join(cwd, 'cache', 'ims-token') };
}

describe('fastToken: the same cache key and files as core', () => {
  it('finds what core stored, for every way of configuring it', async () => {
    const h = home();
    const cases: Array<{ env: Record<string, string>; argv: string[]; coreEnv?: Record<string, string>; dir?: string }> = [
      { env: base, argv: ['token'] },
      { env: { ...base, IMS_URL: 'HTTP://LOCALHOST:8080/' }, argv: ['token'] },
      { env: { ...base, IMS_URL: 'https://ims-na1-stg1.adobelogin.com//' }, argv: ['token'] },
      { env: { ...base, IMS_SCOPES: ' AdobeID, openid ,AdobeID,,' }, argv: ['token'] },
      { env: base, argv: ['--preset', 'firefly', 'token'], coreEnv: { ...base, IMS_SCOPES: SCOPE_PRESETS.firefly } },
      {
        env: base,
        argv: ['token', '--scopes=firefly_api,openid', '--preset', 'firefly'],
        coreEnv: { ...base, IMS_SCOPES: 'firefly_api,openid' },
      },
      { env: base, argv: ['token', '--client-id', ' other-client '], coreEnv: { ...base, IMS_CLIENT_ID: 'other-client' } },
      { env: base, argv: ['token', '--ims-url', 'http://127.0.0.1:9/'], coreEnv: { ...base, IMS_URL: 'http://127.0.0.1:9' } },
      { env: { ...base, IMS_CLIENT_SECRET_NEXT: 'next-secret' }, argv: ['token'] },
    ];
    for (const c of cases) {
      const token = await store({ ...h.env, ...(c.coreEnv ?? c.env) }, h.dir);
      expect(fastToken(c.argv, { ...h.env, ...c.env }, h.cwd), JSON.stringify(c)).toBe(`${token}\n`);
    }
  });

  it('follows --env-file (the environment wins over it), --cache-dir, IMS_TOKEN_CACHE=file:<dir> and IMS_CLIENT_SECRET_FILE', async () => {
    const h = home();
    writeFileSync(join(h.cwd, 'ims.env'), 'IMS_CLIENT_ID=from-file\nIMS_CLIENT_SECRET="s e c r e t"\nIMS_SCOPES=openid\n');
    const t1 = await store({ ...h.env, IMS_CLIENT_ID: 'from-file', IMS_CLIENT_SECRET: 'x', IMS_SCOPES: 'openid' }, h.dir);
    expect(fastToken(['token', '--env-file', 'ims.env'], { ...h.env }, h.cwd)).toBe(`${t1}\n`);
    // the environment's secret source wins as one unit: the file's IMS_CLIENT_SECRET is not used beside it
    expect(fastToken(['token', '--env-file', 'ims.env'], { ...h.env, IMS_CLIENT_SECRET_FILE: '/nowhere' }, h.cwd)).toBeUndefined();
    expect(fastToken(['token', '--env-file', 'ims.env'], { ...h.env, IMS_CLIENT_SECRET: 'env-secret' }, h.cwd)).toBe(`${t1}\n`);

    const t2 = await store(base, join(h.cwd, 'custom'));
    expect(fastToken(['token', '--cache-dir', 'custom'], { ...h.env, ...base }, h.cwd)).toBe(`${t2}\n`);
    expect(fastToken(['token'], { ...h.env, ...base, IMS_TOKEN_CACHE: 'file:custom' }, h.cwd)).toBe(`${t2}\n`);

    const secretFile = join(h.cwd, 'secret');
    writeFileSync(secretFile, '# the secret\nfile-secret\n');
    const { IMS_CLIENT_SECRET: _drop, ...noSecret } = base;
    const t3 = await store({ ...h.env, ...noSecret, IMS_SCOPES: 'AdobeID', IMS_CLIENT_SECRET_FILE: secretFile }, h.dir);
    expect(fastToken(['token', '--scopes', 'AdobeID'], { ...h.env, ...noSecret, IMS_CLIENT_SECRET_FILE: secretFile }, h.cwd)).toBe(
      `${t3}\n`,
    );
  });

  it('prints --json and --header like the full CLI', async () => {
    const h = home();
    const now = Date.now();
    const token = await store({ ...h.env, ...base }, h.dir, { issuedAt: now, expiresAt: now + 24 * HOUR });
    expect(JSON.parse(fastToken(['token', '--json'], { ...h.env, ...base }, h.cwd, now)!)).toEqual({
      accessToken: token,
      tokenType: 'bearer',
      expiresAt: new Date(now + 24 * HOUR).toISOString(),
      expiresIn: 24 * 3600,
      scopes: ['openid', 'AdobeID'],
      clientId: 'fast-client',
    });
    expect(fastToken(['--header', 'token'], { ...h.env, ...base }, h.cwd)).toBe(`Authorization: Bearer ${token}\nx-api-key: fast-client\n`);
  });
});

describe('fastToken: leaves everything else to the full CLI', () => {
  it('answers undefined whenever it is not plainly a warm `token` run', async () => {
    const h = home();
    const env = { ...h.env, ...base };
    await store(env, h.dir);
    expect(fastToken(['token'], env, h.cwd)).toBeDefined();
    const { IMS_CLIENT_SECRET: _s, ...noSecret } = env;
    const misses: Array<[string[], Record<string, string>]> = [
      [['token', '--force'], env],
      [['token', '--no-cache'], env],
      [['token', '--verbose'], env],
      [['token', '--help'], env],
      [['token', '--client-secret-stdin'], env],
      [['token', '--json', '--header'], env],
      [['token', 'extra'], env],
      [['status'], env],
      [['exec', '--', 'token'], env],
      [['token', '--env-file'], env],
      [['token', '--env-file', 'missing.env'], env],
      [['token', '--preset', 'unknown'], env],
      [['token'], noSecret],
      [['token'], { ...noSecret, IMS_CLIENT_SECRET_NEXT: 'next' }],
      [['token'], { ...env, IMS_CLIENT_SECRET_FILE: '/etc/hostname-not-a-secret-file' }],
      [['token'], { ...noSecret, IMS_CLIENT_SECRET_FILE: join(h.cwd, 'missing') }],
      [['token'], { ...env, IMS_TOKEN_CACHE: 'memory' }],
      [['token'], { ...env, IMS_TOKEN_CACHE: 'redis://127.0.0.1:6379' }],
      [['token'], { ...env, IMS_CLIENT_ID: 'has space' }],
      [['token'], { ...env, IMS_SCOPES: 'open id' }],
      [['token'], { ...env, IMS_URL: 'http://example.com' }],
      [['token'], { ...env, IMS_URL: 'https://u:p@ims.example.com' }],
      [['token'], { ...env, IMS_URL: 'not a url' }],
      [['token', '--scopes', 'openid'], env],
    ];
    for (const [argv, e] of misses) expect(fastToken(argv, e, h.cwd), `${argv.join(' ')} ${JSON.stringify(e)}`).toBeUndefined();
  });

  it('leaves a token due for refresh, an expired one, a corrupt file or another client to the full CLI', async () => {
    const h = home();
    const env = { ...h.env, ...base };
    const now = Date.now();
    await store(env, h.dir, { issuedAt: now - 23.5 * HOUR, expiresAt: now + 0.5 * HOUR });
    expect(fastToken(['token'], env, h.cwd, now)).toBeUndefined();
    expect(fastToken(['token'], env, h.cwd, now - HOUR)).toBeDefined();
    // Short-lived tokens: served for their first half.
    await store(env, h.dir, { issuedAt: now, expiresAt: now + 120_000 });
    expect(fastToken(['token'], env, h.cwd, now + 59_000)).toBeDefined();
    expect(fastToken(['token'], env, h.cwd, now + 61_000)).toBeUndefined();

    const other = home();
    mkdirSync(other.dir, { recursive: true });
    const provider = createTokenProvider({ ...fromEnv(env), store: new FileStore({ dir: other.dir }) });
    const file = new FileStore({ dir: other.dir }).pathFor(provider.cacheKey);
    await provider.close();
    writeFileSync(file, '{"v":1,');
    expect(fastToken(['token'], { ...other.env, ...base }, other.cwd)).toBeUndefined();
    writeFileSync(
      file,
      JSON.stringify({
        v: 1,
        accessToken: 'x',
        tokenType: 'bearer',
        expiresAt: now + 24 * HOUR,
        issuedAt: now,
        scopes: [],
        clientId: 'someone-else',
      }),
    );
    expect(fastToken(['token'], { ...other.env, ...base }, other.cwd)).toBeUndefined();
    writeFileSync(
      file,
      JSON.stringify({
        v: 2,
        accessToken: 'x',
        tokenType: 'bearer',
        expiresAt: now + 24 * HOUR,
        issuedAt: now,
        scopes: [],
        clientId: 'fast-client',
      }),
    );
    expect(fastToken(['token'], { ...other.env, ...base }, other.cwd)).toBeUndefined();
  });
});

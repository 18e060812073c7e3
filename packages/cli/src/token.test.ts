import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES, credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { WRONG_SECRET, fakeToken, runCli } from './test/run-cli';
import { exitCodeTable } from './exit-codes';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

const JWT_LINE = /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/;

describe('ims-token token', () => {
  it('prints only the token and a newline, and many runs share one cached token (one mint)', async () => {
    const c = credential(fx);
    const first = await runCli(['token'], { env: c.env, printsToken: true });
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(JWT_LINE);
    for (let i = 0; i < 8; i++) {
      const again = await runCli(['token'], { env: c.env, printsToken: true });
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(first.stdout);
    }
    expect(c.minted()).toBe(1);
  });

  it('keeps the cache in $XDG_CACHE_HOME/ims-token: directory 0700, token file 0600', async () => {
    const c = credential(fx);
    expect((await runCli(['token'], { env: c.env, printsToken: true })).code).toBe(0);
    expect(statSync(c.cacheDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(c.cacheDir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    expect(statSync(join(c.cacheDir, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('--json prints {accessToken, tokenType, expiresAt, expiresIn, scopes, clientId}', async () => {
    const c = credential(fx);
    const r = await runCli(['token', '--json'], { env: c.env, printsToken: true });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(['accessToken', 'clientId', 'expiresAt', 'expiresIn', 'scopes', 'tokenType']);
    expect(j).toMatchObject({ tokenType: 'bearer', clientId: c.clientId, scopes: SCOPES.split(',') });
    expect(j.expiresIn).toBeGreaterThan(86_000);
    expect(Date.parse(j.expiresAt as string)).toBeGreaterThan(Date.now());
    const plain = await runCli(['token'], { env: c.env, printsToken: true });
    expect(plain.stdout).toBe(`${String(j.accessToken)}\n`);
  });

  it('--header prints the two headers an Adobe API needs, and they work against the API', async () => {
    const c = credential(fx);
    const r = await runCli(['token', '--header'], { env: c.env, printsToken: true });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Authorization: Bearer eyJ/);
    expect(lines[1]).toBe(`x-api-key: ${c.clientId}`);
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    const res = await fetch(`${fx.emu.url}/api/v1/whoami`, { headers });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { clientId: string }).clientId).toBe(c.clientId);
  });

  it('--force ignores the cache and mints a new token', async () => {
    const c = credential(fx);
    const a = await runCli(['token'], { env: c.env, printsToken: true });
    const b = await runCli(['token', '--force'], { env: c.env, printsToken: true });
    expect(b.code).toBe(0);
    expect(b.stdout).not.toBe(a.stdout);
    expect(c.minted()).toBe(2);
    const after = await runCli(['token'], { env: c.env, printsToken: true });
    expect(after.stdout).toBe(b.stdout);
    expect(c.minted()).toBe(2);
  });

  it('two CLIs started at once mint once (the file lock)', async () => {
    const c = credential(fx);
    fx.emu.fault({ kind: 'latency', latencyMs: 300, times: 1 });
    const runs = await Promise.all([0, 1, 2].map(() => runCli(['token'], { env: c.env, printsToken: true })));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(c.minted()).toBe(1);
  });

  it('--no-cache asks IMS every time and writes nothing; --cache-dir moves the cache', async () => {
    const c = credential(fx);
    await runCli(['token', '--no-cache'], { env: c.env, printsToken: true });
    await runCli(['token', '--no-cache'], { env: c.env, printsToken: true });
    expect(c.minted()).toBe(2);
    expect(() => readdirSync(c.cacheDir)).toThrow();
    const dir = join(c.dir, 'elsewhere');
    await runCli(['token', '--cache-dir', dir], { env: c.env, printsToken: true });
    await runCli(['token', '--cache-dir', dir], { env: c.env, printsToken: true });
    expect(c.minted()).toBe(3);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('IMS_TOKEN_CACHE=file:<dir> and =memory are honoured', async () => {
    const c = credential(fx);
    const dir = join(c.dir, 'from-env');
    await runCli(['token'], { env: { ...c.env, IMS_TOKEN_CACHE: `file:${dir}` }, printsToken: true });
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    await runCli(['token'], { env: { ...c.env, IMS_TOKEN_CACHE: 'memory' }, printsToken: true });
    expect(c.minted()).toBe(2);
  });
});

describe('the warm path and refreshing', () => {
  it('a warm `token` loads neither core nor the full CLI; a cold one does', async () => {
    const c = credential(fx);
    const probe = join(c.dir, 'probe.cjs');
    writeFileSync(
      probe,
      "process.on('exit',()=>{if(Object.keys(require.cache).some((k)=>k.endsWith('main.cjs')||k.includes('core/dist')))process.stderr.write('FULL-CLI-LOADED\\n')})",
    );
    const env = { ...c.env, NODE_OPTIONS: `--require=${probe}` };
    const cold = await runCli(['token'], { env, printsToken: true });
    expect(cold).toMatchObject({ code: 0, stderr: 'FULL-CLI-LOADED\n' });
    for (const args of [['token'], ['token', '--json'], ['token', '--header']]) {
      const warm = await runCli(args, { env, printsToken: true });
      expect(warm, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
    }
    expect(c.minted()).toBe(1);
  });

  it('replaces a token with less than an hour left; uses it, with a warning, while IMS is failing', async () => {
    const c = credential(fx);
    const location = (JSON.parse((await runCli(['status', '--json'], { env: c.env })).stdout) as { cache: { location: string } }).cache
      .location;
    const now = Date.now();
    const old = fakeToken({
      client_id: c.clientId,
      scope: SCOPES,
      as: 'ims-na1',
      type: 'access_token',
      created_at: String(now - 23.5 * 3_600_000),
      expires_in: '86400000',
    });
    const entry = {
      key: location.slice(location.lastIndexOf('/') + 1).replace(/\.json$/, ''), // FileStore records the key a file is for
      v: 1,
      accessToken: old,
      tokenType: 'bearer',
      issuedAt: now - 23.5 * 3_600_000,
      expiresAt: now + 0.5 * 3_600_000,
      scopes: SCOPES.split(','),
      clientId: c.clientId,
    };
    mkdirSync(c.cacheDir, { recursive: true, mode: 0o700 });
    writeFileSync(location, JSON.stringify(entry), { mode: 0o600 });
    expect(JSON.parse((await runCli(['status', '--json'], { env: c.env })).stdout)).toMatchObject({ state: 'expiring', valid: true });

    fx.emu.fault({ kind: 'status', status: 503, times: 4 });
    const down = await runCli(['token'], { env: c.env, printsToken: true });
    expect(down.code).toBe(0);
    expect(down.stdout).toBe(`${old}\n`);
    expect(down.stderr).toMatch(
      /^ims-token: warning: IMS_SERVER_ERROR: could not refresh the token .*; using the cached one, which expires in 29m/,
    );
    fx.emu.clearFaults();
    fx.emu.fault({ kind: 'status', status: 503, times: 4 });
    const forced = await runCli(['token', '--force'], { env: c.env }); // --force asks for a new token: never the cached one
    expect(forced).toMatchObject({ code: 4, stdout: '' });
    expect(forced.stderr).toMatch(/IMS_SERVER_ERROR/);
    fx.emu.clearFaults();

    const wrong = await runCli(['token'], { env: { ...c.env, IMS_CLIENT_SECRET: WRONG_SECRET } });
    expect(wrong.code).toBe(3);

    const up = await runCli(['token'], { env: c.env, printsToken: true });
    expect(up.code).toBe(0);
    expect(up.stdout).not.toBe(`${old}\n`);
    expect(c.minted()).toBe(1);
    expect(JSON.parse((await runCli(['status', '--json'], { env: c.env })).stdout)).toMatchObject({ state: 'valid' });

    writeFileSync(location, JSON.stringify({ ...entry, expiresAt: now - 60_000 }), { mode: 0o600 });
    fx.emu.fault({ kind: 'status', status: 503, times: 4 });
    const expired = await runCli(['token'], { env: c.env });
    expect(expired.code).toBe(4);
    fx.emu.clearFaults();
  });
});

describe('configuration', () => {
  it('the environment wins over --env-file, which fills in what it lacks; flags win over both; the secret can come from stdin', async () => {
    const c = credential(fx);
    const envFile = join(c.dir, 'ims.env');
    writeFileSync(
      envFile,
      `# test\nIMS_CLIENT_ID=${c.clientId}\nIMS_CLIENT_SECRET="${c.clientSecret}"\nIMS_SCOPES=firefly_api\nIMS_URL=http://127.0.0.1:9/\n`,
      { mode: 0o600 },
    );
    const env = {
      HOME: c.dir,
      XDG_CACHE_HOME: c.env.XDG_CACHE_HOME,
      IMS_URL: fx.emu.url,
      IMS_SCOPES: 'openid',
    };
    for (const argv of [
      ['token', '--json', '--env-file', envFile],
      ['token', '--json', '--env-file', envFile],
    ]) {
      const fromFile = await runCli(argv, { env, printsToken: true }); // the second run is the warm-cache launcher's
      expect(fromFile.code).toBe(0);
      expect(JSON.parse(fromFile.stdout)).toMatchObject({ clientId: c.clientId, scopes: ['openid'] });
    }
    expect(c.minted()).toBe(1);
    const flags = await runCli(['token', '--json', '--env-file', envFile, '--scopes', 'openid,AdobeID'], { env, printsToken: true });
    expect(JSON.parse(flags.stdout)).toMatchObject({ scopes: ['openid', 'AdobeID'] });
    const preset = await runCli(['--preset', 'firefly', 'token', '--json', '--client-id', c.clientId, '--client-secret-stdin'], {
      env,
      input: `${c.clientSecret}\n`,
      printsToken: true,
    });
    expect(preset.code).toBe(0);
    expect(JSON.parse(preset.stdout)).toMatchObject({
      clientId: c.clientId,
      scopes: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis'.split(','),
    });
  });

  it('reads the secret from IMS_CLIENT_SECRET_FILE', async () => {
    const c = credential(fx);
    const file = join(c.dir, 'secret.txt');
    writeFileSync(file, `${c.clientSecret}\n`, { mode: 0o600 });
    const { IMS_CLIENT_SECRET: _drop, ...env } = c.env;
    const r = await runCli(['token'], { env: { ...env, IMS_CLIENT_SECRET_FILE: file }, printsToken: true });
    expect(r.code).toBe(0);
  });

  it('never reads ./.env by itself, but says it is there', async () => {
    const c = credential(fx);
    writeFileSync(join(c.dir, '.env'), `IMS_CLIENT_ID=${c.clientId}\nIMS_CLIENT_SECRET=${c.clientSecret}\nIMS_SCOPES=openid\n`);
    const r = await runCli(['token'], { env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME, IMS_URL: fx.emu.url }, cwd: c.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/IMS_CONFIG: IMS_CLIENT_ID is not set/);
    expect(r.stderr).toMatch(/--env-file \.env/);
  });
});

describe('ims-token status', () => {
  it('shows no token, then a valid one, without printing it and without needing the secret', async () => {
    const c = credential(fx);
    const { IMS_CLIENT_SECRET: _drop, ...noSecret } = c.env;
    const before = await runCli(['status', '--json'], { env: noSecret });
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ state: 'none', valid: false, clientId: c.clientId, expiresAt: null });
    const human0 = await runCli(['status'], { env: noSecret });
    expect(human0.stdout).toMatch(/no token cached/);

    await runCli(['token'], { env: c.env, printsToken: true });
    const after = await runCli(['status', '--json'], { env: noSecret });
    const j = JSON.parse(after.stdout) as Record<string, any>;
    expect(j).toMatchObject({
      state: 'valid',
      valid: true,
      clientId: c.clientId,
      scopes: SCOPES.split(','),
      imsUrl: fx.emu.url,
      cache: { kind: 'file' },
    });
    expect(j.cache.location.startsWith(c.cacheDir)).toBe(true);
    expect(j.tokenPreview).toMatch(/^eyJ.{3}…$/);
    expect(j.expiresIn).toBeGreaterThan(86_000);
    const human = await runCli(['status'], { env: noSecret });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/✓ valid token cached/);
    expect(human.stdout).toMatch(/expires .*\(in 23h/);
    expect(human.stdout).toContain(c.cacheDir);
    expect(c.minted()).toBe(1);
  });
});

describe('ims-token inspect', () => {
  it('decodes the cached token, an argument, or stdin; no network', async () => {
    const c = credential(fx);
    const token = (await runCli(['token'], { env: c.env, printsToken: true })).stdout.trim();
    const cached = await runCli(['inspect'], { env: c.env });
    expect(cached.code).toBe(0);
    expect(cached.stdout).toMatch(new RegExp(`client id\\s+${c.clientId}`));
    expect(cached.stdout).toMatch(/scopes\s+openid,AdobeID,firefly_api/);
    expect(cached.stdout).toMatch(/as\s+ims-na1/);
    expect(cached.stdout).toMatch(/expires .*\(in 23h/);
    expect(cached.stdout).toContain(`${token.slice(0, 6)}…`);
    expect(cached.stderr).toBe('');

    const arg = await runCli(['inspect', token, '--json'], { env: {} });
    const j = JSON.parse(arg.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      source: 'argument',
      clientId: c.clientId,
      authServer: 'ims-na1',
      type: 'access_token',
      expired: false,
      tokenPreview: `${token.slice(0, 6)}…`,
    });
    expect(j.scopes).toEqual(SCOPES.split(','));
    expect(j.expiresIn).toBeGreaterThan(86_000);

    const stdin = await runCli(['inspect', '-', '--json'], {
      env: {},
      input: `Authorization: Bearer ${token}\nx-api-key: ${c.clientId}\n`,
    });
    expect(JSON.parse(stdin.stdout)).toMatchObject({ source: 'stdin', clientId: c.clientId });
    expect(c.minted()).toBe(1);
  });

  it('warns when the token has expired or expires soon', async () => {
    const now = Date.now();
    const expired = fakeToken({
      client_id: 'x',
      scope: 'openid',
      as: 'ims-na1',
      type: 'access_token',
      created_at: String(now - 2 * 86_400_000),
      expires_in: '86399000',
    });
    const r = await runCli(['inspect', expired], { env: {} });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: this token expired 1d 0h ago/);
    expect(r.stdout).toMatch(/expired 1d 0h ago/);
    const soon = fakeToken({ client_id: 'x', scope: 'openid', created_at: String(now - 86_000_000), expires_in: '86399000' });
    const s = await runCli(['inspect', soon, '--json'], { env: {} });
    expect(JSON.parse(s.stdout)).toMatchObject({ expired: false, expiringSoon: true });
    expect(s.stderr).toMatch(/warning: this token expires in [56]m/);
  });

  it('exits 2 with IMS_INVALID_TOKEN for something that is not a token, and without echoing it', async () => {
    const r = await runCli(['inspect', 'not-a-token-value'], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ims-token: IMS_INVALID_TOKEN: Not an IMS access token/);
    expect(r.stderr).not.toContain('not-a-token-value');
    const none = await runCli(['inspect'], { env: credential(fx).env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No token is cached/);
  });
});

describe('ims-token cache clear', () => {
  it("removes this credential's token (the next run mints), or every token with --all", async () => {
    const c = credential(fx);
    await runCli(['token'], { env: c.env, printsToken: true });
    await runCli(['token', '--scopes', 'openid'], { env: c.env, printsToken: true });
    expect(readdirSync(c.cacheDir).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    const { IMS_CLIENT_SECRET: _drop, ...noSecret } = c.env;
    const one = await runCli(['cache', 'clear', '--json'], { env: noSecret });
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ removed: 1, clientId: c.clientId });
    expect(readdirSync(c.cacheDir).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    const again = await runCli(['cache', 'clear'], { env: noSecret });
    expect(again.stdout).toMatch(/no token was cached/);
    await runCli(['token'], { env: c.env, printsToken: true });
    expect(c.minted()).toBe(3);
    const all = await runCli(['cache', 'clear', '--all'], { env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME } });
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/removed 2 cached tokens/);
    expect(readdirSync(c.cacheDir).filter((f) => f.endsWith('.json'))).toHaveLength(0);
  });
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['--version'], { env: {} });
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('--help lists every command and the exit codes; every command has --help with examples', async () => {
    const top = await runCli(['--help'], { env: {} });
    expect(top.code).toBe(0);
    for (const name of ['token', 'status', 'inspect', 'exec', 'cache clear', 'doctor', 'init']) expect(top.stdout).toContain(`  ${name} `);
    expect(top.stdout).toContain(exitCodeTable('text')); // generated from exit-codes.ts
    for (const cmd of [['token'], ['status'], ['inspect'], ['exec'], ['cache', 'clear'], ['doctor'], ['init']]) {
      const r = await runCli([...cmd, '--help'], { env: {} });
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: ims-token ${cmd.join(' ')}`));
      expect(r.stdout).toMatch(/Examples:\n {2}\S/);
      expect(r.stdout).toMatch(/Exit codes:/);
    }
    expect((await runCli(['help', 'doctor'], { env: {} })).stdout).toMatch(/^Usage: ims-token doctor/);
    expect((await runCli(['cache', '--help'], { env: {} })).stdout).toMatch(/cache clear/);
  });

  it('usage errors exit 2 and never echo argument values', async () => {
    const none = await runCli([], { env: {} });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^ims-token /);
    const unknown = await runCli(['tokn'], { env: {} });
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/Unknown command "tokn"/);
    const flag = await runCli(['token', '--bogus=value-xyz'], { env: {} });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option --bogus/);
    expect(flag.stderr).not.toContain('value-xyz');
    const secretFlag = await runCli(['token', '--client-secret=hunter2-secret-value'], { env: {} });
    expect(secretFlag.code).toBe(2);
    expect(secretFlag.stderr).toMatch(/never taken from a flag/);
    expect(secretFlag.stderr).not.toContain('hunter2');
    const extra = await runCli(['token', 'pasted-secret-value'], { env: {} });
    expect(extra.code).toBe(2);
    expect(extra.stderr).not.toContain('pasted-secret-value');
  });
});

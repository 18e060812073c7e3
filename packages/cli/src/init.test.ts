import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli, WRONG_SECRET } from './test/run-cli';
import { setTimeout as sleep } from 'node:timers/promises';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

/** Only what init needs: no IMS_* from the environment except the URL of the emulator. */
function initEnv(c: ReturnType<typeof credential>): Record<string, string> {
  return { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME!, IMS_URL: fx.emu.url };
}

describe('ims-token init (non-interactive)', () => {
  it('writes a 0600 .env after minting a token; the next `token --env-file .env` uses the cached token', async () => {
    const c = credential(fx);
    const r = await runCli(['init', '--client-id', c.clientId, '--preset', 'firefly', '--client-secret-stdin'], {
      env: initEnv(c),
      cwd: c.dir,
      input: `${c.clientSecret}\n`,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ IMS accepted the credential/);
    expect(r.stdout).toMatch(/wrote .*\.env \(mode 0600\)/);
    const file = join(c.dir, '.env');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseEnv(readFileSync(file, 'utf8'))).toEqual({
      IMS_CLIENT_ID: c.clientId,
      IMS_CLIENT_SECRET: c.clientSecret,
      IMS_SCOPES: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis',
      IMS_URL: fx.emu.url,
    });
    expect(c.minted()).toBe(1);
    const t = await runCli(['token', '--env-file', '.env'], {
      env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME! },
      cwd: c.dir,
      printsToken: true,
    });
    expect(t.code).toBe(0);
    expect(c.minted()).toBe(1);
  });

  it('never overwrites without asking: exit 2 without --force; --force keeps the other lines', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    writeFileSync(file, 'DATABASE_URL=postgres://x\nIMS_CLIENT_ID=old-id\nIMS_CLIENT_SECRET_FILE=/old/file\n# keep me\n', { mode: 0o644 });
    const args = ['init', '--client-id', c.clientId, '--scopes', 'openid,AdobeID', '--client-secret-stdin', '--json'];
    const refused = await runCli(args, { env: initEnv(c), cwd: c.dir, input: c.clientSecret });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stderr)).toMatchObject({
      error: { code: 'IMS_CONFIG', exitCode: 2, hint: expect.stringMatching(/^Pass --force/) },
    });
    expect(readFileSync(file, 'utf8')).toContain('old-id');
    const forced = await runCli([...args, '--force'], { env: initEnv(c), cwd: c.dir, input: c.clientSecret });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ file, clientId: c.clientId, scopes: ['openid', 'AdobeID'], verified: true });
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^DATABASE_URL=postgres:\/\/x\nIMS_CLIENT_ID=/);
    expect(text).toContain('# keep me');
    expect(text).not.toContain('IMS_CLIENT_SECRET_FILE');
    expect(parseEnv(text)).toMatchObject({ IMS_CLIENT_ID: c.clientId, IMS_CLIENT_SECRET: c.clientSecret, IMS_SCOPES: 'openid,AdobeID' });
    // It was 0644: the file keeps its mode, minus access for other users (it holds a secret), and says so.
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(forced.stderr).toMatch(/warning: .*\.env was readable by every user \(mode 0644\); it is now 0640/);
  });

  it('--force keeps `export `, trailing comments, CRLF and bytes that are not UTF-8 on the lines it rewrites', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    const before = Buffer.concat([
      Buffer.from('# Gr\xfc\xdfe\r\nexport IMS_CLIENT_ID=old-id # from the console\r\nIMS_SCOPES="openid"   # scopes\r\n', 'latin1'),
      Buffer.from('IMS_CLIENT_SECRET_FILE=/old\r\nOTHER=1\r\n'),
    ]);
    writeFileSync(file, before, { mode: 0o600 });
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid,AdobeID', '--client-secret-stdin', '--force'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(readFileSync(file).toString('latin1')).toBe(
      `# Gr\xfc\xdfe\r\nexport IMS_CLIENT_ID=${c.clientId} # from the console\r\nIMS_SCOPES=openid,AdobeID   # scopes\r\nOTHER=1\r\n` +
        `\r\n# Adobe IMS OAuth Server-to-Server credential (ims-token init)\r\nIMS_CLIENT_SECRET=${c.clientSecret}\r\nIMS_URL=${fx.emu.url}\r\n`,
    );
  });

  it('--out through a symbolic link updates the file it points to; the link stays', async () => {
    const c = credential(fx);
    mkdirSync(join(c.dir, 'shared'));
    writeFileSync(join(c.dir, 'shared', 'app.env'), 'OTHER=1\n', { mode: 0o600 });
    symlinkSync('shared/app.env', join(c.dir, '.env'));
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--force', '--no-verify'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(lstatSync(join(c.dir, '.env')).isSymbolicLink()).toBe(true);
    expect(parseEnv(readFileSync(join(c.dir, 'shared', 'app.env'), 'utf8'))).toMatchObject({ OTHER: '1', IMS_CLIENT_ID: c.clientId });
    expect(r.stderr).toMatch(/\.env is a symbolic link: updating .*shared\/app\.env/);
  });

  it('keeps a line added to the file while it was minting', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    writeFileSync(file, 'OTHER=1\n', { mode: 0o600 });
    fx.emu.fault({ target: 'token', kind: 'latency', latencyMs: 800 });
    const requests = fx.emu.stats.tokenRequests;
    const appended = (async () => {
      while (fx.emu.stats.tokenRequests === requests) await sleep(5);
      writeFileSync(file, 'ADDED_MEANWHILE=1\n', { flag: 'a' });
    })();
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--force'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    await appended;
    expect(r.code).toBe(0);
    expect(parseEnv(readFileSync(file, 'utf8'))).toMatchObject({ OTHER: '1', ADDED_MEANWHILE: '1', IMS_CLIENT_ID: c.clientId });
  });

  it('writes nothing when IMS rejects the credential (exit 3); --no-verify writes without asking IMS', async () => {
    const c = credential(fx);
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin'], {
      env: initEnv(c),
      cwd: c.dir,
      input: WRONG_SECRET,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/nothing written/);
    expect(existsSync(join(c.dir, '.env'))).toBe(false);
    const nv = await runCli(
      ['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--no-verify', '--out', 'conf/ims.env'],
      {
        env: initEnv(c),
        cwd: c.dir,
        input: c.clientSecret,
      },
    );
    expect(nv.code).toBe(2); // conf/ does not exist
    spawnSync('mkdir', [join(c.dir, 'conf')]);
    const ok = await runCli(
      ['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--no-verify', '--out', 'conf/ims.env'],
      {
        env: initEnv(c),
        cwd: c.dir,
        input: c.clientSecret,
      },
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/not verified/);
    expect(statSync(join(c.dir, 'conf', 'ims.env')).mode & 0o777).toBe(0o600);
    expect(c.minted()).toBe(0);
  });

  it('needs a client id, a secret and scopes when it cannot ask (exit 2)', async () => {
    const c = credential(fx);
    const r = await runCli(['init'], { env: initEnv(c), cwd: c.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs a client ID.*--client-id/);
    const s = await runCli(['init', '--client-id', c.clientId], { env: initEnv(c), cwd: c.dir });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/needs the client secret/);
  });

  it('in a git repository without a .gitignore: adds the file to .gitignore and says so', async () => {
    const c = credential(fx);
    expect(spawnSync('git', ['init', '-q', c.dir]).status).toBe(0);
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(readFileSync(join(c.dir, '.gitignore'), 'utf8')).toBe('# ims-token init: the client secret must never be committed\n/.env\n');
    expect(r.stderr).toMatch(/added \/\.env to .*\.gitignore/);
    expect(spawnSync('git', ['-C', c.dir, 'check-ignore', '-q', '.env']).status).toBe(0);
  });

  it('a .gitignore that does not cover the file gets a line; one that does is left alone', async () => {
    const c = credential(fx);
    spawnSync('git', ['init', '-q', c.dir]);
    mkdirSync(join(c.dir, 'config'));
    writeFileSync(join(c.dir, '.gitignore'), 'node_modules');
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--out', 'config/ims.env'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(readFileSync(join(c.dir, '.gitignore'), 'utf8')).toBe(
      'node_modules\n# ims-token init: the client secret must never be committed\n/config/ims.env\n',
    );
    const d = credential(fx);
    spawnSync('git', ['init', '-q', d.dir]);
    writeFileSync(join(d.dir, '.gitignore'), '*.env\n.env*\n');
    const again = await runCli(['init', '--client-id', d.clientId, '--scopes', 'openid', '--client-secret-stdin'], {
      env: initEnv(d),
      cwd: d.dir,
      input: d.clientSecret,
    });
    expect(again.code).toBe(0);
    expect(readFileSync(join(d.dir, '.gitignore'), 'utf8')).toBe('*.env\n.env*\n');
    expect(again.stderr).not.toMatch(/gitignore/);
  });

  it('--no-gitignore only warns; a file git already tracks gets a louder warning', async () => {
    const c = credential(fx);
    spawnSync('git', ['init', '-q', c.dir]);
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin', '--no-gitignore'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(existsSync(join(c.dir, '.gitignore'))).toBe(false);
    expect(r.stderr).toMatch(/warning: \.env is not ignored by git/);

    const d = credential(fx);
    spawnSync('git', ['init', '-q', d.dir]);
    writeFileSync(join(d.dir, '.env'), 'OTHER=1\n');
    chmodSync(join(d.dir, '.env'), 0o600);
    spawnSync('git', ['-C', d.dir, 'add', '.env']);
    const t = await runCli(['init', '--client-id', d.clientId, '--scopes', 'openid', '--client-secret-stdin', '--force'], {
      env: initEnv(d),
      cwd: d.dir,
      input: d.clientSecret,
    });
    expect(t.code).toBe(0);
    expect(t.stderr).toMatch(/warning: \.env is tracked by git: .*git rm --cached/);
  });

  it('outside a git repository it says nothing about .gitignore', async () => {
    const c = credential(fx);
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin'], {
      env: { ...initEnv(c), GIT_CEILING_DIRECTORIES: fx.root },
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/gitignore/);
    expect(existsSync(join(c.dir, '.gitignore'))).toBe(false);
  });
});

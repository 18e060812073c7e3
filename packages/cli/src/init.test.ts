import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli, WRONG_SECRET } from './test/run-cli';

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
    expect(statSync(file).mode & 0o777).toBe(0o600);
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

  it('warns when .env is not in .gitignore', async () => {
    const c = credential(fx);
    writeFileSync(join(c.dir, '.gitignore'), 'node_modules\n');
    const r = await runCli(['init', '--client-id', c.clientId, '--scopes', 'openid', '--client-secret-stdin'], {
      env: initEnv(c),
      cwd: c.dir,
      input: c.clientSecret,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: \.env is not in \.gitignore/);
  });
});

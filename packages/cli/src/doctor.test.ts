import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { fakeToken, runCli, WRONG_SECRET } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

interface Report {
  ok: boolean;
  checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
}

const statuses = (r: Report): Record<string, string> => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));

describe('ims-token doctor', () => {
  it('passes every check in order and exits 0', async () => {
    const c = credential(fx);
    const r = await runCli(['doctor'], { env: c.env });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /^[✓✗!–] /.test(l));
    expect(lines.map((l) => l.slice(2, 10).trim())).toEqual(['config', 'network', 'token', 'scopes', 'clock', 'cache']);
    expect(lines.every((l) => l.startsWith('✓'))).toBe(true);
    expect(r.stdout).toMatch(/All checks passed/);
    const j = await runCli(['doctor', '--json'], { env: c.env });
    const report = JSON.parse(j.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(statuses(report)).toEqual({ config: 'ok', network: 'ok', token: 'ok', scopes: 'ok', clock: 'ok', cache: 'ok' });
    expect(report.checks.find((x) => x.name === 'cache')!.detail).toMatch(/\(0700\), token file 0600/);
    expect(c.minted()).toBe(2);
  });

  it('wrong secret → ✗ token with the fix, exit 5', async () => {
    const c = credential(fx);
    const r = await runCli(['doctor'], { env: { ...c.env, IMS_CLIENT_SECRET: WRONG_SECRET } });
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/✗ token {4}IMS_INVALID_CLIENT/);
    expect(r.stdout).toMatch(/fix: Check IMS_CLIENT_ID and IMS_CLIENT_SECRET/);
    expect(r.stdout).toMatch(/– scopes {3}skipped/);
  });

  it('missing config → ✗ config (mentioning ./.env), exit 5', async () => {
    const c = credential(fx);
    writeFileSync(join(c.dir, '.env'), 'IMS_CLIENT_ID=x\n');
    const r = await runCli(['doctor', '--json'], { env: { HOME: c.dir }, cwd: c.dir });
    expect(r.code).toBe(5);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({ name: 'config', status: 'fail' });
    expect(report.checks[0]!.fix).toMatch(/--env-file \.env/);
    expect(statuses(report)).toMatchObject({ network: 'skip', token: 'skip', cache: 'skip' });
  });

  it('IMS unreachable → ✗ network, exit 5', async () => {
    const gone = await startEmulator();
    const c = credential({ ...fx, emu: gone });
    await gone.stop();
    const r = await runCli(['doctor', '--json'], { env: c.env });
    expect(r.code).toBe(5);
    const report = JSON.parse(r.stdout) as Report;
    expect(statuses(report)).toMatchObject({ config: 'ok', network: 'fail', token: 'skip', scopes: 'skip', clock: 'skip' });
    expect(report.checks[1]!.detail).toMatch(/ECONNREFUSED/);
  });

  it('scopes not granted → ✗ scopes; a clock far off → ✗ clock', async () => {
    const c = credential(fx);
    const now = Date.now();
    const narrow = fakeToken({
      client_id: c.clientId,
      scope: 'openid',
      as: 'ims-na1',
      type: 'access_token',
      created_at: String(now),
      expires_in: '86399000',
    });
    const body = { access_token: narrow, token_type: 'bearer', expires_in: 86399 };
    // The first token-endpoint request is doctor's reachability probe (its Date header is 2 h off), the second the mint.
    fx.emu.fault({
      kind: 'response',
      status: 405,
      body: { error: 'method_not_allowed' },
      headers: { date: new Date(now - 2 * 3_600_000).toUTCString() },
    });
    fx.emu.fault({ kind: 'response', status: 200, body });
    const r = await runCli(['doctor', '--json'], { env: c.env });
    expect(r.code).toBe(5);
    const report = JSON.parse(r.stdout) as Report;
    expect(statuses(report)).toMatchObject({ network: 'ok', token: 'ok', scopes: 'fail', clock: 'fail', cache: 'ok' });
    expect(report.checks.find((x) => x.name === 'scopes')!.detail).toMatch(/not granted: AdobeID,firefly_api/);
    expect(report.checks.find((x) => x.name === 'clock')!.detail).toMatch(/local clock is (1h 59m|2h 0m) ahead of IMS/);
  });
});

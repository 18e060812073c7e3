import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { secretsKit } from './test/secrets-kit';
import { spawnSync } from 'node:child_process';
import { runCli, waitFor } from './test/run-cli';
import type { CliResult } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({ secretActivationDelayMs: 200 });
});
afterAll(async () => {
  await fx?.stop();
});

const { secretsEnv, secretsOf, newSecretSeen, uuids, add } = secretsKit(() => fx);

describe('ims-token secrets list', () => {
  it('prints a table (uuid, created, last used, which one is ours) and --json', async () => {
    const c = credential(fx);
    const one = await uuids(c);
    expect(one.secrets).toHaveLength(1);
    const original = one.secrets[0]!.uuid;
    expect(one).toMatchObject({
      current: original,
      secrets: [{ uuid: original, lastUsedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), current: true }],
    });

    const added = await add(c);
    const j = await uuids(c);
    expect(j.current).toBe(original);
    expect(j.secrets).toEqual([
      expect.objectContaining({ uuid: original, current: true }),
      expect.objectContaining({ uuid: added.uuid, lastUsedAt: null, current: false }),
    ]);

    const t = await runCli(['secrets', 'list'], { env: secretsEnv(c) });
    expect(t.code).toBe(0);
    const lines = t.stdout.split('\n');
    expect(lines[0]).toMatch(/^uuid\s+created\s+last used$/);
    expect(lines.find((l) => l.startsWith(original))).toMatch(
      /\d{4}-\d\d-\d\dT[\d:]+Z \(\d+s ago\)\s+\d{4}-\d\d-\d\dT[\d:]+Z \(\d+s ago\)\s+← IMS_CLIENT_SECRET$/,
    );
    expect(lines.find((l) => l.startsWith(added.uuid))).toMatch(/\s+never$/);
    expect(t.stdout).toMatch(/2 of the 2 secrets Adobe allows on credential /);
  });

  it('needs IMS_ORG_ID and IMS_CREDENTIAL_ID (exit 2, naming the variable and the flag)', async () => {
    const c = credential(fx);
    const { IMS_ORG_ID: _o, ...noOrg } = secretsEnv(c);
    const r = await runCli(['secrets', 'list'], { env: noOrg });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ims-token: IMS_CONFIG: IMS_ORG_ID is not set.* Fix: Pass --org-id/);
    const { IMS_CREDENTIAL_ID: _c, ...noCred } = secretsEnv(c);
    const s = await runCli(['secrets', 'list', '--org-id', c.orgId], { env: noCred });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/IMS_CREDENTIAL_ID is not set.* Fix: Pass --credential-id/);
    const flags = await runCli(['secrets', 'list', '--org-id', c.orgId, '--credential-id', c.credentialId, '--json'], { env: noCred });
    expect(flags.code).toBe(0);
  });

  it('takes the numeric org id; an …@AdobeOrg code is looked up once and said so; an unknown code is exit 2 naming both kinds of ID', async () => {
    const c = credential(fx);
    expect(c.orgId).toMatch(/^\d+$/);
    const code = fx.emu.client(c.clientId)!.orgCode;
    const r = await runCli(['secrets', 'list', '--json'], { env: { ...secretsEnv(c), IMS_ORG_ID: code } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ orgId: c.orgId });
    expect(r.stderr).toBe(
      `ims-token: IMS_ORG_ID ${code} is an IMS org code; the I/O Management API takes the numeric org id: using ${c.orgId}. Set IMS_ORG_ID=${c.orgId} (or --org-id ${c.orgId}) to skip this lookup.\n`,
    );
    const unknown = await runCli(['secrets', 'list'], { env: { ...secretsEnv(c), IMS_ORG_ID: '0123456789ABCDEF01234567@AdobeOrg' } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ims-token: IMS_CONFIG: .*IMS org code 0123456789ABCDEF01234567@AdobeOrg.*numeric org id/);
    expect(unknown.stderr).toMatch(
      /Fix: Pass --org-id with the numeric org id, or set IMS_ORG_ID to it: .*\/console\/projects\/\{orgId\}\//,
    );
  });

  it('a credential without the I/O Management API → exit 6 (IMS_FORBIDDEN) saying to add it', async () => {
    const c = credential(fx, { allowedScopes: ['openid', 'AdobeID', 'firefly_api'] });
    const r = await runCli(['secrets', 'list'], { env: secretsEnv(c) });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ims-token: IMS_FORBIDDEN: .*add the I\/O Management API to the project/);
    const rot = await runCli(['secrets', 'rotate', '--json', '--dry-run'], { env: secretsEnv(c) });
    expect(rot.code).toBe(6);
    expect(JSON.parse(rot.stdout)).toMatchObject({ ok: false, steps: [{ name: 'token', status: 'failed' }] });
    expect(JSON.parse(rot.stderr)).toMatchObject({ error: { code: 'IMS_FORBIDDEN', exitCode: 6 } });
  });
});

describe('ims-token secrets add', () => {
  it('prints exactly the new secret on stdout and a warning on stderr; it mints once active', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'add'], { env: secretsEnv(c) });
    expect(r.code).toBe(0);
    const secret = r.stdout.slice(0, -1);
    newSecretSeen(r, secret, `${secret}\n`);
    expect(secretsOf(c)).toEqual([c.clientSecret, secret]);
    expect(r.stderr).toMatch(/^ims-token: warning: added client secret [0-9a-f-]{32,36} .*never shown again: store it now/);
    fx.emu.advance(200); // the activation delay
    const t = await runCli(['token', '--no-cache'], { env: { ...c.env, IMS_CLIENT_SECRET: secret }, printsToken: true });
    expect(t.code).toBe(0);

    const third = await runCli(['secrets', 'add'], { env: secretsEnv(c) });
    expect(third.code).toBe(6);
    expect(third.stdout).toBe('');
    expect(third.stderr).toMatch(/IMS_SECRET_LIMIT: Cannot add a client secret: .* already has 2 secrets/);
    expect(secretsOf(c)).toHaveLength(2);
  });
});

describe('ims-token secrets delete', () => {
  it('deletes with --yes; refuses without a terminal or --yes (2), an unknown uuid and the last secret (6)', async () => {
    const c = credential(fx);
    const original = (await uuids(c)).secrets[0]!.uuid;
    const added = await add(c);

    const refused = await runCli(['secrets', 'delete', added.uuid], { env: secretsEnv(c) });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/cannot ask here \(not a terminal\).*Fix: Pass --yes/);
    expect(secretsOf(c)).toHaveLength(2);

    const unknown = await runCli(['secrets', 'delete', 'not-a-uuid-but-maybe-a-secret', '--yes'], { env: secretsEnv(c) });
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toMatch(/IMS_NOT_FOUND: .*has no client secret \(the given uuid\)/);
    expect(unknown.stderr).not.toContain('maybe-a-secret');

    // Deleting the secret this configuration holds works, with a warning.
    const ours = await runCli(['secrets', 'delete', original, '--yes'], { env: secretsEnv(c) });
    expect(ours.code).toBe(0);
    expect(ours.stdout).toMatch(new RegExp(`^✓ deleted client secret ${original}\\.`));
    expect(ours.stderr).toMatch(/warning: .* is the secret IMS_CLIENT_SECRET holds/);
    expect(secretsOf(c)).toEqual([added.secret]);

    fx.emu.advance(200); // the added secret's activation delay
    const env = { ...secretsEnv(c), IMS_CLIENT_SECRET: added.secret };
    const last = await runCli(['secrets', 'delete', added.uuid, '--yes', '--json'], { env });
    expect(last.code).toBe(6);
    expect(JSON.parse(last.stderr)).toMatchObject({
      error: { code: 'IMS_SECRET_LIMIT', exitCode: 6, message: expect.stringMatching(/only client secret/) },
    });
    expect(secretsOf(c)).toEqual([added.secret]);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;
const onTerminal = (argv: string[]): [string, string[]] => [
  'script',
  ['-qefc', [process.execPath, ...argv].map((a) => `'${a}'`).join(' '), '/dev/null'],
];

describe.skipIf(!hasScript)('ims-token secrets delete on a terminal', () => {
  it('asks first: "n" deletes nothing, "y" deletes', async () => {
    const c = credential(fx);
    const added = await add(c);
    const ask = (answer: string): Promise<CliResult> =>
      runCli(['secrets', 'delete', added.uuid], {
        env: { ...secretsEnv(c), TERM: 'dumb', NO_COLOR: '1' },
        wrap: onTerminal,
        onSpawn: (child) => {
          void (async () => {
            await waitFor(child, '[y/N] ');
            child.stdin!.write(`${answer}\r`);
            child.stdin!.end();
          })().catch(() => child.kill());
        },
      });
    const no = await ask('n');
    expect(no.code).toBe(0);
    expect(no.stdout).toMatch(/nothing deleted/);
    expect(secretsOf(c)).toHaveLength(2);
    const yes = await ask('y');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/✓ deleted client secret/);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });
});

import { expect } from 'vitest';
import type { Credential, Fixture } from './fixture';
import { SECRETS, runCli } from './run-cli';
import type { CliResult } from './run-cli';

/** Helpers of the `secrets` command tests, bound to one fixture. */
export function secretsKit(fx: () => Fixture) {
  /** The credential's environment plus what the secrets commands need. */
  function secretsEnv(c: Credential): Record<string, string> {
    return { ...c.env, IMS_MANAGEMENT_URL: fx().emu.url, IMS_ORG_ID: c.orgId, IMS_CREDENTIAL_ID: c.credentialId };
  }

  /** The secret values the emulator holds for this client right now. */
  function secretsOf(c: Credential): string[] {
    return [...fx().emu.client(c.clientId)!.clientSecrets];
  }

  /**
   * A new secret this run handed out: it may appear only as `expectedStdout` (or nowhere, for a file), never on
   * stderr. From now on every run's output is scanned for it, like the secrets of the fixture.
   */
  function newSecretSeen(r: CliResult, secret: string, expectedStdout?: string): void {
    expect(secret).toMatch(/^p8e-/);
    expect(r.stderr.includes(secret), 'the new secret on stderr').toBe(false);
    if (expectedStdout === undefined) expect(r.stdout.includes(secret), 'the new secret on stdout').toBe(false);
    else expect(r.stdout).toBe(expectedStdout);
    SECRETS.add(secret);
  }

  async function uuids(
    c: Credential,
    env = secretsEnv(c),
  ): Promise<{ current: string | null; secrets: Array<{ uuid: string; lastUsedAt: string | null; current: boolean | null }> }> {
    const r = await runCli(['secrets', 'list', '--json'], { env });
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  }

  /** `secrets add`: the new secret's value and uuid. */
  async function add(c: Credential): Promise<{ secret: string; uuid: string }> {
    const r = await runCli(['secrets', 'add'], { env: secretsEnv(c) });
    expect(r.code).toBe(0);
    const secret = r.stdout.trim();
    newSecretSeen(r, secret, `${secret}\n`);
    const uuid = /added client secret ([0-9a-f-]{32,36})/.exec(r.stderr)![1]!;
    return { secret, uuid };
  }

  /** A dotenv file with everything `rotate` needs, comments and unrelated lines. */
  function envFileText(c: Credential, next: boolean): string {
    return [
      '# production credential (keep this comment)',
      `export IMS_CLIENT_ID=${c.clientId}`,
      `IMS_CLIENT_SECRET=${c.clientSecret}   # rotated by ims-token`,
      ...(next ? ['IMS_CLIENT_SECRET_NEXT='] : []),
      `IMS_ORG_ID=${c.orgId}`,
      `IMS_CREDENTIAL_ID=${c.credentialId}`,
      `IMS_URL=${fx().emu.url}`,
      `IMS_MANAGEMENT_URL=${fx().emu.url}`,
      'IMS_SCOPES=openid,AdobeID,firefly_api',
      '',
      'DATABASE_URL="postgres://db/app?sslmode=require"',
      '',
    ].join('\n');
  }

  return { secretsEnv, secretsOf, newSecretSeen, uuids, add, envFileText };
}

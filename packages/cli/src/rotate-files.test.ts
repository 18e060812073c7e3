import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Credential, Fixture } from './test/fixture';
import { SECRETS, reachableByOthers, runCli, scan, waitFor } from './test/run-cli';

// Issue 13, items 2–5 and 7: what `secrets rotate` does to the files it writes, tried the way operators run it.

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({ secretActivationDelayMs: 0 });
});
afterAll(async () => {
  await fx?.stop();
});

const isRoot = process.getuid?.() === 0;

function secretsEnv(c: Credential): Record<string, string> {
  return { ...c.env, IMS_MANAGEMENT_URL: fx.emu.url, IMS_ORG_ID: c.orgId, IMS_CREDENTIAL_ID: c.credentialId };
}

function secretsOf(c: Credential): string[] {
  return [...fx.emu.client(c.clientId)!.clientSecrets];
}

/** Remembers the secrets the emulator holds now, so that every later output is scanned for them. */
function remember(c: Credential): void {
  for (const s of secretsOf(c)) SECRETS.add(s);
}

/** A dotenv file with everything rotate needs (read with --env-file). */
function envText(c: Credential, extra: string[] = []): string {
  return [
    `IMS_CLIENT_ID=${c.clientId}`,
    `IMS_CLIENT_SECRET=${c.clientSecret}`,
    `IMS_ORG_ID=${c.orgId}`,
    `IMS_CREDENTIAL_ID=${c.credentialId}`,
    `IMS_URL=${fx.emu.url}`,
    `IMS_MANAGEMENT_URL=${fx.emu.url}`,
    'IMS_SCOPES=openid,AdobeID,firefly_api',
    ...extra,
    '',
  ].join('\n');
}

const bare = (c: Credential): Record<string, string> => ({ HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME! });

/** Runs argv under `ulimit -f 1` (files larger than 1 KiB cannot be written: EFBIG). */
const smallFiles = (argv: string[]): [string, string[]] => ['bash', ['-c', 'ulimit -f 1; exec "$@"', 'bash', process.execPath, ...argv]];

describe.skipIf(!isRoot)('owner, group and mode of the files rotate writes', () => {
  it('a root:svc 0640 secret file keeps its owner, group and mode (a service reading it must not get EACCES)', async () => {
    const c = credential(fx);
    const file = join(c.dir, 'ims-secret');
    writeFileSync(file, `${c.clientSecret}\n`);
    chownSync(file, 0, 4321);
    chmodSync(file, 0o640);
    const { IMS_CLIENT_SECRET: _s, ...base } = secretsEnv(c);
    const r = await runCli(['secrets', 'rotate', '--write-secret-file', file], { env: { ...base, IMS_CLIENT_SECRET_FILE: file } });
    remember(c);
    scan(r, false); // again, now that the new secret is known
    expect(r.code).toBe(0);
    const st = statSync(file);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 0, gid: 4321, mode: 0o640 });
    expect(readFileSync(file, 'utf8').split('\n')[1]).toBe(c.clientSecret);
  });

  it('a world-readable .env loses world access, with a warning', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    writeFileSync(file, envText(c));
    chmodSync(file, 0o644);
    const r = await runCli(['secrets', 'rotate', '--env-file', file, '--write-env-file', file], { env: bare(c) });
    remember(c);
    scan(r, false); // again, now that the new secret is known
    expect(r.code).toBe(0);
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    expect(r.stderr).toMatch(/warning: .*\.env was readable by every user \(mode 0644\); it is now 0640/);
  });

  it('a rolled-back run changes nothing: bytes, owner, group and mode of both files', async () => {
    const c = credential(fx);
    const secretFile = join(c.dir, 'ims-secret');
    writeFileSync(secretFile, `${c.clientSecret}\n`);
    chownSync(secretFile, 1234, 4321);
    chmodSync(secretFile, 0o640);
    // The env file is larger than `ulimit -f 1` allows: writing it fails after the secret file was written.
    const envFile = join(c.dir, 'app.env');
    writeFileSync(envFile, `IMS_CLIENT_SECRET=${c.clientSecret}\n# ${'x'.repeat(2000)}\n`);
    chmodSync(envFile, 0o600);
    const envBytes = readFileSync(envFile);
    const { IMS_CLIENT_SECRET: _s, ...base } = secretsEnv(c);
    const r = await runCli(['secrets', 'rotate', '--write-secret-file', secretFile, '--write-env-file', envFile], {
      env: { ...base, IMS_CLIENT_SECRET_FILE: secretFile },
      wrap: smallFiles,
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/EFBIG/);
    expect(r.stderr).toMatch(/^✓ rollback\s+Deleted the new secret/m);
    const st = statSync(secretFile);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 1234, gid: 4321, mode: 0o640 });
    expect(readFileSync(secretFile, 'utf8')).toBe(`${c.clientSecret}\n`);
    expect(readFileSync(envFile).equals(envBytes)).toBe(true);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });

  it('refuses before contacting Adobe when it could not keep the owner', async () => {
    const c = credential(fx);
    // nobody may read the file (group) and write its directory, but cannot give a new file to uid 1234.
    const dir = mkdtempSync(join(tmpdir(), 'ims-owner-'));
    chmodSync(dir, 0o755);
    const work = join(dir, 'app');
    mkdirSync(work);
    chownSync(work, 65534, 65534);
    const file = join(work, 'ims-secret');
    writeFileSync(file, `${c.clientSecret}\n`);
    chownSync(file, 1234, 65534);
    chmodSync(file, 0o660);
    const { IMS_CLIENT_SECRET: _s, ...base } = secretsEnv(c);
    const requests = fx.emu.stats.secretsRequests;
    try {
      const r = await reachableByOthers(() =>
        runCli(['secrets', 'rotate', '--write-secret-file', file], {
          env: { ...base, HOME: work, XDG_CACHE_HOME: join(work, 'cache'), IMS_CLIENT_SECRET_FILE: file },
          wrap: (argv) => ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv]],
        }),
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /--write-secret-file .*ims-secret is owned by uid 1234; this process \(uid 65534\) could not keep that owner/,
      );
      expect(fx.emu.stats.secretsRequests).toBe(requests);
      expect(statSync(file).uid).toBe(1234);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a symlinked target', () => {
  it('release/.env -> ../shared/.env is updated at shared/.env and stays a link', async () => {
    const c = credential(fx);
    mkdirSync(join(c.dir, 'shared'));
    mkdirSync(join(c.dir, 'release'));
    const shared = join(c.dir, 'shared', '.env');
    writeFileSync(shared, envText(c), { mode: 0o600 });
    const link = join(c.dir, 'release', '.env');
    symlinkSync('../shared/.env', link);
    const r = await runCli(['secrets', 'rotate', '--env-file', 'release/.env', '--write-env-file', 'release/.env'], {
      env: bare(c),
      cwd: c.dir,
    });
    remember(c);
    scan(r, false); // again, now that the new secret is known
    expect(r.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../shared/.env');
    const secret = parseEnv(readFileSync(shared, 'utf8')).IMS_CLIENT_SECRET!;
    expect(secret).not.toBe(c.clientSecret);
    expect(secretsOf(c)).toEqual([c.clientSecret, secret]);
    expect(r.stderr).toMatch(/release\/\.env is a symbolic link: updating .*shared\/\.env/);
  });

  it('a link to a missing file is refused, saying why, before anything changes', async () => {
    const c = credential(fx);
    const link = join(c.dir, 'dangling.env');
    symlinkSync('nowhere/.env', link);
    const requests = fx.emu.stats.secretsRequests;
    const r = await runCli(['secrets', 'rotate', '--write-secret-file', link], { env: secretsEnv(c) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--write-secret-file .*dangling\.env is a symbolic link to .*nowhere\/\.env, which does not exist/);
    expect(fx.emu.stats.secretsRequests).toBe(requests);
  });
});

describe('edits made while the rotation runs', () => {
  it('a line appended to .env during the run is kept', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    writeFileSync(file, envText(c), { mode: 0o600 });
    fx.emu.fault({ target: 'secrets', kind: 'latency', latencyMs: 600, times: 1 });
    const r = await runCli(['secrets', 'rotate', '--env-file', file, '--write-env-file', file], {
      env: bare(c),
      onSpawn: (child) => {
        child.stdin!.end();
        void waitFor(child, /^✓ token /m, 'stderr').then(
          () => writeFileSync(file, 'FEATURE_FLAG=on\n', { flag: 'a' }),
          () => undefined,
        );
      },
    });
    remember(c);
    scan(r, false); // again, now that the new secret is known
    expect(r.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^FEATURE_FLAG=on$/m);
    expect(parseEnv(text).IMS_CLIENT_SECRET).not.toBe(c.clientSecret);
  });

  it('a secret changed by someone else during the run stops the rotation and undoes it', async () => {
    const c = credential(fx);
    const file = join(c.dir, 'ims-secret');
    writeFileSync(file, `${c.clientSecret}\n`, { mode: 0o600 });
    const { IMS_CLIENT_SECRET: _s, ...base } = secretsEnv(c);
    fx.emu.fault({ target: 'secrets', kind: 'latency', latencyMs: 600, times: 1 });
    const r = await runCli(['secrets', 'rotate', '--write-secret-file', file], {
      env: { ...base, IMS_CLIENT_SECRET_FILE: file },
      onSpawn: (child) => {
        child.stdin!.end();
        void waitFor(child, /^✓ token /m, 'stderr').then(
          () => writeFileSync(file, `${c.clientSecret}\n# edited by hand\n`),
          () => undefined,
        );
      },
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/ims-secret changed while the rotation ran/);
    expect(readFileSync(file, 'utf8')).toBe(`${c.clientSecret}\n# edited by hand\n`);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });
});

describe('a stdout that fails', () => {
  it('> /dev/full: storing the new secret failed, so it is deleted again (exit 7, no crash)', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'rotate', '--delete-old', '--force'], {
      env: secretsEnv(c),
      wrap: (argv) => ['bash', ['-c', 'exec "$@" > /dev/full', 'bash', process.execPath, ...argv]],
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^✗ persist\s+.*ENOSPC/m);
    expect(r.stderr).toMatch(/^✓ rollback\s+Deleted the new secret/m);
    expect(r.stderr).not.toMatch(/^✓ persist/m);
    expect(r.stderr).not.toMatch(/node:events|Unhandled/);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });

  it('a closed pipe: the same', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'rotate'], {
      env: secretsEnv(c),
      onSpawn: (child) => {
        child.stdin!.end();
        child.stdout!.destroy();
      },
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^✗ persist\s+.*EPIPE/m);
    expect(r.stderr).toMatch(/^✓ rollback\s+Deleted the new secret/m);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });
});

describe('bytes that are not UTF-8', () => {
  it('are kept as they are in the lines rotate does not rewrite', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    const latin1 = Buffer.from('# Grüße aus Köln\nGREETING=Grüße\n', 'latin1');
    const before = Buffer.concat([latin1, Buffer.from(envText(c))]);
    writeFileSync(file, before, { mode: 0o600 });
    const r = await runCli(['secrets', 'rotate', '--env-file', file, '--write-env-file', file], { env: bare(c) });
    remember(c);
    scan(r, false); // again, now that the new secret is known
    expect(r.code).toBe(0);
    const after = readFileSync(file);
    expect(after.subarray(0, latin1.length).equals(latin1)).toBe(true);
    const secret = secretsOf(c)[1]!;
    expect(after.subarray(latin1.length).toString('latin1')).toBe(envText(c).replace(c.clientSecret, secret));
  });
});

describe('helpers', () => {
  it('setpriv is there for the owner test', () => {
    if (isRoot) expect(spawnSync('setpriv', ['--version']).status).toBe(0);
  });
});

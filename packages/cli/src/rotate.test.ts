import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { secretsKit } from './test/secrets-kit';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IO_MANAGEMENT_SCOPES, createTokenProvider } from '@ims-token/core';
import { parseDuration } from './commands/secrets/files';
import { editEnv } from './files/dotenv';
import { runCli, waitFor } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({ secretActivationDelayMs: 200 });
});
afterAll(async () => {
  await fx?.stop();
});

const { secretsEnv, secretsOf, newSecretSeen, add, envFileText } = secretsKit(() => fx);

describe('ims-token secrets rotate', () => {
  it('--write-secret-file: new first and old second, mode kept minus world access; a provider on that file mints throughout; a rerun finishes', async () => {
    const c = credential(fx);
    const file = join(c.dir, 'ims-secret');
    writeFileSync(file, `${c.clientSecret}\n`, { mode: 0o644 });
    const { IMS_CLIENT_SECRET: _s, ...base } = secretsEnv(c);
    const env = { ...base, IMS_CLIENT_SECRET_FILE: file };

    const provider = createTokenProvider({
      clientId: c.clientId,
      clientSecretFile: file,
      scopes: 'openid,AdobeID',
      imsUrl: fx.emu.url,
      retryBaseDelayMs: 5,
    });
    let mints = 0;
    const failures: string[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          await provider.getToken({ forceRefresh: true });
          mints++;
        } catch (err) {
          failures.push((err as { code?: string }).code ?? String(err));
        }
        await sleep(15); // not the emulator's: the pace of the service's own loop
      }
    })();
    try {
      const r = await runCli(['secrets', 'rotate', '--write-secret-file', file], { env });
      expect(r.code).toBe(0);
      const [secret, old, ...rest] = readFileSync(file, 'utf8').split('\n');
      expect(old).toBe(c.clientSecret);
      expect(rest).toEqual(['']);
      newSecretSeen(r, secret!);
      expect(statSync(file).mode & 0o777).toBe(0o640); // it was 0644: a file holding a secret loses world access
      expect(r.stderr).toMatch(/warning: .*ims-secret was readable by every user \(mode 0644\); it is now 0640/);
      expect(secretsOf(c)).toEqual([c.clientSecret, secret]);
      expect(r.stdout).toBe('');
      for (const step of ['token', 'list', 'check-limit', 'add', 'verify', 'persist'])
        expect(r.stderr).toMatch(new RegExp(`^✓ ${step} `, 'm'));
      expect(r.stderr).toMatch(/^– delete-old /m);
      expect(r.stderr).toMatch(new RegExp(`^✓ persist\\s+Stored the new secret [0-9a-f-]{32,36} in ${file};`, 'm'));
      expect(r.stderr).toMatch(/ims-token: rotated: the new secret [0-9a-f-]{32,36} is written to /);

      // The rerun reads the new secret (first line) as the current one: it finishes the rotation.
      const fin = await runCli(['secrets', 'rotate', '--write-secret-file', file, '--delete-old', '--force', '--json'], { env });
      expect(fin.code).toBe(0);
      const report = JSON.parse(fin.stdout);
      expect(report).toMatchObject({ ok: true, mode: 'finish', deletedOld: true, tidied: [file] });
      expect(secretsOf(c)).toEqual([secret]);
      expect(readFileSync(file, 'utf8')).toBe(`${secret}\n`);
      const after = mints;
      await vi.waitFor(() => expect(mints).toBeGreaterThanOrEqual(after + 3), { timeout: 10_000, interval: 5 }); // the service keeps minting after the deletion
    } finally {
      running = false;
      await loop;
      await provider.close();
    }
    expect(failures).toEqual([]);
    expect(mints).toBeGreaterThan(10);
  });

  it('--write-env-file keeps every other line and comment, its mode, and puts the old secret in IMS_CLIENT_SECRET_NEXT', async () => {
    const c = credential(fx);
    const file = join(c.dir, 'prod.env');
    const before = envFileText(c, true);
    writeFileSync(file, before, { mode: 0o640 });
    const r = await runCli(['secrets', 'rotate', '--env-file', file, '--write-env-file', file], {
      env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME! },
    });
    expect(r.code).toBe(0);
    const after = readFileSync(file, 'utf8');
    const secret = /^IMS_CLIENT_SECRET=(\S+)/m.exec(after)![1]!;
    newSecretSeen(r, secret);
    expect(after).toBe(
      before
        .replace(`IMS_CLIENT_SECRET=${c.clientSecret}   #`, `IMS_CLIENT_SECRET=${secret}   #`)
        .replace('IMS_CLIENT_SECRET_NEXT=', `IMS_CLIENT_SECRET_NEXT=${c.clientSecret}`),
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(secretsOf(c)).toEqual([c.clientSecret, secret]);

    // Without IMS_CLIENT_SECRET_NEXT in the file, only IMS_CLIENT_SECRET changes.
    const d = credential(fx);
    const other = join(d.dir, '.env');
    writeFileSync(other, envFileText(d, false), { mode: 0o600 });
    const s = await runCli(['secrets', 'rotate', '--env-file', '.env', '--write-env-file', '.env', '--json'], {
      env: { HOME: d.dir },
      cwd: d.dir,
    });
    expect(s.code).toBe(0);
    const text = readFileSync(other, 'utf8');
    const value = /^IMS_CLIENT_SECRET=(\S+)/m.exec(text)![1]!;
    newSecretSeen(s, value);
    expect(text).toBe(envFileText(d, false).replace(d.clientSecret, value));
    expect(JSON.parse(s.stdout)).toMatchObject({ ok: true, mode: 'rotate', written: [other], deletedOld: false });
  });

  it('prints the new secret alone on stdout when no --write-* is given (and --json then needs one)', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'rotate'], { env: secretsEnv(c) });
    expect(r.code).toBe(0);
    const secret = r.stdout.slice(0, -1);
    newSecretSeen(r, secret, `${secret}\n`);
    expect(secretsOf(c)).toEqual([c.clientSecret, secret]);
    expect(r.stderr).toMatch(/Stored the new secret [0-9a-f-]{32,36} on stdout/);
    expect(r.stderr).toMatch(/printed on stdout \(store it now/);

    const j = await runCli(['secrets', 'rotate', '--json'], { env: secretsEnv(c) });
    expect(j.code).toBe(2);
    expect(j.stdout).toBe('');
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: 'IMS_CONFIG', hint: expect.stringMatching(/--write-secret-file/) } });
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const c = credential(fx);
    const file = join(c.dir, '.env');
    writeFileSync(file, envFileText(c, true), { mode: 0o600 });
    const requests = fx.emu.stats.secretsRequests;
    const r = await runCli(['secrets', 'rotate', '--env-file', file, '--write-env-file', file, '--delete-old', '--dry-run'], {
      env: { HOME: c.dir },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^→ add\s+Would add a second client secret/m);
    expect(r.stderr).toMatch(/^→ persist\s+Would store the new secret in /m);
    expect(r.stderr).toMatch(/^→ delete-old /m);
    expect(r.stderr).toMatch(/dry run: nothing was changed/);
    expect(secretsOf(c)).toEqual([c.clientSecret]);
    expect(readFileSync(file, 'utf8')).toBe(envFileText(c, true));
    expect(fx.emu.stats.secretsRequests - requests).toBe(1); // one list, no add or delete
  });

  it('--delete-old keeps an old secret used recently (it just minted); --force deletes it', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'rotate', '--delete-old'], { env: secretsEnv(c) });
    expect(r.code).toBe(0);
    newSecretSeen(r, r.stdout.trim(), r.stdout);
    expect(r.stderr).toMatch(
      /^– delete-old\s+Kept the old secret [0-9a-f-]{32,36}: last used .* ago; it is deleted only after 25 h without use.* Rerun with --delete-old after \S+ to delete it .* or add --force/m,
    );
    expect(secretsOf(c)).toHaveLength(2);

    const d = credential(fx);
    const f = await runCli(['secrets', 'rotate', '--delete-old', '--min-idle', '1h', '--force', '--verbose'], { env: secretsEnv(d) });
    expect(f.code).toBe(0);
    const secret = f.stdout.trim();
    newSecretSeen(f, secret, f.stdout);
    expect(f.stderr).toMatch(/^✓ delete-old\s+Deleted the old secret .*forced although it was used recently/m);
    expect(f.stderr).toMatch(/I\/O Management API call done/); // --verbose: core's log lines, scanned like the rest
    expect(secretsOf(d)).toEqual([secret]);

    const bad = await runCli(['secrets', 'rotate', '--delete-old', '--min-idle', 'soon'], { env: secretsEnv(d) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--min-idle must be a duration such as 30s, 15m, 2h or 1d/);
    const alone = await runCli(['secrets', 'rotate', '--force'], { env: secretsEnv(d) });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--force only applies to --delete-old/);
  });

  it('two secrets already → exit 6, IMS_SECRET_LIMIT naming the unused one; the steps come first', async () => {
    const c = credential(fx);
    const added = await add(c);
    const r = await runCli(['secrets', 'rotate'], { env: secretsEnv(c) });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^✓ token /);
    expect(lines).toContainEqual(expect.stringMatching(/^✗ check-limit /));
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^ims-token: IMS_SECRET_LIMIT: Cannot add a client secret: .*${added.uuid} is not the secret this process authenticates with and was never used.*\`ims-token secrets delete ${added.uuid}\``,
      ),
    );
    expect(secretsOf(c)).toHaveLength(2);
  });

  it('a new secret that does not verify → exit 7 (IMS_ROTATION_FAILED), deleted again; a bad target path → exit 2 first', async () => {
    const c = credential(fx, { allowedScopes: [...IO_MANAGEMENT_SCOPES] });
    const r = await runCli(['secrets', 'rotate', '--scopes', 'openid,firefly_api'], { env: secretsEnv(c) });
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^✗ verify\s+The new secret [0-9a-f-]{32,36} did not mint a token for openid,firefly_api .*IMS_INVALID_SCOPE/m,
    );
    expect(r.stderr).toMatch(/^✓ rollback\s+Deleted the new secret/m);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(
      /^ims-token: IMS_ROTATION_FAILED: Secret rotation failed at verify: .*the credential and the current secret are as before/,
    );
    expect(secretsOf(c)).toEqual([c.clientSecret]);

    const dir = join(c.dir, 'a-directory');
    spawnSync('mkdir', [dir]);
    const requests = fx.emu.stats.secretsRequests;
    const bad = await runCli(['secrets', 'rotate', '--write-secret-file', dir], { env: secretsEnv(c) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/IMS_CONFIG: --write-secret-file .*a-directory cannot be read \(EISDIR\)/);
    const missing = await runCli(['secrets', 'rotate', '--write-env-file', join(c.dir, 'nope.env')], { env: secretsEnv(c) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--write-env-file .*nope\.env does not exist/);
    expect(fx.emu.stats.secretsRequests).toBe(requests);
  });
});

describe('ims-token secrets rotate, cancelled', () => {
  it('Ctrl-C after the new secret was added deletes it again and exits 130', async () => {
    const c = credential(fx);
    const r = await runCli(['secrets', 'rotate'], {
      env: secretsEnv(c),
      onSpawn: (child) => {
        child.stdin!.end();
        void waitFor(child, /^✓ add /m, 'stderr').then(
          () => child.kill('SIGINT'),
          () => undefined,
        );
      },
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/SIGINT: cancelling the rotation/);
    expect(r.stderr).toMatch(/^✗ verify /m);
    expect(r.stderr).toMatch(/^✓ rollback\s+Deleted the new secret/m);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(
      /^ims-token: IMS_ABORTED: Secret rotation cancelled during verify\. The new secret \S+ was deleted again; the credential and the current secret are as before/,
    );
    expect(secretsOf(c)).toEqual([c.clientSecret]);
  });
});

describe('helpers of secrets rotate', () => {
  it('parseDuration reads 30s, 15m, 2h, 1d, 1h30m, 0 and refuses the rest', () => {
    expect([
      parseDuration('30s'),
      parseDuration('15m'),
      parseDuration('2h'),
      parseDuration('1d'),
      parseDuration('1h30m'),
      parseDuration('0'),
      parseDuration('500ms'),
    ]).toEqual([30_000, 900_000, 7_200_000, 86_400_000, 5_400_000, 0, 500]);
    for (const bad of ['', '15', 'm', '-1m', '1 h', 'soon', '1w']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('editEnv changes only the given keys, in place, keeping export, comments, quotes, CRLF and every other byte', () => {
    const set = (text: string, values: Array<[string, string]>): string =>
      editEnv(Buffer.from(text, 'latin1'), { set: values }).toString('latin1');
    const text = '# c\r\nexport IMS_CLIENT_SECRET="old" # keep\r\nOTHER=1\r\nIMS_CLIENT_SECRET_NEXT=\r\n';
    expect(
      set(text, [
        ['IMS_CLIENT_SECRET', 'p8e-new'],
        ['IMS_CLIENT_SECRET_NEXT', 'p8e-old'],
      ]),
    ).toBe('# c\r\nexport IMS_CLIENT_SECRET=p8e-new # keep\r\nOTHER=1\r\nIMS_CLIENT_SECRET_NEXT=p8e-old\r\n');
    expect(set('A=1\n', [['IMS_CLIENT_SECRET', 'has space']])).toBe("A=1\nIMS_CLIENT_SECRET='has space'\n");
    expect(set('A=1', [['A', '2']])).toBe('A=2');
    expect(set('A=1\r\nB=2', [['C', '3']])).toBe('A=1\r\nB=2\r\nC=3\r\n');
    expect(set('\xEF\xBB\xBFA=1\nGREETING=Gr\xFC\xDFe\n', [['A', '2']])).toBe('\xEF\xBB\xBFA=2\nGREETING=Gr\xFC\xDFe\n');
    expect(editEnv(Buffer.from('A=1\n'), { set: [['B', '2']], header: '# added' }).toString()).toBe('A=1\n\n# added\nB=2\n');
    expect(editEnv(Buffer.from('A=1\nB=x\nexport B=y\n'), { set: [], remove: ['B'] }).toString()).toBe('A=1\n');
    expect(() => editEnv(Buffer.from('IMS_CLIENT_SECRET="abc\ndef"\n'), { set: [['IMS_CLIENT_SECRET', 'x']] })).toThrow(
      /spans several lines/,
    );
  });
});

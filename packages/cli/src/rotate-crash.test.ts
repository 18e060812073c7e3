import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { createSecretsClient, createTokenProvider, parseSecretLines } from '@ims-token/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Credential, Fixture } from './test/fixture';
import { SECRETS, runCli as run, scan, waitFor } from './test/run-cli';
import type { RunOptions } from './test/run-cli';
import type { CliResult } from './test/run-cli';

// Issue 13's crash-point suite: `secrets rotate` is stopped at every step boundary (SIGKILL of the CLI, a
// concurrent second rotation, a concurrent Developer-Console-style add), and after each one invariant holds:
// at least one secret that exists at Adobe is in the persisted target and mints a token, and no secret that the
// run did not create and verify as unused was deleted. A rerun then either finishes or undoes, and says which.
// IMS_TOKEN_TEST_FAILPOINT=after:<step>:kill|stop makes the CLI SIGKILL (or SIGSTOP) itself right after it
// recorded <step>: a real crash at an exact boundary.

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({ secretActivationDelayMs: 0 });
});
afterAll(async () => {
  await fx?.stop();
  for (const r of outputs) scan(r, false);
});

type Target = { kind: 'env' | 'secret-file'; file: string };

function secretsOf(c: Credential): string[] {
  return [...fx.emu.client(c.clientId)!.clientSecrets];
}

/** Every run's output, scanned again at the end for every secret seen since (a new secret is known only after its run). */
const outputs: CliResult[] = [];

async function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const r = await run(args, options);
  outputs.push(r);
  return r;
}

function remember(c: Credential): void {
  for (const s of secretsOf(c)) SECRETS.add(s);
}

/** A credential whose configuration lives in the target it rotates (as operators run it). */
function setup(kind: Target['kind']): { c: Credential; target: Target; args: string[]; env: Record<string, string> } {
  const c = credential(fx);
  const common = {
    IMS_CLIENT_ID: c.clientId,
    IMS_ORG_ID: c.orgId,
    IMS_CREDENTIAL_ID: c.credentialId,
    IMS_URL: fx.emu.url,
    IMS_MANAGEMENT_URL: fx.emu.url,
    IMS_SCOPES: 'openid,AdobeID,firefly_api',
  };
  if (kind === 'env') {
    const file = join(c.dir, '.env');
    const lines = Object.entries(common).map(([k, v]) => `${k}=${v}`);
    writeFileSync(file, [`IMS_CLIENT_SECRET=${c.clientSecret}`, 'IMS_CLIENT_SECRET_NEXT=', ...lines, ''].join('\n'), { mode: 0o600 });
    return {
      c,
      target: { kind, file },
      args: ['--env-file', file, '--write-env-file', file],
      env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME! },
    };
  }
  const file = join(c.dir, 'ims-secret');
  writeFileSync(file, `${c.clientSecret}\n`, { mode: 0o600 });
  return {
    c,
    target: { kind, file },
    args: ['--write-secret-file', file],
    env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME!, ...common, IMS_CLIENT_SECRET_FILE: file },
  };
}

/** The secrets the target holds, in the order services use them. */
function held(t: Target): string[] {
  const text = readFileSync(t.file, 'utf8');
  if (t.kind === 'secret-file') return parseSecretLines(text);
  const env = parseEnv(text);
  return [env.IMS_CLIENT_SECRET, env.IMS_CLIENT_SECRET_NEXT].filter((s): s is string => !!s);
}

async function mints(c: Credential, secret: string): Promise<boolean> {
  const p = createTokenProvider({ clientId: c.clientId, clientSecret: secret, scopes: 'openid', imsUrl: fx.emu.url, maxRetries: 0 });
  try {
    await p.getToken();
    return true;
  } catch {
    return false;
  } finally {
    await p.close();
  }
}

/** The invariant: the target holds a secret that exists and mints; nothing the run may not delete is gone. */
async function holds(c: Credential, t: Target, mustExist: readonly string[]): Promise<void> {
  remember(c);
  const atAdobe = secretsOf(c);
  const working = held(t).filter((s) => atAdobe.includes(s));
  expect(working.length, 'a secret in the target that exists at Adobe').toBeGreaterThan(0);
  expect(await mints(c, working[0]!)).toBe(true);
  for (const s of mustExist) expect(atAdobe, 'a secret the run had no right to delete').toContain(s);
  expect(atAdobe.length).toBeLessThanOrEqual(2);
}

const failpoint = (step: string, action: 'kill' | 'stop'): Record<string, string> => ({
  IMS_TOKEN_TEST_FAILPOINT: `after:${step}:${action}`,
});

/** Resolves once the process is stopped (SIGSTOP). */
async function stopped(child: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const state = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.[0];
    if (state === 'T' || state === 't') return;
    await sleep(10);
  }
  throw new Error('the CLI did not stop');
}

const BOUNDARIES = ['token', 'list', 'check-limit', 'add', 'verify', 'persist', 'delete-old'] as const;

/** What the rerun must say for a crash after `step`. */
const SAYS: Record<(typeof BOUNDARIES)[number], RegExp> = {
  token: /interrupted before it changed anything; nothing to undo/,
  list: /interrupted before it changed anything; nothing to undo/,
  'check-limit': /interrupted before it changed anything; nothing to undo/,
  add: /undone: deleted the new secret [0-9a-f-]{32,36}, which was never stored/,
  verify: /undone: deleted the new secret [0-9a-f-]{32,36}, which was never stored/,
  persist: /finished: .* holds the new secret [0-9a-f-]{32,36}/,
  'delete-old': /finished: .* holds the new secret [0-9a-f-]{32,36}/,
};

/** The secret-file target repeats the boundaries where the two kinds of target differ (what the files hold). */
const CASES = [
  ...BOUNDARIES.map((step) => ['env', step] as const),
  ...(['add', 'persist', 'delete-old'] as const).map((step) => ['secret-file', step] as const),
];

// Each case runs the CLI three or four times: on a loaded machine that takes a while, hence the longer timeout.
describe('SIGKILL at every step boundary (--delete-old --min-idle 0)', { timeout: 120_000 }, () => {
  for (const [kind, step] of CASES) {
    it(`${kind}: killed after ${step}; the rerun says what it did and ends clean`, async () => {
      const { c, target, args, env } = setup(kind);
      const flags = ['secrets', 'rotate', ...args, '--delete-old', '--min-idle', '0'];
      const killed = await runCli(flags, { env: { ...env, ...failpoint(step, 'kill') } });
      expect(killed.signal).toBe('SIGKILL');
      // After the crash: the old secret may be gone only if the run got as far as deleting it, as asked.
      await holds(c, target, step === 'delete-old' ? [] : [c.clientSecret]);

      const rerun = await runCli(flags, { env });
      remember(c);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toMatch(SAYS[step]);
      await holds(c, target, []);
      // Clean: the target's first secret is the only one left at Adobe (the old one was deleted, as asked).
      expect(secretsOf(c)).toEqual([held(target)[0]]);
      const again = await runCli(['secrets', 'rotate', ...args, '--dry-run'], { env });
      expect(again.code).toBe(0);
      expect(again.stderr).not.toMatch(/interrupted/);
    });
  }
});

describe('SIGKILL without --delete-old', { timeout: 120_000 }, () => {
  it('after persist: the rerun says the rotation is finished and keeps the old secret (exit 0)', async () => {
    const { c, target, args, env } = setup('env');
    const killed = await runCli(['secrets', 'rotate', ...args], { env: { ...env, ...failpoint('persist', 'kill') } });
    expect(killed.signal).toBe('SIGKILL');
    await holds(c, target, [c.clientSecret]);
    const rerun = await runCli(['secrets', 'rotate', ...args], { env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(SAYS.persist);
    expect(rerun.stderr).toMatch(/the old secret [0-9a-f-]+ still works/);
    await holds(c, target, [c.clientSecret]);
    expect(held(target)).toEqual([secretsOf(c)[1], c.clientSecret]);
  });
});

describe('two rotations of one target at once', { timeout: 120_000 }, () => {
  it('the second waits for the lock, then sees the first one’s result and changes nothing (the issue’s 2.5 s race)', async () => {
    const { c, target, args, env } = setup('env');
    let first!: Promise<CliResult>;
    let a!: ChildProcess;
    const aStopped = new Promise<void>((resolve) => {
      first = runCli(['secrets', 'rotate', ...args], {
        env: { ...env, ...failpoint('add', 'stop') },
        onSpawn: (child) => {
          a = child;
          child.stdin!.end();
          void stopped(child).then(resolve, () => undefined);
        },
      });
    });
    await aStopped;
    const second = runCli(['secrets', 'rotate', ...args], {
      env,
      onSpawn: (child) => {
        child.stdin!.end();
        void waitFor(child, /waiting for another rotation/, 'stderr').then(
          () => a.kill('SIGCONT'),
          () => a.kill('SIGCONT'),
        );
      },
    });
    const [ra, rb] = await Promise.all([first, second]);
    remember(c);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(6);
    expect(rb.stderr).toMatch(/IMS_SECRET_LIMIT: .*An earlier rotation added and stored/);
    expect(rb.stderr).toMatch(/Fix: Rerun with --delete-old/);
    await holds(c, target, [c.clientSecret]);
    expect(held(target)[0]).toBe(secretsOf(c)[1]);
  });
});

describe('a Developer-Console-style add during the rotation', () => {
  it('makes the add fail, and nothing is deleted: the other party keeps its secret', async () => {
    const { c, target, args, env } = setup('env');
    const run = runCli(['secrets', 'rotate', ...args], {
      env: { ...env, ...failpoint('check-limit', 'stop') },
      onSpawn: (child) => {
        child.stdin!.end();
        void (async () => {
          await stopped(child);
          const sc = createSecretsClient({
            clientId: c.clientId,
            clientSecret: c.clientSecret,
            orgId: c.orgId,
            credentialId: c.credentialId,
            imsUrl: fx.emu.url,
            managementUrl: fx.emu.url,
          });
          try {
            SECRETS.add((await sc.addClientSecret()).clientSecret);
          } finally {
            await sc.close();
          }
          child.kill('SIGCONT');
        })().catch(() => child.kill('SIGKILL'));
      },
    });
    const r = await run;
    remember(c);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/^✗ add\s+Could not add a client secret: a second secret appeared since the list/m);
    const [, stranger] = secretsOf(c);
    await holds(c, target, [c.clientSecret, stranger!]);
    expect(held(target)).toEqual([c.clientSecret]);
  });
});

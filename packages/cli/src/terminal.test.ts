import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli, waitFor } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs the CLI on a pseudo-terminal: `script -qefc '<node> <cli> …' /dev/null`. */
const onTerminal = (argv: string[]): [string, string[]] => [
  'script',
  ['-qefc', [process.execPath, ...argv].map((a) => `'${a}'`).join(' '), '/dev/null'],
];

describe.skipIf(!hasScript)('on a terminal (through script(1))', () => {
  it('asks for the client id, the secret (not echoed) and a scope preset', async () => {
    const c = credential(fx);
    const r = await runCli(['init'], {
      env: { HOME: c.dir, XDG_CACHE_HOME: c.env.XDG_CACHE_HOME!, IMS_URL: fx.emu.url, TERM: 'dumb', NO_COLOR: '1' },
      cwd: c.dir,
      wrap: onTerminal,
      onSpawn: (child) => {
        void (async () => {
          await waitFor(child, 'Client ID (API key): ');
          child.stdin!.write(`${c.clientId}\r`);
          await waitFor(child, 'Client secret (not shown): ');
          child.stdin!.write(`${c.clientSecret}\r`);
          await waitFor(child, 'Scopes [1]: ');
          child.stdin!.write('2\r');
          await waitFor(child, 'Next:');
          child.stdin!.end();
        })().catch(() => child.kill());
      },
    });
    expect(r.code).toBe(0);
    const env = parseEnv(readFileSync(join(c.dir, '.env'), 'utf8'));
    expect(env).toMatchObject({ IMS_CLIENT_ID: c.clientId, IMS_CLIENT_SECRET: c.clientSecret });
    expect(env.IMS_SCOPES).toContain('manage_client_secrets');
    expect(c.minted()).toBe(1);
  });

  it('shows a spinner during a long wait on a terminal, and nothing on stderr otherwise', async () => {
    const c = credential(fx);
    fx.emu.fault({ kind: 'latency', latencyMs: 1000, times: 1 });
    const tty = await runCli(['token', '--no-cache'], { env: { ...c.env, NO_COLOR: '1' }, wrap: onTerminal, printsToken: true });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Getting a token from IMS…/);
    fx.emu.fault({ kind: 'latency', latencyMs: 1000, times: 1 });
    const pipe = await runCli(['token', '--no-cache'], { env: c.env, printsToken: true });
    expect(pipe).toMatchObject({ code: 0, stderr: '' });
  });

  it('uses colour on a terminal unless NO_COLOR is set', async () => {
    const c = credential(fx);
    const colour = await runCli(['status'], { env: c.env, wrap: onTerminal });
    expect(colour.stdout).toContain('\u001b[');
    const plain = await runCli(['status'], { env: { ...c.env, NO_COLOR: '1' }, wrap: onTerminal });
    expect(plain.stdout).not.toContain('\u001b[');
    const piped = await runCli(['status'], { env: c.env });
    expect(piped.stdout).not.toContain('\u001b[');
  });
});

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { fakeToken, runCli, waitFor } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

const node = process.execPath;
const hasScript = spawnSync('script', ['--version']).status === 0;
const SECRET_VARS = ['IMS_CLIENT_SECRET', 'IMS_CLIENT_SECRET_NEXT', 'IMS_CLIENT_SECRET_FILE', 'IMS_TOKEN_CACHE_KEY'];

describe('ims-token exec keeps secrets and signals where they belong', () => {
  it('passes no secret variable to the command unless --pass-secrets', async () => {
    const c = credential(fx);
    const which = `console.log(JSON.stringify(${JSON.stringify(SECRET_VARS)}.filter((v) => process.env[v] !== undefined)))`;
    // IMS_CLIENT_SECRET_NEXT is a second secret: any value the emulator rejects is fine while the first works
    const env = { ...c.env, IMS_CLIENT_SECRET_NEXT: `${c.clientSecret}-next` };
    const plain = await runCli(['exec', '--', node, '-e', which], { env });
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toEqual([]);
    const asked = await runCli(['exec', '--pass-secrets', '--', node, '-e', which], { env });
    expect(asked.code).toBe(0);
    expect(JSON.parse(asked.stdout)).toEqual(['IMS_CLIENT_SECRET', 'IMS_CLIENT_SECRET_NEXT']);
  });

  it.skipIf(!hasScript)("a terminal's Ctrl-C reaches the command exactly once", async () => {
    const c = credential(fx);
    // The command reports its parent (ims-token) and each SIGINT; it exits 1.5 s after the first with the count.
    const child = `let n = 0; process.on('SIGINT', () => { n++; console.log('got SIGINT'); if (n === 1) setTimeout(() => { console.log('SIGINTs=' + n); process.exit(0); }, 1500); }); console.log('ready ' + process.ppid); setInterval(() => {}, 1000);`;
    const argv = ['exec', '--', node, '-e', child];
    let out = '';
    const r = await runCli(argv, {
      env: { ...c.env, TERM: 'dumb' },
      wrap: (a) => ['script', ['-qefc', [node, ...a].map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null']],
      onSpawn: (p) => {
        p.stdout!.on('data', (d: Buffer) => (out += String(d)));
        void waitFor(p, /ready \d+/).then(async () => {
          // Two signals that arrive together merge into one pending signal: hold ims-token still while the
          // terminal's Ctrl-C reaches the command, so that a forwarded copy would arrive on its own.
          const imsToken = Number(/ready (\d+)/.exec(out)![1]);
          process.kill(imsToken, 'SIGSTOP');
          p.stdin!.write('\u0003');
          await waitFor(p, 'got SIGINT');
          process.kill(imsToken, 'SIGCONT');
        });
      },
    });
    expect(r.stdout).toContain('SIGINTs=1');
  });
});

describe('ims-token inspect prints claims, never terminal controls', () => {
  it('escapes control characters of a client_id (ESC]52 would write to the clipboard), in text and JSON', async () => {
    const c = credential(fx);
    const evil = '\u001b]52;c;SGVsbG8=\u0007\u009b31m\u202e';
    const token = fakeToken({ client_id: `x${evil}`, scope: `openid,${evil}`, as: 'ims-na1', type: 'access_token' });
    for (const args of [
      ['inspect', '-'],
      ['inspect', '-', '--json'],
    ]) {
      const r = await runCli(args, { env: c.env, input: `${token}\n` });
      expect(r.code).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(r.stdout).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
      expect(r.stdout).toContain('\\x1b]52;c;SGVsbG8=');
    }
  });
});

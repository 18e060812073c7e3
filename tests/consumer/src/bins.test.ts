/**
 * The commands from a clone: `pnpm ims-token …` and `pnpm ims-emulator …` at the root, and bins that a fresh
 * `pnpm install` can link before anything is built (a bin pointing into dist/ made every fresh install
 * print "Failed to create bin … ENOENT"; .ci/run also fails on that line in its own install output).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanEnv, run, runOk, workspacePackages } from './workspace';

const tmp = mkdtempSync(join(tmpdir(), 'ims-token-bins-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bins', () => {
  it('every bin of every workspace package is a committed file, so pnpm can link it before a build', async () => {
    const tracked = new Set((await runOk('git', ['ls-files', 'packages'], { cwd: ROOT })).stdout.split('\n'));
    const bins = workspacePackages().flatMap(({ dir, pkg }) =>
      Object.values((pkg['bin'] ?? {}) as Record<string, string>).map((target) => `packages/${dir}/${target.replace(/^\.\//, '')}`),
    );
    expect(bins.length).toBeGreaterThanOrEqual(1);
    const untracked = bins.filter((b) => !tracked.has(b) && !b.includes('/dist/'));
    const intoDist = bins.filter((b) => b.includes('/dist/') && b.includes('/emulator/'));
    expect(untracked).toEqual([]);
    // The emulator is a dependency of most workspace packages: its bin is linked 16 times per install.
    expect(intoDist).toEqual([]);
  });

  it('the emulator launcher says how to build when dist/ is missing', async () => {
    mkdirSync(join(tmp, 'emulator', 'bin'), { recursive: true });
    copyFileSync(join(ROOT, 'packages', 'emulator', 'bin', 'ims-emulator.cjs'), join(tmp, 'emulator', 'bin', 'ims-emulator.cjs'));
    const r = await run(process.execPath, [join(tmp, 'emulator', 'bin', 'ims-emulator.cjs')], { cwd: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not built yet');
    expect(r.stderr).toContain('pnpm ims-emulator');
  });

  it('`pnpm -s ims-token --version` and `pnpm -s ims-emulator --help` run from the root', async () => {
    const env = cleanEnv();
    const cli = await run('pnpm', ['-s', 'ims-token', '--version'], { cwd: ROOT, env, timeoutMs: 200_000 });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const emu = await run('pnpm', ['-s', 'ims-emulator', '--help'], { cwd: ROOT, env, timeoutMs: 200_000 });
    expect(emu.code, emu.stderr).toBe(0);
    expect(emu.stdout).toContain('Usage: ims-emulator');
  }, 400_000);
});

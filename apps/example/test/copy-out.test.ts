import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_DIR, REPO_ROOT } from './helpers';

const exec = promisify(execFile);

/** Our packages the app depends on, and where they live in the monorepo. */
const PACKAGES: Record<string, string> = {
  '@ims-token/core': 'packages/core',
  '@ims-token/fetch': 'packages/fetch',
  '@ims-token/express': 'packages/express',
  '@ims-token/emulator': 'packages/emulator',
  '@ims-token/otel': 'packages/otel',
};

/** Registry settings survive; what pnpm put in the environment for its own run does not. */
function toolEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl|cafile|@.+:registry)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if ((/^(npm_|pnpm_)/i.test(k) && !keep.test(k)) || k.startsWith('VITEST') || k === 'NODE_ENV' || k === 'INIT_CWD') continue;
    if (k.startsWith('IMS_') || k.startsWith('ADOBE_') || k === 'PORT' || k === 'ENV_FILE' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  return { ...env, CI: 'true', NO_COLOR: '1', npm_config_update_notifier: 'false' };
}

async function sh(cmd: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env: toolEnv(), timeout, maxBuffer: 32 * 1024 * 1024 });
    return `${stdout}\n${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(0, 20_000));
  }
}

let work: string | undefined;
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// The README's "copy it out" steps, done for real: outside the workspace, with the packed tarballs of
// our packages instead of workspace links, installed by npm, built, and the app's own tests run there.
// Only inside the monorepo (the copy runs its tests without this file doing anything).
describe.skipIf(REPO_ROOT === undefined)('copy the app out of the monorepo', () => {
  it('installs with npm from packed tarballs, builds, type-checks and passes its own tests', async () => {
    for (const dir of Object.values(PACKAGES)) {
      expect(existsSync(join(REPO_ROOT!, dir, 'dist')), `${dir}/dist is missing: build the packages first (pnpm build)`).toBe(true);
    }
    work = mkdtempSync(join(tmpdir(), 'ims-example-copy-'));
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);

    // 1. Pack our packages (pnpm pack turns their own workspace: ranges into versions).
    const tgz: Record<string, string> = {};
    for (const [name, dir] of Object.entries(PACKAGES)) {
      const before = new Set(readdirSync(tarballs));
      await sh('pnpm', ['pack', '--pack-destination', tarballs], join(REPO_ROOT!, dir), 60_000);
      const made = readdirSync(tarballs).filter((f) => !before.has(f) && f.endsWith('.tgz'));
      expect(made, name).toHaveLength(1);
      tgz[name] = join(tarballs, made[0]!);
    }

    // 2. Copy the app without what is generated or private.
    const app = join(work, 'my-service');
    const skip = new Set(['node_modules', 'dist', '.turbo', '.env', 'coverage']);
    cpSync(APP_DIR, app, { recursive: true, filter: (src) => !skip.has(basename(src)) });

    // 3. package.json: workspace: ranges → the tarballs (a real copy uses published versions), a start
    //    script without turbo, and overrides so that fetch/express get the same core tarball.
    const pkgPath = join(app, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
      devDependencies?: Record<string, string>;
      overrides?: Record<string, string>;
    };
    for (const deps of [pkg.dependencies, pkg.devDependencies ?? {}]) {
      for (const [name, range] of Object.entries(deps)) {
        if (!range.startsWith('workspace:')) continue;
        expect(tgz[name], `${name} has no tarball`).toBeDefined();
        deps[name] = `file:${tgz[name]}`;
      }
    }
    pkg.overrides = Object.fromEntries(Object.keys(tgz).map((name) => [name, `$${name}`]));
    pkg.scripts['start'] = 'npm run build && node dist/main.js';
    writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
    expect(readFileSync(pkgPath, 'utf8')).not.toContain('workspace:');
    expect(readFileSync(join(app, 'tsconfig.json'), 'utf8')).not.toContain('tsconfig.base');

    // 4. npm install, build, type-check, test — with nothing of the monorepo in reach.
    await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 150_000);
    for (const name of Object.keys(PACKAGES)) {
      const installed = join(app, 'node_modules', name);
      expect(lstatSync(installed).isSymbolicLink(), `${name} must be a real install, not a link`).toBe(false);
    }
    await sh('npm', ['run', 'build'], app, 60_000);
    await sh('npm', ['run', 'typecheck'], app, 60_000);
    // eslint-disable-next-line no-control-regex
    const out = (await sh('npm', ['test'], app, 90_000)).replace(/\x1b\[[0-9;]*m/g, '');
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).not.toMatch(/\d+ failed/);
  }, 180_000);
});

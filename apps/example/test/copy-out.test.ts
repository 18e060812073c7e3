import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_DIR, REPO_ROOT, run } from './helpers';
import type { Child } from './helpers';

const exec = promisify(execFile);

/** Registry settings survive; what pnpm and vitest put in the environment for their own run does not. */
function toolEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl|cafile|@.+:registry)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      (/^(npm_|pnpm_)/i.test(k) && !keep.test(k)) ||
      k.startsWith('VITEST') ||
      k === 'NODE_ENV' ||
      k === 'INIT_CWD' ||
      k === 'NODE_OPTIONS'
    )
      continue;
    if (k.startsWith('IMS_') || k.startsWith('ADOBE_') || k === 'PORT' || k === 'ENV_FILE' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  return { ...env, CI: 'true', NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

/**
 * The README's copy-out procedure: the ```sh block after `<!-- copy-out -->` in README.md, every line
 * up to the one that starts the server (`npm run dev`, which the test runs itself so it can stop it).
 */
function copyOutSteps(readme: string): { steps: string[]; serve: string } {
  const block = /<!-- copy-out -->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no ```sh block after <!-- copy-out -->');
  const lines = block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const i = lines.findIndex((l) => /^npm (run dev|start)\b/.test(l));
  if (i === -1) throw new Error('the copy-out block does not end by starting the app (npm run dev)');
  return { steps: lines.slice(0, i), serve: lines[i]! };
}

let work: string | undefined;
const started: Child[] = [];
afterAll(() => {
  for (const c of started) if (c.proc.exitCode === null && c.proc.signalCode === null) process.kill(-c.proc.pid!, 'SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

// Done for real, as the README says, from the repository root: pack our packages, copy the folder out,
// point it at the tarballs, npm install, npm test; then `npm run dev`, curl it, and stop it with SIGTERM.
// Only inside the monorepo (in a copy this file has nothing to copy).
describe.skipIf(REPO_ROOT === undefined)('copy the app out of the monorepo (README "Copy it out")', () => {
  it('works from the packed tarballs: npm install, npm test, npm run dev answers and stops cleanly', async () => {
    const { steps, serve } = copyOutSteps(readFileSync(join(APP_DIR, 'README.md'), 'utf8'));
    work = mkdtempSync(join(tmpdir(), 'ims-example-copy-'));
    const app = join(work, 'my-service');
    // The README copies to ../my-service; here it goes to a temporary folder instead.
    const script = ['set -euo pipefail', ...steps.map((s) => s.replaceAll('../my-service', app))].join('\n');
    try {
      await exec('bash', ['-c', script], { cwd: REPO_ROOT!, env: toolEnv(), timeout: 400_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`the copy-out steps failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(-20_000));
    }

    const pkg = readFileSync(join(app, 'package.json'), 'utf8');
    expect(pkg).not.toContain('workspace:');
    for (const name of ['core', 'fetch', 'express', 'emulator']) {
      expect(lstatSync(join(app, 'node_modules', '@ims-token', name)).isSymbolicLink(), `${name} must be installed, not linked`).toBe(
        false,
      );
    }
    for (const f of ['.gitignore', '.dockerignore', 'Dockerfile', '.env.example', 'README.md'])
      expect(existsSync(join(app, f)), f).toBe(true);

    // `npm run dev` in its own process group, as a terminal starts it; then SIGTERM to npm.
    const [cmd, ...args] = serve.split(/\s+/);
    const child = run(cmd!, args, { cwd: app, env: { ...toolEnv(), PORT: '0' }, detached: true });
    started.push(child);
    const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/, 60_000);
    expect(child.output()).toContain('local Adobe IMS emulator');
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const job = await fetch(`${url}/jobs/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":"a lighthouse at dusk"}',
    });
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ status: 'succeeded' });
    process.kill(child.proc.pid!, 'SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  }, 480_000);
});

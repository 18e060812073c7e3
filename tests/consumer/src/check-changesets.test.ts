/** scripts/check-changesets.mjs against small git repositories made for each case. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanEnv, run, runOk } from './workspace';
import type { RunResult } from './workspace';

const SCRIPT = join(ROOT, 'scripts', 'check-changesets.mjs');
const BASE = mkdtempSync(join(tmpdir(), 'ims-token-changesets-'));
afterAll(() => rmSync(BASE, { recursive: true, force: true }));

const gitEnv = cleanEnv({
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
});

let n = 0;

class Repo {
  readonly dir = join(BASE, `repo-${++n}`);

  write(path: string, content: string | object): this {
    const file = join(this.dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
    return this;
  }

  async git(...args: string[]): Promise<RunResult> {
    return runOk('git', args, { cwd: this.dir, env: gitEnv });
  }

  async commit(message: string): Promise<this> {
    await this.git('add', '-A');
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return this;
  }

  check(env: NodeJS.ProcessEnv = gitEnv, cwd = this.dir): Promise<RunResult> {
    return run(process.execPath, [SCRIPT, '--verbose'], { cwd, env });
  }
}

const manifest = (name: string, extra: object = {}): object => ({ name, version: '1.0.0', ...extra });

/** A monorepo like ours: two published packages, a private one, and a root commit with all of them. */
async function repo(): Promise<Repo> {
  const r = new Repo();
  mkdirSync(r.dir, { recursive: true });
  await r.git('init', '-q', '-b', 'main');
  r.write('package.json', { name: 'root', private: true })
    .write('.changeset/config.json', { fixed: [], linked: [] })
    .write('.changeset/README.md', '# Changesets\n')
    .write('packages/a/package.json', manifest('@x/a', { dependencies: { undici: '^7.0.0' } }))
    .write('packages/a/src/index.ts', 'export const a = 1;\n')
    .write('packages/b/package.json', manifest('@x/b'))
    .write('packages/b/src/index.ts', 'export const b = 1;\n')
    .write('packages/p/package.json', manifest('@x/private', { private: true }))
    .write('packages/p/src/index.ts', 'export const p = 1;\n');
  return r.commit('Scaffold');
}

function expectFailNaming(r: RunResult, names: string[], notNames: string[] = []): void {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  for (const name of names) expect(r.stderr).toContain(`  ${name}: `);
  for (const name of notNames) expect(r.stderr).not.toContain(`  ${name}: `);
  expect(r.stderr).toContain('pnpm changeset');
}

function expectOk(r: RunResult): void {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain('check-changesets: ok');
}

describe('check-changesets', () => {
  it('passes when nothing changed since the root commit', async () => {
    const r = await repo();
    expectOk(await r.check());
  });

  it('fails naming the package whose source changed, and tells to run pnpm changeset', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    const out = await r.check();
    expectFailNaming(out, ['@x/a'], ['@x/b', '@x/private']);
    expect(out.stderr).toContain('src/index.ts');
    expect(out.stdout).toContain('no release yet: since the root commit');
  });

  it('passes once a pending changeset names the package (any quoting, any bump type including none)', async () => {
    for (const line of ["'@x/a': patch", '"@x/a": minor', '@x/a: none']) {
      const r = await repo();
      await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
      r.write('.changeset/happy-cat.md', `---\n${line}\n---\n\nA change.\n`);
      expectOk(await r.check());
    }
  });

  it('a changeset for another package does not count', async () => {
    const r = await repo();
    await r
      .write('packages/a/src/index.ts', 'export const a = 2;\n')
      .write('.changeset/x.md', "---\n'@x/b': patch\n---\n\nb.\n")
      .commit('a: change');
    expectFailNaming(await r.check(), ['@x/a']);
  });

  it('README, other Markdown, tests, test helpers and the vitest config need no changeset', async () => {
    const r = await repo();
    r.write('packages/a/README.md', '# a\n')
      .write('packages/a/docs/usage.md', 'how\n')
      .write('packages/a/src/index.test.ts', 'test\n')
      .write('packages/a/src/test/helpers.ts', 'helper\n')
      .write('packages/a/test/integration.ts', 'it\n')
      .write('packages/a/vitest.config.ts', 'config\n');
    await r.commit('a: docs and tests');
    expectOk(await r.check());
  });

  it('package.json: devDependencies and scripts need no changeset; dependencies and exports do', async () => {
    const r = await repo();
    await r
      .write(
        'packages/a/package.json',
        manifest('@x/a', { dependencies: { undici: '^7.0.0' }, devDependencies: { vitest: '^4' }, scripts: { test: 'vitest' } }),
      )
      .commit('a: dev');
    expectOk(await r.check());
    await r.write('packages/a/package.json', manifest('@x/a', { dependencies: { undici: '^7.1.0' } })).commit('a: deps');
    expectFailNaming(await r.check(), ['@x/a']);
  });

  it('private packages are never named', async () => {
    const r = await repo();
    await r.write('packages/p/src/index.ts', 'export const p = 2;\n').commit('p: change');
    expectOk(await r.check());
  });

  it('counts from the last "Version Packages" commit', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    await r.write('packages/a/CHANGELOG.md', '# @x/a\n').commit('Version Packages');
    expectOk(await r.check());
    await r.write('packages/b/src/index.ts', 'export const b = 2;\n').commit('b: change');
    const out = await r.check();
    expectFailNaming(out, ['@x/b'], ['@x/a']);
    expect(out.stdout).toContain('"Version Packages"');
  });

  it('counts from the last commit that changed a package version, whatever its message', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    await r
      .write('packages/a/package.json', { ...manifest('@x/a', { dependencies: { undici: '^7.0.0' } }), version: '1.1.0' })
      .commit('release a 1.1.0');
    expectOk(await r.check());
  });

  it('adding a new package is not a release', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    await r.write('packages/c/package.json', manifest('@x/c')).write('packages/c/src/index.ts', 'c\n').commit('c: new package');
    expectFailNaming(await r.check(), ['@x/a', '@x/c']);
  });

  it('counts uncommitted and untracked changes too', async () => {
    const r = await repo();
    r.write('packages/a/src/index.ts', 'export const a = 2;\n');
    expectFailNaming(await r.check(), ['@x/a'], ['@x/b']);
    await r.git('checkout', '--', 'packages/a/src/index.ts');
    r.write('packages/b/src/new-file.ts', 'export {};\n');
    expectFailNaming(await r.check(), ['@x/b'], ['@x/a']);
  });

  it('works from a subdirectory', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    expectFailNaming(await r.check(gitEnv, join(r.dir, 'packages', 'b')), ['@x/a']);
  });

  it('a shallow clone: warns and exits 0', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    const clone = join(BASE, `shallow-${++n}`);
    await runOk('git', ['clone', '-q', '--depth', '1', `file://${r.dir}`, clone], { cwd: BASE, env: gitEnv });
    const out = await run(process.execPath, [SCRIPT], { cwd: clone, env: gitEnv });
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/warning: .*shallow clone/);
  });

  it('a full clone gives the same answer as the original', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    const clone = join(BASE, `full-${++n}`);
    await runOk('git', ['clone', '-q', `file://${r.dir}`, clone], { cwd: BASE, env: gitEnv });
    expectFailNaming(await run(process.execPath, [SCRIPT], { cwd: clone, env: gitEnv }), ['@x/a']);
  });

  it('git not installed, or not a repository: warns and exits 0', async () => {
    const r = await repo();
    await r.write('packages/a/src/index.ts', 'export const a = 2;\n').commit('a: change');
    const noGit = await r.check({ ...gitEnv, PATH: join(BASE, 'empty-path') });
    expect(noGit.code).toBe(0);
    expect(noGit.stderr).toContain('warning: git is not installed');
    const plain = join(BASE, `plain-${++n}`);
    mkdirSync(plain);
    const notRepo = await run(process.execPath, [SCRIPT], { cwd: plain, env: { ...gitEnv, GIT_CEILING_DIRECTORIES: BASE } });
    expect(notRepo.code).toBe(0);
    expect(notRepo.stderr).toContain('warning: not inside a git repository');
  });
});

/**
 * What a registry page and a release need, read from the sources: each published package's package.json,
 * its LICENSE, the workspace ranges between our packages, the changesets config and the pending changesets.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_DIRS, ROOT, readJson, workspacePackages } from './workspace';
import type { PackageJson } from './workspace';

const all = workspacePackages();
const published = all.filter((p) => p.pkg.private !== true);
const publishedNames = new Set(published.map((p) => p.pkg.name));

type Deps = Record<string, string>;
const deps = (pkg: PackageJson, field: string): Deps => (pkg[field] as Deps | undefined) ?? {};

/** Every problem of one manifest, as readable strings (an empty list is a pass). */
function problems(dir: string, path: string, pkg: PackageJson): string[] {
  const out: string[] = [];
  const need = (ok: unknown, what: string): void => {
    if (!ok) out.push(what);
  };
  need(pkg.name === `@ims-token/${dir}`, `name is @ims-token/${dir}`);
  need(/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(pkg.version), 'version is semver');
  need(typeof pkg['description'] === 'string' && (pkg['description'] as string).length >= 20, 'description (a sentence)');
  need(Array.isArray(pkg['keywords']) && (pkg['keywords'] as unknown[]).length >= 3, 'keywords (3 or more)');
  const repo = pkg['repository'] as { type?: string; url?: string; directory?: string } | undefined;
  need(
    repo?.type === 'git' && /^git\+https:\/\/github\.com\/.+\.git$/.test(repo.url ?? ''),
    'repository.type git and repository.url git+https://github.com/….git',
  );
  need(repo?.directory === `packages/${dir}`, `repository.directory = packages/${dir}`);
  need(pkg['license'] === 'MIT', 'license MIT');
  const license = join(path, 'LICENSE');
  need(existsSync(license) && /MIT License/.test(readFileSync(license, 'utf8')), 'a LICENSE file with the MIT text');
  need(existsSync(join(path, 'README.md')), 'a README.md');
  need(typeof (pkg['engines'] as Deps | undefined)?.['node'] === 'string', 'engines.node');
  const publishConfig = pkg['publishConfig'] as { access?: string; provenance?: boolean } | undefined;
  need(publishConfig?.access === 'public', 'publishConfig.access public');
  need(publishConfig?.provenance === true, 'publishConfig.provenance true');
  need(pkg['type'] === 'module', 'type module');
  need(pkg['sideEffects'] === false, 'sideEffects false');
  const files = (pkg['files'] as string[] | undefined) ?? [];
  for (const f of ['dist', 'README.md', 'CHANGELOG.md', 'LICENSE']) need(files.includes(f), `files includes ${f}`);
  const exp = pkg['exports'] as Record<string, unknown> | undefined;
  need(exp?.['./package.json'] === './package.json', 'exports "./package.json"');
  const dot = exp?.['.'] as Record<string, Record<string, string>> | undefined;
  for (const cond of ['import', 'require']) {
    const c = dot?.[cond];
    need(c && Object.keys(c)[0] === 'types' && Object.keys(c).at(-1) === 'default', `exports["."].${cond}: types first, default last`);
  }
  need(typeof pkg['main'] === 'string' && typeof pkg['types'] === 'string', 'main and types (for old resolvers)');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, range] of Object.entries(deps(pkg, field))) {
      if (name.startsWith('@ims-token/')) need(range === 'workspace:^', `${field}.${name} is workspace:^ (got ${range})`);
      else need(!range.startsWith('workspace:'), `${field}.${name} is a registry range`);
      need(!publishedNames.has(name) || field === 'dependencies', `${name} is a dependency, not a ${field} entry (see CONTRIBUTING.md)`);
    }
  }
  for (const [name, range] of Object.entries(deps(pkg, 'devDependencies'))) {
    if (name.startsWith('@ims-token/')) need(range.startsWith('workspace:'), `devDependencies.${name} uses workspace:`);
  }
  need(!('zod' in deps(pkg, 'dependencies')), 'no package depends on zod at run time');
  return out;
}

describe('package metadata', () => {
  it('publishes exactly the packages in PUBLISHED_DIRS (a new one must be added to the consumer tests)', () => {
    expect(published.map((p) => p.dir).sort()).toEqual([...PUBLISHED_DIRS].sort());
  });

  it.each(published.map((p) => [p.pkg.name, p] as const))('%s has everything a registry page and a release need', (_name, p) => {
    expect(problems(p.dir, p.path, p.pkg)).toEqual([]);
  });

  it('everything else in the workspace is private (apps, bench, tests)', () => {
    const others = ['apps', 'tests']
      .filter((d) => existsSync(join(ROOT, d)))
      .flatMap((d) => readdirSync(join(ROOT, d)).map((x) => join(ROOT, d, x, 'package.json')))
      .concat(join(ROOT, 'bench', 'package.json'), join(ROOT, 'package.json'))
      .filter((f) => existsSync(f));
    expect(others.length).toBeGreaterThan(2);
    for (const f of others) expect(readJson(f).private, f).toBe(true);
  });
});

describe('releases', () => {
  const config = readJson<Record<string, unknown>>(join(ROOT, '.changeset', 'config.json'));

  it('changesets: independent versions, public access, private packages ignored, internal ranges bumped', () => {
    expect(config).toMatchObject({ fixed: [], linked: [], access: 'public', baseBranch: 'main', updateInternalDependencies: 'patch' });
    // `ignore` is exactly the private workspace packages: changesets neither versions nor asks about them.
    expect([...((config['ignore'] as string[] | undefined) ?? [])].sort()).toEqual(workspacePrivateNames().sort());
  });

  it('the root has the changeset, version-packages and release scripts', () => {
    const scripts = readJson(join(ROOT, 'package.json'))['scripts'] as Record<string, string>;
    expect(scripts).toMatchObject({ changeset: 'changeset', 'version-packages': 'changeset version' });
    expect(scripts['release']).toMatch(/build.*changeset publish/);
  });

  it('every pending changeset names only published packages, with a valid bump', () => {
    const dir = join(ROOT, '.changeset');
    const pending = readdirSync(dir).filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md');
    for (const f of pending) {
      const text = readFileSync(join(dir, f), 'utf8').replace(/\r\n/g, '\n');
      const front = /^---\n([\s\S]*?)\n---\n+\S/.exec(text);
      expect(front, `${f}: front matter and a summary`).not.toBeNull();
      for (const line of front![1]!.split('\n').filter((l) => l.trim() !== '')) {
        const m = /^\s*(['"]?)(@[^'":\s]+)\1\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
        expect(m, `${f}: "${line}"`).not.toBeNull();
        expect([...publishedNames], `${f} names ${m![2]}`).toContain(m![2]);
      }
    }
  });
});

function workspacePrivateNames(): string[] {
  const names: string[] = [];
  for (const base of ['apps', 'tests']) {
    if (!existsSync(join(ROOT, base))) continue;
    for (const d of readdirSync(join(ROOT, base))) {
      const f = join(ROOT, base, d, 'package.json');
      if (existsSync(f)) names.push(readJson(f).name);
    }
  }
  if (existsSync(join(ROOT, 'bench', 'package.json'))) names.push(readJson(join(ROOT, 'bench', 'package.json')).name);
  return names;
}

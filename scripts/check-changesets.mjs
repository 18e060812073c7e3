#!/usr/bin/env node
// Fails when a published package changed since the last release without a pending changeset naming it.
//
//   node scripts/check-changesets.mjs [--verbose]      (run from anywhere inside the repository)
//
// "Since the last release": the newest commit on HEAD whose subject starts with "Version Packages" (the
// commit `changeset version` / the changesets action makes) or that changed the `version` field of a
// packages/*/package.json; with none, since the root commit. Changes not yet committed count too, so the
// check gives the same answer before and after `git commit`.
//
// What needs a changeset: any file of a published (not `private`) package under packages/<dir>/ that
// ships or shapes what ships (src, package.json, build config, LICENSE) — but not README/CHANGELOG or
// other Markdown, tests (`*.test.*`, `*.spec.*`, `src/test/**`, `test/**`, `__tests__/**`), test
// configs, and package.json edits confined to `devDependencies` or `scripts`. A changeset "names" a
// package when its front matter lists it with any bump type, `none` included.
//
// Exit codes: 0 all covered (or the check cannot run: no git, not a repository, a shallow clone; a
// warning says so), 1 a changed package lacks a changeset.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const verbose = process.argv.includes('--verbose');
const log = (msg) => console.log(`check-changesets: ${msg}`);
const skip = (why) => {
  console.warn(`check-changesets: warning: ${why}; skipping the changeset check.`);
  process.exit(0);
};

function git(args, cwd) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) return { ok: false, missing: r.error.code === 'ENOENT', out: '', err: String(r.error.message) };
  return { ok: r.status === 0, out: r.stdout, err: r.stderr };
}

const top = git(['rev-parse', '--show-toplevel'], process.cwd());
if (top.missing) skip('git is not installed');
if (!top.ok) skip('not inside a git repository');
const root = top.out.trim();
if (git(['rev-parse', '--is-shallow-repository'], root).out.trim() === 'true') {
  skip('this is a shallow clone, so the last release commit may be missing (fetch with --unshallow or fetch-depth: 0)');
}
if (!git(['rev-parse', '--verify', '--quiet', 'HEAD'], root).ok) skip('the repository has no commits yet');

/** packages/<dir> → { name, private } for every package in the working tree. */
const packages = new Map();
const packagesDir = join(root, 'packages');
if (existsSync(packagesDir)) {
  for (const dir of readdirSync(packagesDir)) {
    const file = join(packagesDir, dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      packages.set(dir, { name: pkg.name, private: pkg.private === true });
    } catch {
      packages.set(dir, { name: `packages/${dir} (unreadable package.json)`, private: false });
    }
  }
}

/** The newest release commit on HEAD, or the root commit. */
function findBase() {
  const lines = git(['log', '--format=%H%x09%s', 'HEAD'], root).out.trim().split('\n').filter(Boolean);
  // Commits whose diff touches a "version" line of a package manifest; confirmed below by parsing.
  const touched = new Set(
    git(['log', '--format=%H', '-G', '"version"[[:space:]]*:', 'HEAD', '--', 'packages/*/package.json'], root)
      .out.trim()
      .split('\n')
      .filter(Boolean),
  );
  for (const line of lines) {
    const [sha, subject = ''] = line.split('\t');
    if (subject.startsWith('Version Packages')) return { sha, why: `"${subject}"` };
    if (touched.has(sha) && changesAVersion(sha)) return { sha, why: `${sha.slice(0, 7)} changed a package version` };
  }
  const roots = git(['rev-list', '--max-parents=0', 'HEAD'], root).out.trim().split('\n').filter(Boolean);
  return { sha: roots[roots.length - 1], why: 'no release yet: since the root commit' };
}

function versionAt(rev, path) {
  const r = git(['show', `${rev}:${path}`], root);
  if (!r.ok) return undefined;
  try {
    return JSON.parse(r.out).version;
  } catch {
    return undefined;
  }
}

/** True when the commit changed the version of a manifest that existed before it (a new package is not a release). */
function changesAVersion(sha) {
  const parent = git(['rev-parse', '--verify', '--quiet', `${sha}^`], root);
  if (!parent.ok) return false;
  const files = git(['diff', '--name-only', `${sha}^`, sha, '--', 'packages/*/package.json'], root)
    .out.trim()
    .split('\n')
    .filter(Boolean);
  return files.some((f) => {
    const before = versionAt(`${sha}^`, f);
    const after = versionAt(sha, f);
    return before !== undefined && after !== undefined && before !== after;
  });
}

const IGNORED = [
  /\.md$/i, // README, CHANGELOG (written by `changeset version` itself) and other docs
  /(^|\/)[^/]+\.(test|spec)\.[cm]?[jt]sx?$/,
  /^src\/test\//,
  /^test\//,
  /(^|\/)__tests__\//,
  /^(vitest|vite)\.config\.[cm]?[jt]s$/,
  /^bench\//,
  /^\.gitignore$/,
];

function manifestMatters(rel, base) {
  const strip = (text) => {
    try {
      const pkg = JSON.parse(text);
      delete pkg.devDependencies;
      delete pkg.scripts;
      return JSON.stringify(pkg);
    } catch {
      return text;
    }
  };
  const before = git(['show', `${base}:${rel}`], root);
  const now = existsSync(join(root, rel)) ? readFileSync(join(root, rel), 'utf8') : '';
  return !before.ok || strip(before.out) !== strip(now);
}

const base = findBase();
const changed = new Set([
  ...git(['diff', '--name-only', '--no-renames', base.sha, '--', 'packages'], root).out.split('\n'),
  ...git(['ls-files', '--others', '--exclude-standard', '--', 'packages'], root).out.split('\n'),
]);

/** package name → changed files that need a changeset */
const needing = new Map();
for (const file of changed) {
  const m = /^packages\/([^/]+)\/(.+)$/.exec(file);
  if (!m) continue;
  const [, dir, rel] = m;
  const pkg = packages.get(dir);
  if (!pkg || pkg.private) continue;
  if (IGNORED.some((re) => re.test(rel))) continue;
  if (rel === 'package.json' && !manifestMatters(file, base.sha)) continue;
  if (!needing.has(pkg.name)) needing.set(pkg.name, []);
  needing.get(pkg.name).push(rel);
}

/** Package names listed in the front matter of pending .changeset/*.md files. */
function pendingChangesets() {
  const dir = join(root, '.changeset');
  const named = new Set();
  if (!existsSync(dir)) return named;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.md') || f.toLowerCase() === 'readme.md') continue;
    const text = readFileSync(join(dir, f), 'utf8').replace(/\r\n/g, '\n');
    const front = /^---\n([\s\S]*?)\n?---/.exec(text);
    if (!front) continue;
    for (const line of front[1].split('\n')) {
      const entry = /^\s*(['"]?)(@?[^'":\s]+)\1\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
      if (entry) named.add(entry[2]);
    }
  }
  return named;
}

const named = pendingChangesets();
const missing = [...needing.keys()].filter((name) => !named.has(name)).sort();
if (verbose) {
  log(`base: ${base.sha.slice(0, 7)} (${base.why})`);
  for (const [name, files] of needing) log(`${name}: ${files.length} changed file(s)${named.has(name) ? ', has a changeset' : ''}`);
}
if (missing.length === 0) {
  log(`ok: ${needing.size} changed published package(s), all named in a changeset (since ${base.why}).`);
  process.exit(0);
}
console.error(`check-changesets: ${missing.length} published package(s) changed without a changeset (since ${base.why}):`);
for (const name of missing) {
  const files = needing.get(name);
  console.error(`  ${name}: ${files.slice(0, 5).join(', ')}${files.length > 5 ? `, … (${files.length} files)` : ''}`);
}
console.error('Fix: run `pnpm changeset`, pick the package(s) above and a bump, describe the change, and commit the .changeset/*.md file.');
console.error('A change that needs no release still needs an acknowledgement: give the package the bump type `none`.');
process.exit(1);

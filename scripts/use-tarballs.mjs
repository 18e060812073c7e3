#!/usr/bin/env node
// Until @ims-token/* is on the registry: points a project at the tarballs `pnpm pack:all` made.
//
//   node scripts/use-tarballs.mjs <project-dir> [@ims-token/core @ims-token/fetch …]
//
// 1. copies ./packed/*.tgz into <project-dir>/vendor/ims-token/ (so the project, and a Docker build of
//    it, holds what it installs);
// 2. in <project-dir>/package.json, sets every @ims-token/* dependency it already has (a copied starter's
//    `workspace:^`, a registry range) and every package named on the command line to
//    `file:vendor/ims-token/<tarball>`;
// 3. adds `overrides` for all of them, so that e.g. @ims-token/express's own dependency on
//    @ims-token/core resolves to the tarball too instead of the registry (where it is not yet).
// Then run `npm install` there. After the first release, use version ranges instead (README).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './build-if-needed.mjs';

const [projectArg, ...wanted] = process.argv.slice(2);
if (!projectArg) {
  process.stderr.write('usage: node scripts/use-tarballs.mjs <project-dir> [@ims-token/<package> …]   (after `pnpm pack:all`)\n');
  process.exit(2);
}
const project = resolve(projectArg);
const manifestPath = join(project, 'package.json');
if (!existsSync(manifestPath)) {
  process.stderr.write(`use-tarballs: ${manifestPath} does not exist (run \`npm init -y\` there first)\n`);
  process.exit(2);
}
const packed = join(ROOT, 'packed');
const tarballs = existsSync(packed) ? readdirSync(packed).filter((f) => f.endsWith('.tgz')) : [];
if (tarballs.length === 0) {
  process.stderr.write('use-tarballs: ./packed holds no tarballs: run `pnpm pack:all` first\n');
  process.exit(1);
}

// ims-token-core-0.0.0.tgz → @ims-token/core
const byName = new Map(tarballs.map((f) => [`@ims-token/${/^ims-token-(.+)-\d+\.\d+\.\d+.*\.tgz$/.exec(f)?.[1]}`, f]));
const vendor = join(project, 'vendor', 'ims-token');
mkdirSync(vendor, { recursive: true });
for (const f of tarballs) copyFileSync(join(packed, f), join(vendor, f));
const spec = (name) => `file:vendor/ims-token/${byName.get(name)}`;

const pkg = JSON.parse(readFileSync(manifestPath, 'utf8'));
for (const name of wanted) {
  if (!byName.has(name)) {
    process.stderr.write(`use-tarballs: no tarball for ${name}; packed: ${[...byName.keys()].join(', ')}\n`);
    process.exit(2);
  }
  const inSome = ['dependencies', 'devDependencies'].some((field) => pkg[field]?.[name] !== undefined);
  if (!inSome) pkg.dependencies = { ...pkg.dependencies, [name]: spec(name) };
}
const changed = [];
for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
  for (const name of Object.keys(pkg[field] ?? {})) {
    if (!byName.has(name)) continue;
    pkg[field][name] = spec(name);
    changed.push(name);
  }
}
pkg.overrides = { ...pkg.overrides, ...Object.fromEntries([...byName.keys()].map((name) => [name, spec(name)])) };
writeFileSync(manifestPath, `${JSON.stringify(pkg, null, 2)}\n`);
process.stdout.write(
  `use-tarballs: ${project}/package.json now installs ${[...new Set(changed)].join(', ')} from vendor/ims-token/; run \`npm install\` there.\n`,
);

#!/usr/bin/env node
// `pnpm pack:all [--out <dir>]`: builds every published package and packs each into one folder
// (default ./packed), the tarballs a project installs from until the packages are on the registry:
//
//   npm install ./packed/ims-token-core-0.0.0.tgz ./packed/ims-token-fetch-0.0.0.tgz
//
// pnpm pack turns `workspace:` ranges into the packages' versions, as publishing does. The file names
// carry no path, so a project can also point `overrides` at them (see README "Install from tarballs").
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build, ROOT } from './build-if-needed.mjs';

const i = process.argv.indexOf('--out');
const out = resolve(i === -1 ? join(ROOT, 'packed') : process.argv[i + 1]);

const published = readdirSync(join(ROOT, 'packages'))
  .map((d) => join(ROOT, 'packages', d))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true);

build(
  published.map(({ pkg }) => pkg.name),
  'pack:all: building every published package (turbo; cached when nothing changed)…',
);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const { dir } of published) {
  const r = spawnSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write(`pack:all: pnpm pack failed in ${relative(ROOT, dir)}\n`);
    process.exit(r.status ?? 1);
  }
}
const files = readdirSync(out)
  .filter((f) => f.endsWith('.tgz'))
  .sort();
if (files.length !== published.length) {
  process.stderr.write(`pack:all: expected ${published.length} tarballs in ${out}, found ${files.length}\n`);
  process.exit(1);
}
const rel = relative(process.cwd(), out);
const shown = rel === '' ? '.' : rel.startsWith('..') || rel.startsWith('/') ? rel : `./${rel}`;
process.stdout.write(`Packed ${files.length} packages into ${shown}/:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
process.stdout.write(`Install one in a project with: npm install ${join(shown, files.find((f) => f.includes('core')) ?? files[0])}\n`);

#!/usr/bin/env node
// Builds a workspace package and the packages it depends on, with turbo, saying so first.
//
//   node scripts/build-if-needed.mjs <package> [--always]
//
// Without --always it builds only when the package's dist/ is missing or older than a source file of the
// package or of a workspace package it depends on (a few stat calls), so a command that runs it on every
// start stays fast. Used by the root scripts `start`, `ims-token`, `ims-emulator` and `pack:all`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** name → folder of every workspace package that has a package.json. */
export function workspace() {
  const out = new Map();
  for (const parent of ['packages', 'apps']) {
    const base = join(ROOT, parent);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base)) {
      const file = join(base, d, 'package.json');
      if (existsSync(file)) out.set(JSON.parse(readFileSync(file, 'utf8')).name, join(base, d));
    }
  }
  return out;
}

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** True when `<pkg>/dist` is missing or older than the sources of the package and its workspace dependencies. */
export function needsBuild(name, ws = workspace()) {
  const seen = new Set();
  let sources = 0;
  const visit = (n) => {
    if (seen.has(n) || !ws.has(n)) return;
    seen.add(n);
    const dir = ws.get(n);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    sources = Math.max(sources, newest(join(dir, 'src')), statSync(join(dir, 'package.json')).mtimeMs);
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies })) visit(dep);
  };
  visit(name);
  const built = newest(join(ws.get(name), 'dist'));
  return built === 0 || built < sources;
}

/** Runs `turbo run build` for `names` (one or several) and what they need; exits the process with turbo's code on failure. */
export function build(names, why) {
  const list = [names].flat();
  process.stderr.write(`${why}\n`);
  const started = Date.now();
  const turbo = join(ROOT, 'node_modules', '.bin', 'turbo');
  if (!existsSync(turbo)) {
    process.stderr.write('The dependencies are not installed: run `pnpm install` first.\n');
    process.exit(1);
  }
  const r = spawnSync(turbo, ['run', 'build', ...list.map((n) => `--filter=${n}...`), '--output-logs=errors-only', '--log-prefix=none'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { TURBO_TELEMETRY_DISABLED: '1', ...process.env },
  });
  if (r.status !== 0) {
    process.stderr.write(`The build of ${list.join(', ')} failed (see above). Run \`pnpm build\` to see all of its output.\n`);
    process.exit(r.status ?? 1);
  }
  process.stderr.write(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, flag] = process.argv.slice(2);
  const ws = workspace();
  if (!name || !ws.has(name)) {
    process.stderr.write(`usage: node scripts/build-if-needed.mjs <package> [--always]; packages: ${[...ws.keys()].join(', ')}\n`);
    process.exit(2);
  }
  if (flag === '--always' || needsBuild(name, ws)) {
    build(name, `Building ${name} and the packages it uses (turbo; the first time takes a minute, later runs are cached)…`);
  }
}

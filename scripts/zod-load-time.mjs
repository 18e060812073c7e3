#!/usr/bin/env node
// How much loading zod costs a process, `zod/mini` against the whole `zod`, and what our core's dist
// (which bundles its zod/mini schemas) costs. A figure for notes and READMEs, not a test: timings vary
// by machine, so nothing asserts on them.
//
//   node scripts/zod-load-time.mjs [--runs 20] [--json]
//
// Each case is a fresh `node` process, run `--runs` times interleaved with the others; the figure is the
// median wall time minus the median of `node -e 0` in the same session.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 20;
const json = args.includes('--json');

// zod is a devDependency of core (its schemas are bundled into core's dist at build time).
const fromCore = createRequire(join(root, 'packages', 'core', 'package.json'));
let zod;
let zodMini;
try {
  zod = fromCore.resolve('zod');
  zodMini = fromCore.resolve('zod/mini');
} catch {
  console.error('zod-load-time: zod is not installed; run pnpm install first.');
  process.exit(1);
}
const zodVersion = JSON.parse(
  spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(join(dirname(zod), 'package.json'))}).version)`], {
    encoding: 'utf8',
  }).stdout,
);

const esm = (path) => `await import(${JSON.stringify(pathToFileURL(path).href)})`;
const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'] },
  { name: "require('zod/mini')", args: ['-e', `require(${JSON.stringify(zodMini)})`] },
  { name: "require('zod')", args: ['-e', `require(${JSON.stringify(zod)})`] },
  { name: "import('zod/mini')", args: ['--input-type=module', '-e', esm(zodMini)] },
  { name: "import('zod')", args: ['--input-type=module', '-e', esm(zod)] },
];
// What a library that bundles its schemas (as core's tsup build does) ships: the same small schema, bundled
// by esbuild from zod/mini and from zod, tree-shaken, as CommonJS.
const work = mkdtempSync(join(tmpdir(), 'zod-load-time-'));
const bundles = {};
try {
  const esbuild = createRequire(createRequire(join(root, 'package.json')).resolve('tsup'))('esbuild');
  for (const label of ['zod/mini', 'zod']) {
    const schema =
      label === 'zod/mini'
        ? 'z.object({ clientId: z.string().check(z.minLength(1)), scopes: z.array(z.string()), timeoutMs: z.optional(z.number()) })'
        : 'z.object({ clientId: z.string().min(1), scopes: z.array(z.string()), timeoutMs: z.number().optional() })';
    const outfile = join(work, `${label.replace('/', '-')}.bundle.cjs`);
    esbuild.buildSync({
      // Resolved by name from core, as tsup does, so esbuild takes zod's ESM build and tree-shakes it.
      stdin: {
        contents: `import * as z from '${label}';\nexport const schema = ${schema};\n`,
        resolveDir: join(root, 'packages', 'core'),
        loader: 'js',
      },
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    bundles[label] = statSync(outfile).size;
    cases.push({
      name: `${label} schemas bundled (${(bundles[label] / 1024).toFixed(0)} KiB)`,
      args: ['-e', `require(${JSON.stringify(outfile)})`],
    });
  }
} catch (err) {
  console.error(`zod-load-time: skipping the bundled cases (${err.message})`);
}

const coreCjs = join(root, 'packages', 'core', 'dist', 'index.cjs');
if (existsSync(coreCjs)) {
  cases.push({ name: "require('@ims-token/core') (dist, zod/mini bundled)", args: ['-e', `require(${JSON.stringify(coreCjs)})`] });
}

const times = cases.map(() => []);
for (let i = 0; i < runs + 1; i++) {
  cases.forEach((c, k) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, c.args, { stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${c.name} failed`);
    if (i > 0) times[k].push(ms); // the first round warms the file system cache
  });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
rmSync(work, { recursive: true, force: true });
const base = median(times[0]);
const rows = cases.map((c, k) => ({
  case: c.name,
  medianMs: +median(times[k]).toFixed(1),
  extraMs: +(median(times[k]) - base).toFixed(1),
}));

if (json) {
  console.log(JSON.stringify({ node: process.version, zod: zodVersion, runs, bundleBytes: bundles, rows }, null, 2));
} else {
  console.log(`zod ${zodVersion}, node ${process.version}, ${runs} runs each, median wall time of a fresh process:`);
  for (const r of rows) console.log(`  ${r.case.padEnd(52)} ${r.medianMs.toFixed(1).padStart(7)} ms  ${k(r)}`);
  const mini = rows.find((r) => r.case === "require('zod/mini')");
  const full = rows.find((r) => r.case === "require('zod')");
  console.log(
    `Loading the package: zod/mini instead of zod saves ${(full.extraMs - mini.extraMs).toFixed(1)} ms (require; both load zod's core).`,
  );
  const bm = rows.find((r) => r.case.startsWith('zod/mini schemas bundled'));
  const bf = rows.find((r) => r.case.startsWith('zod schemas bundled'));
  if (bm && bf)
    console.log(
      `Bundled into a dist: zod/mini instead of zod saves ${(bf.extraMs - bm.extraMs).toFixed(1)} ms and ${((bundles.zod - bundles['zod/mini']) / 1024).toFixed(0)} KiB.`,
    );
}

function k(r) {
  return r.extraMs === 0 && r.case.includes('baseline') ? '' : `(+${r.extraMs.toFixed(1)} ms)`;
}

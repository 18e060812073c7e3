#!/usr/bin/env node
// What a vitest JSON report says, read one way for every caller (`.ci/run`, `pnpm test:node-matrix`): passed and
// failed counts — a report with no tests, or one that failed with no failed test (a file that could not load, a
// hook that timed out), counts one failure — and each failure named by file, test and the first line of its error.
//
// As a command: `node scripts/vitest-report.mjs REPORT…` prints `ci: <label>: N passed, N failed` and the failures
// per report, then the plain total `N passed, N failed`; exit code 1 when anything failed or no report exists.
import { existsSync, readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `{ passed, failed, failures }` of the report at `path`; a missing report is one failure. */
export function readReport(path) {
  if (!existsSync(path)) return { passed: 0, failed: 1, failures: [`${path}: no report (vitest did not finish)`] };
  const r = JSON.parse(readFileSync(path, 'utf8'));
  const broken = (r.numTotalTests === 0 || r.success === false) && r.numFailedTests === 0 ? 1 : 0;
  const failures = [];
  const first = (text) =>
    String(text ?? '')
      .split('\n')[0]
      .slice(0, 300);
  for (const file of r.testResults ?? []) {
    const where = relative(process.cwd(), file.name);
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failed) failures.push(`${where} > ${t.fullName}${t.failureMessages?.[0] ? ` — ${first(t.failureMessages[0])}` : ''}`);
    if (file.status === 'failed' && failed.length === 0) failures.push(`${where} — ${first(file.message)}`);
  }
  return { passed: r.numPassedTests, failed: r.numFailedTests + broken, failures };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = process.argv.slice(2);
  let passed = 0;
  let failed = paths.length === 0 ? 1 : 0;
  if (paths.length === 0)
    console.error(
      'ci: the test command stopped before vitest ran (build, typecheck, package check, lint, format or the changeset check failed)',
    );
  for (const path of paths) {
    const r = readReport(path);
    const major = /node(\d+)/.exec(basename(path))?.[1];
    console.log(`ci: ${major ? `Node ${major}` : `Node ${process.version} (this machine)`}: ${r.passed} passed, ${r.failed} failed`);
    for (const f of r.failures) console.log(`ci:   FAILED ${f}`);
    passed += r.passed;
    failed += r.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

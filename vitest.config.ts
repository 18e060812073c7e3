import { defineConfig } from 'vitest/config';

// The JSON report is what .ci/run sums; `pnpm test:node-matrix` points each Node line at its own file.
const report = process.env['IMS_VITEST_REPORT'] ?? '.reports/vitest.json';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests/consumer', 'tests/chaos', 'tests/docs'],
    reporters: ['default', ['json', { outputFile: report }]],
  },
});

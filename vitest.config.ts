import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests/consumer', 'tests/docs'],
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
  },
});

import { defineConfig } from 'vitest/config';

// Self-contained (works in a copy outside the monorepo too). The root config runs it as project "example".
export default defineConfig({
  test: {
    name: 'example',
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

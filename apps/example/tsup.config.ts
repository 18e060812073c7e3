import { defineConfig } from 'tsup';

// An app, not a library: one ESM build of the entry point, dependencies stay in node_modules.
export default defineConfig({
  entry: ['src/main.ts', 'src/dev.ts', 'src/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
});

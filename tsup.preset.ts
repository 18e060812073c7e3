import type { Options } from 'tsup';

/**
 * The one build preset every published package shares: ESM + CJS, types for both, Node 20.
 * A package's tsup.config.ts passes only what differs (extra entries, a banner for a bin).
 */
export function preset(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    sourcemap: false, // maps would more than double every install (they were 1.1 MB when core bundled zod/mini)
    clean: true,
    treeshake: true,
    splitting: false,
    ...overrides,
  };
}

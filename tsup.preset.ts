import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';

/**
 * Fails the build when a JavaScript file in `dir` holds a non-ASCII byte (a kept comment's arrow or dash is
 * enough): V8 then keeps and compiles the whole file as a two-byte string, which cost `require` of the CLI's
 * bundle ~1 ms more (of ~14). esbuild escapes strings, but rollup's tree-shaking keeps some comments as written.
 */
export function assertAsciiOutput(dir = 'dist'): void {
  for (const name of readdirSync(dir)) {
    if (!/\.(c|m)?js$/.test(name) || name === 'public-suffix.cjs') continue; // tldts' prebuilt file is copied as is
    const text = readFileSync(join(dir, name), 'utf8');
    const at = text.search(/[\u0080-\uffff]/);
    if (at === -1) continue;
    const line = text.slice(0, at).split('\n').length;
    throw new Error(
      `${join(dir, name)}:${line} holds a non-ASCII character (${JSON.stringify(text[at])}): write it in ASCII in the source (a comment that the bundle kept, most likely).`,
    );
  }
}

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
    async onSuccess() {
      assertAsciiOutput();
      if (typeof overrides.onSuccess === 'function') await overrides.onSuccess();
    },
  };
}

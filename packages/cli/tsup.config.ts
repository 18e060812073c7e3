import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { preset } from '../../tsup.preset';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };
const define = { __CLI_VERSION__: JSON.stringify(version) };

export default defineConfig([
  // The library entry (run, EXIT_CODES): ESM + CJS + types. Its clean keeps the bin's files below.
  preset({ entry: ['src/index.ts'], define, clean: ['!cli.cjs*', '!main.cjs*'] }),
  // The bin: dist/cli.cjs is a small launcher (the cached-token fast path); dist/main.cjs is the whole CLI,
  // required only when the fast path cannot answer.
  // The launcher bundles core's node-built-ins `cache` entry (one file, no module resolution at start-up:
  // ~3 ms less). An older bundled copy can only cause a miss, never a wrong token. It requires ./main.cjs with
  // the plain CommonJS `require` (kept external here): node:module's createRequire would load the ESM loader.
  // The bin users run is bin/ims-token.cjs (committed: see there why), which requires this file.
  preset({
    entry: ['src/cli.ts'],
    format: ['cjs'],
    dts: false,
    clean: false,
    define,
    noExternal: ['@ims-token/core/cache'],
    external: ['./main.cjs'],
  }),
  // No rollup tree-shaking for the whole CLI: rollup hoists every built-in a command needs (crypto,
  // child_process …) to the top of the file; esbuild alone keeps them inside each lazily imported command.
  // Core is bundled in too, so a cold run reads one file and resolves no package: requiring @ims-token/core
  // (and /cache) costs a walk up node_modules, package.json `exports` resolution (which loads Node's ESM
  // resolver) and two more files. undici stays external: core imports it only for HTTPS_PROXY / HTTP_PROXY,
  // so it is a dependency of this package too.
  preset({
    entry: ['src/main.ts'],
    format: ['cjs'],
    dts: false,
    clean: false,
    define,
    treeshake: false,
    noExternal: ['@ims-token/core', '@ims-token/core/cache'],
    external: ['undici'],
  }),
]);

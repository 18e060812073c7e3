import { readFileSync, writeFileSync } from 'node:fs';
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
  // ~3 ms less); main.cjs keeps core external. An older bundled copy can only cause a miss, never a wrong token.
  //
  // It is a sh/JS polyglot: the shell runs `node -- <this file> <args>`, and Node (which strips the #! line) reads
  // the second line as a string and a comment. The `--` stops Node 20 from taking our `--env-file` for its own
  // (nodejs/node#54232: `ims-token token --env-file nope.env` printed "node: nope.env: not found", exit 9).
  // `#!/usr/bin/env -S node --` would do it in one line, but BusyBox's env (Alpine images) has no -S.
  preset({
    entry: ['src/cli.ts'],
    format: ['cjs'],
    dts: false,
    clean: false,
    define,
    noExternal: ['@ims-token/core/cache'],
    // (after the bundle: tree-shaking would drop the second line as dead code)
    onSuccess: async () => {
      const file = new URL('./dist/cli.cjs', import.meta.url);
      const js = readFileSync(file, 'utf8').replace(/^#!.*\n/, '');
      writeFileSync(file, `#!/bin/sh\n':' //; exec node -- "$0" "$@"\n${js}`);
    },
  }),
  // No rollup tree-shaking for the whole CLI: rollup hoists every built-in a command needs (crypto,
  // child_process …) to the top of the file; esbuild alone keeps them inside each lazily imported command.
  preset({ entry: ['src/main.ts'], format: ['cjs'], dts: false, clean: false, define, treeshake: false }),
]);

#!/usr/bin/env sh
':' //; exec node -- "$0" "$@"
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: the bin runs with no loader */
// The `ims-token` command. Two things in one committed file:
// - a sh/JS polyglot: sh runs `node -- <this file> <args>` (the `--` keeps Node from taking our `--env-file`
//   for its own: 20.20, 22.23 and 24.22 all still exit 9 on `node script.js --env-file missing.env`,
//   nodejs/node#54232); Node reads line 2 as a string and a comment. (`#!/bin/sh` would start one program
//   less, ~0.5 ms, but publint --strict wants a bin's shebang to go through /usr/bin/env, as npm's Windows
//   shims do);
// - a launcher rather than a bin pointing into dist/: pnpm links the bins of workspace packages at install
//   time, before anything is built, and a missing bin file makes a fresh `pnpm install` print
//   "Failed to create bin". Published tarballs hold dist/.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'cli.cjs');
if (!existsSync(cli)) {
  process.stderr.write(
    'ims-token: @ims-token/cli is not built yet (dist/cli.cjs is missing).\n' +
      'In the ims-token repository, run `pnpm ims-token` (it builds first) or `pnpm build`.\n',
  );
  process.exit(1);
}
require(cli);

#!/usr/bin/env node
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: the bin runs with no loader */
// The `ims-emulator` command. A committed launcher rather than a bin pointing into dist/: pnpm links the
// bins of workspace packages at install time, before anything is built, and a bin whose file does not
// exist yet makes every fresh `pnpm install` print "Failed to create bin". Published tarballs hold dist/.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'cli.cjs');
if (!existsSync(cli)) {
  process.stderr.write(
    'ims-emulator: @ims-token/emulator is not built yet (dist/cli.cjs is missing).\n' +
      'In the ims-token repository, run `pnpm ims-emulator` (it builds first) or `pnpm build`.\n',
  );
  process.exit(1);
}
require(cli);

#!/usr/bin/env node
import { fastToken } from './launcher/fast-path';
import { print } from './launcher/print';
import type { main as Main } from './main';

// A warm `ims-token token` is answered here, from the cached token file, without loading core or the
// rest of the CLI; anything else (or any doubt) runs the full CLI from ./main.cjs.
const fast = fastToken(process.argv.slice(2), process.env, process.cwd());
if (fast !== undefined) {
  print(fast);
} else {
  // A plain require (this file is CommonJS; tsup leaves ./main.cjs external): node:module's createRequire
  // would load the ESM loader (~10 modules) on every run.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require('./main.cjs') as { main: typeof Main };
  main(process.argv.slice(2)).then(
    ({ code, signal }) => {
      process.exitCode = code;
      if (signal) {
        // exec's command died of a signal: die of the same one, so our parent sees what happened
        // (a signal Node does not die of, like SIGUSR1, leaves the exit code at 128 + its number).
        process.removeAllListeners(signal);
        if (signal !== 'SIGUSR1') process.kill(process.pid, signal);
      }
    },
    (err: unknown) => {
      process.stderr.write(`ims-token: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

#!/usr/bin/env node
// Runs one of our commands from a clone, building it first when needed:
//
//   pnpm ims-token <args…>       (the root script; `pnpm -s ims-token token` keeps pnpm's header off stdout)
//   pnpm ims-emulator <args…>
//
// It runs the package's built file with this Node, passes the arguments, the exit code and SIGTERM/SIGINT
// through. Never `npx ims-token` / `npx ims-emulator`: those unscoped names on the registry are not ours.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build, needsBuild, workspace } from './build-if-needed.mjs';

const COMMANDS = {
  'ims-token': { pkg: '@ims-token/cli', file: 'dist/cli.cjs' },
  'ims-emulator': { pkg: '@ims-token/emulator', file: 'dist/cli.cjs' },
};

const [command, ...args] = process.argv.slice(2);
const target = COMMANDS[command];
if (!target) {
  process.stderr.write(`usage: node scripts/bin.mjs ${Object.keys(COMMANDS).join('|')} [args…]\n`);
  process.exit(2);
}
const ws = workspace();
if (needsBuild(target.pkg, ws)) build(target.pkg, `${command}: building ${target.pkg} first (once; a minute at most)…`);

const child = spawn(process.execPath, [join(ws.get(target.pkg), target.file), ...args], { stdio: 'inherit' });
// Ctrl+C reaches the child through the terminal's process group; a SIGTERM sent to us alone is passed on.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});

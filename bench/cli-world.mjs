// What the start-up benchmarks (cli-startup.mjs, cold-start.mjs) share: the built files they need, an
// emulator in this process with one client, a scratch HOME, and the one scrubbed environment every command
// runs with (no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS: the latter alone adds ~35 ms to every Node start).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cli = join(root, 'packages/cli/dist/cli.cjs');
/** The `ims-token` command as users run it: an sh/JS polyglot (`#!/usr/bin/env sh`, then `exec node`), which loads `cli`. */
export const bin = join(root, 'packages/cli/bin/ims-token.cjs');
const emulatorEntry = join(root, 'packages/emulator/dist/index.js');

/** Exits 2 with the build command when a package's dist is missing. `files`: [path, package name] pairs. */
function requireBuilt(files) {
  for (const [file, pkg] of [[cli, '@ims-token/cli'], [emulatorEntry, '@ims-token/emulator'], ...files]) {
    if (!existsSync(file)) {
      console.error(`${file} is missing: run \`pnpm --filter ${pkg} build\` first.`);
      process.exit(2);
    }
  }
}

/** The emulator, its client, a scratch HOME and the environment for every command; `close()` undoes it. */
export async function cliWorld(prefix, { needs = [] } = {}) {
  requireBuilt(needs);
  const { startEmulator } = await import(pathToFileURL(emulatorEntry).href);
  const emu = await startEmulator();
  const client = emu.addClient();
  const home = mkdtempSync(join(tmpdir(), prefix));
  const env = {
    // The bin's `exec node` finds the same Node as the commands spawned with process.execPath.
    PATH: [dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter),
    HOME: home,
    IMS_URL: emu.url,
    IMS_CLIENT_ID: client.clientId,
    IMS_CLIENT_SECRET: client.clientSecret,
    IMS_SCOPES: 'openid,AdobeID,firefly_api',
  };
  const close = async () => {
    await emu.stop();
    rmSync(home, { recursive: true, force: true });
  };
  return { emu, client, home, env, close };
}

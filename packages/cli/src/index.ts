import { main } from './main';
import type { CliIo } from './io';

export { EXIT_CODES } from './exit-codes';
export type { ExitCode } from './exit-codes';
export { SCOPE_PRESETS } from './launcher/presets';
export type { CliIo, CliReadable, CliWritable } from './io';

/**
 * Runs `ims-token` in this process, as the `ims-token` bin does: `argv` without `node` and the script.
 * Resolves with the exit code (see {@link EXIT_CODES}); never throws and never calls `process.exit`.
 * Every field of `io` defaults to the process's own (streams, `process.env`, `process.cwd()`).
 *
 * When the command of `exec` dies of a signal, the code is 128 + the signal number (the bin re-raises
 * the signal instead).
 *
 * @example
 * ```ts
 * import { run, EXIT_CODES } from '@ims-token/cli'
 * let out = ''
 * const code = await run(['token', '--json'], { stdout: { write: (s: string) => (out += s) } })
 * if (code === EXIT_CODES.OK) console.log(JSON.parse(out).expiresIn)
 * ```
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  return (await main(argv, io)).code;
}

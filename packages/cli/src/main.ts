import { ImsTokenError } from '@ims-token/core';
import { GLOBAL_OPTIONS, closest, firstOperand, globalsOf, optionSuggestion, parse, usageError } from './args';
import { COMMANDS } from './commands/index';
import type { CommandEntry } from './commands/types';
import { createContext } from './context';
import { EXIT_CODES, exitCodeFor, exitCodeTable } from './exit-codes';
import { resolveIo } from './io';
import type { CliIo } from './io';
import { styleFor } from './output';

declare const __CLI_VERSION__: string | undefined;

/** The version of this CLI (set at build time from package.json). */
export const VERSION: string = typeof __CLI_VERSION__ === 'string' ? __CLI_VERSION__ : '0.0.0-dev';

/** What a run ended with: an exit code, and the signal `exec`'s command died of, if it did. */
export interface MainResult {
  code: number;
  signal?: NodeJS.Signals;
}

const SAFE_WORD = /^[a-z][a-z-]{0,24}$/;
/** An option name that is safe to repeat in a message (never a value: it could be a pasted secret). */
const SAFE_OPTION = /^--?[A-Za-z][A-Za-z0-9-]{0,30}$/;

function isGlobal(arg: string): boolean {
  const name = arg.replace(/^--?/, '').split('=')[0]!;
  return Object.hasOwn(GLOBAL_OPTIONS, name) || arg === '-h';
}

function find(entries: readonly CommandEntry[], name: string | undefined): CommandEntry | undefined {
  return name === undefined ? undefined : entries.find((e) => e.name === name);
}

function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** Runs `ims-token` with `argv` (without `node` and the script). Never throws; never calls `process.exit`. */
export async function main(argv: readonly string[], ioIn?: Partial<CliIo>): Promise<MainResult> {
  const io = resolveIo(ioIn);
  const args = [...argv];
  let json = false;
  let verbose = false;
  try {
    const at = firstOperand(args, GLOBAL_OPTIONS);
    const pre = args.slice(0, at);
    json = pre.includes('--json') || args.includes('--json');
    verbose = args.includes('--verbose');
    const name = args[at];
    if (name === undefined || name === '--') {
      const unknown = pre.find((a) => a.startsWith('-') && a !== '--version' && !isGlobal(a));
      if (unknown !== undefined && !wantsHelp(pre)) {
        const shown = SAFE_OPTION.test(unknown) ? ` ${unknown}` : '';
        throw usageError(
          `Unknown option${shown}.`,
          `${shown ? optionSuggestion(unknown, GLOBAL_OPTIONS, ['version']) : ''}Run "ims-token --help" for the commands and options.`,
        );
      }
      if (pre.includes('--version')) {
        io.stdout.write(`${VERSION}\n`);
        return { code: EXIT_CODES.OK };
      }
      const { topHelp } = await import('./help');
      if (wantsHelp(pre)) {
        io.stdout.write(topHelp(VERSION));
        return { code: EXIT_CODES.OK };
      }
      io.stderr.write(topHelp(VERSION));
      return { code: EXIT_CODES.USAGE };
    }
    if (name === 'help') {
      const topic = args.slice(at + 1).filter((a) => !a.startsWith('-'));
      if (topic[0] === 'exit-codes') {
        io.stdout.write(exitCodeTable('text'));
        return { code: EXIT_CODES.OK };
      }
      return await main([...topic, '--help'], io);
    }
    const entry = find(COMMANDS, name);
    if (!entry) {
      const guess = SAFE_WORD.test(name) ? closest(name, [...COMMANDS.map((c) => c.name), 'help']) : undefined;
      throw usageError(
        `Unknown command${SAFE_WORD.test(name) ? ` "${name}"` : ''}.`,
        `${guess ? `Did you mean "ims-token ${guess}"? ` : ''}Run "ims-token --help" for the list of commands.`,
      );
    }
    let leaf = entry;
    let taken = 1;
    let path = entry.name;
    if (entry.subcommands) {
      const subName = args[at + 1];
      const sub = find(entry.subcommands, subName);
      if (!sub) {
        const { groupHelp } = await import('./help');
        if (wantsHelp(args.slice(at + 1))) {
          io.stdout.write(groupHelp(entry));
          return { code: EXIT_CODES.OK };
        }
        if (subName === undefined || subName.startsWith('-')) {
          io.stderr.write(groupHelp(entry));
          return { code: EXIT_CODES.USAGE };
        }
        const guess = SAFE_WORD.test(subName)
          ? closest(
              subName,
              (entry.subcommands ?? []).map((c) => c.name),
            )
          : undefined;
        throw usageError(
          `Unknown command "ims-token ${entry.name}${SAFE_WORD.test(subName) ? ` ${subName}` : ' …'}".`,
          `${guess ? `Did you mean "ims-token ${entry.name} ${guess}"? ` : ''}Run "ims-token ${entry.name} --help" for its commands.`,
        );
      }
      leaf = sub;
      taken = 2;
      path = `${entry.name} ${sub.name}`;
    }
    const { command } = await leaf.load!();
    let own = [...pre, ...args.slice(at + taken)];
    let rest: string[] = [];
    const specs = { ...globalsOf(command.globals), ...command.options };
    if (command.passthrough) {
      const split = firstOperand(own, specs);
      rest = own.slice(own[split] === '--' ? split + 1 : split);
      own = own.slice(0, split);
    }
    const { flags, positionals } = parse(own, specs, path, command.maxPositionals);
    json = flags.json === true;
    verbose = flags.verbose === true;
    if (flags.help === true) {
      const { commandHelp } = await import('./help');
      io.stdout.write(commandHelp(path, command));
      return { code: EXIT_CODES.OK };
    }
    const ctx = createContext(io, path, flags, positionals, rest);
    const code = await command.run(ctx);
    return ctx.exitSignal ? { code, signal: ctx.exitSignal } : { code };
  } catch (err) {
    return { code: reportError(io, err, { json, verbose }) };
  }
}

/** One line on stderr (JSON with --json): the code, what went wrong and the fix. Never a secret or a token. */
export function reportError(io: CliIo, err: unknown, { json, verbose }: { json: boolean; verbose: boolean }): number {
  const style = styleFor(io.stderr, io.env);
  if ((err as { code?: unknown })?.code === 'ABORT_ERR') {
    io.stderr.write('ims-token: cancelled\n');
    return EXIT_CODES.CANCELLED;
  }
  if (!ImsTokenError.is(err)) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (json) io.stderr.write(`${JSON.stringify({ error: { code: 'UNEXPECTED', message: e.message } })}\n`);
    else io.stderr.write(`ims-token: ${style.red('unexpected error')}: ${e.message} (run with --verbose for details; please report it)\n`);
    if (verbose && e.stack) io.stderr.write(`${e.stack}\n`);
    return EXIT_CODES.UNEXPECTED;
  }
  const code = exitCodeFor(err.code);
  if (json) {
    const data = Object.fromEntries(Object.entries(err.toJSON()).filter(([k, v]) => v !== undefined && k !== 'name'));
    io.stderr.write(`${JSON.stringify({ error: { ...data, exitCode: code } })}\n`);
  } else {
    const msg = err.message.endsWith('.') ? err.message : `${err.message}.`;
    io.stderr.write(`ims-token: ${style.red(err.code)}: ${msg} ${style.bold('Fix:')} ${err.hint}\n`);
  }
  if (verbose) {
    const lines: string[] = [];
    if (err.debugId) lines.push(`debug id: ${err.debugId} (quote it in Adobe support tickets)`);
    if (err.status !== undefined) lines.push(`HTTP status: ${err.status}`);
    if (err.imsError) lines.push(`IMS error: ${err.imsError}${err.imsErrorDescription ? `: ${err.imsErrorDescription}` : ''}`);
    if (err.retryAfterMs !== undefined) lines.push(`retry after: ${err.retryAfterMs} ms`);
    let cause: unknown = err.cause;
    for (let depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
      const c = cause as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
      const name = String(c.name ?? 'Error');
      const message = String(c.message ?? c);
      lines.push(`caused by: ${message.startsWith(`${name}:`) ? message : `${name}: ${message}`}${c.code ? ` (${String(c.code)})` : ''}`);
      cause = c.cause;
    }
    for (const l of lines) io.stderr.write(`  ${style.dim(l)}\n`);
  }
  return code;
}

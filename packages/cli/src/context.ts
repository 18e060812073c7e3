import type { Flags } from './args';
import type { CliIo } from './io';
import { styleFor } from './output';
import type { Spinner, Style } from './output';

/** What a command gets: its flags and arguments, the streams, and a few helpers. */
export interface Context {
  readonly io: CliIo;
  /** `token`, `cache clear`, … */
  readonly command: string;
  readonly flags: Flags;
  readonly positionals: string[];
  /** `exec`: the command line after `--`. */
  readonly rest: string[];
  /** Styling for stdout and stderr (off unless a terminal). */
  readonly out: Style;
  readonly err: Style;
  print(text: string): void;
  printJson(value: unknown): void;
  /** A line on stderr. */
  note(text: string): void;
  /** The running spinner, if any, so retries can update it. */
  spinner: Spinner | undefined;
  /** Secrets read from stdin once per run. */
  stdinSecrets: string[] | undefined;
  /** Set by `exec` when its command died of a signal: the bin re-raises it. */
  exitSignal: NodeJS.Signals | undefined;
}

export function createContext(io: CliIo, command: string, flags: Flags, positionals: string[], rest: string[]): Context {
  return {
    io,
    command,
    flags,
    positionals,
    rest,
    out: styleFor(io.stdout, io.env),
    err: styleFor(io.stderr, io.env),
    print: (text) => void io.stdout.write(text),
    printJson: (value) => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => void io.stderr.write(`${text}\n`),
    spinner: undefined,
    stdinSecrets: undefined,
    exitSignal: undefined,
  };
}

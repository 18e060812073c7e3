import type { GlobalName, OptionSpecs } from '../args';
import type { Context } from '../context';

/** Help of one command: shown by `ims-token <command> --help`. */
export interface CommandHelp {
  /** e.g. `ims-token token [--json | --header] [--force]` */
  usage: string;
  description: string;
  /** Positional arguments: `[name, help]`. */
  args?: ReadonlyArray<readonly [string, string]>;
  examples: readonly string[];
}

/** One command, in its own module under src/commands/, loaded only when it runs. */
export interface CommandModule {
  /** Options of this command (the global ones are added by the router). */
  options: OptionSpecs;
  /** The global options that apply to it (default: all); the others are refused and left out of its help. */
  globals?: readonly GlobalName[];
  /** How many positional arguments it takes. */
  maxPositionals: number;
  /** `exec`: everything after `--` (or after the first argument that is not an option) is handed over as is. */
  passthrough?: boolean;
  help: CommandHelp;
  /** Does the work; resolves with the exit code. Throws `ImsTokenError` for failures. */
  run(ctx: Context): Promise<number>;
}

/** An entry of the command table: a command, or a group of subcommands (`cache clear`, `secrets list`). */
export interface CommandEntry {
  name: string;
  summary: string;
  load?: () => Promise<{ command: CommandModule }>;
  subcommands?: readonly CommandEntry[];
}

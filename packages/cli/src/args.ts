import { parseArgs } from 'node:util';
import { ImsTokenError } from '@ims-token/core';

/** One option of a command, as `util.parseArgs` takes it, plus its help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help, e.g. `<path>`. */
  value?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  'env-file': { type: 'string', value: '<path>', help: 'read IMS_* variables from this dotenv file (the environment wins over it)' },
  'client-id': { type: 'string', value: '<id>', help: 'client ID (API key); wins over IMS_CLIENT_ID' },
  scopes: { type: 'string', value: '<list>', help: 'comma-separated scopes; wins over --preset and IMS_SCOPES' },
  preset: { type: 'string', value: '<name>', help: 'scope preset: firefly, io-management' },
  'ims-url': { type: 'string', value: '<url>', help: 'IMS base URL; wins over IMS_URL' },
  'client-secret-stdin': { type: 'boolean', help: 'read the client secret from stdin (one line; a second line is IMS_CLIENT_SECRET_NEXT)' },
  'cache-dir': {
    type: 'string',
    value: '<dir>',
    help: 'keep cached tokens in this directory (default $XDG_CACHE_HOME/ims-token or ~/.cache/ims-token)',
  },
  'no-cache': { type: 'boolean', help: 'do not read or write the token cache (always asks IMS)' },
  json: { type: 'boolean', help: 'machine-readable output on stdout (errors as JSON on stderr)' },
  verbose: { type: 'boolean', help: 'show IMS debug ids, retries and the cause of errors on stderr' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
} as const satisfies OptionSpecs;

/** The name of a global option. */
export type GlobalName = keyof typeof GLOBAL_OPTIONS;

/** The global options of a command that reads a credential's cached token (no secret needed). */
export const CACHE_READER: readonly GlobalName[] = [
  'env-file',
  'client-id',
  'scopes',
  'preset',
  'ims-url',
  'cache-dir',
  'no-cache',
  'json',
  'verbose',
  'help',
];
/** The global options of a command that may mint (it takes the secret too). */
export const MINTER: readonly GlobalName[] = [...CACHE_READER, 'client-secret-stdin'];

/** The global options of a command: those it names, or every one. */
export function globalsOf(names: readonly GlobalName[] | undefined): OptionSpecs {
  return names ? Object.fromEntries(names.map((n) => [n, GLOBAL_OPTIONS[n]])) : GLOBAL_OPTIONS;
}

/** Edit distance of two short words (for "did you mean"). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The candidate closest to `word` (at most 2 edits, and fewer than half its length), or `undefined`. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD && d <= 2 && d < Math.max(2, c.length / 2)) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** "Did you mean --x? " for an unknown option among `specs`, or ''. `-v` means --verbose or --version. */
export function optionSuggestion(name: string, specs: OptionSpecs, extra: readonly string[] = []): string {
  const known = [...Object.keys(specs), ...extra];
  if (name === '-v')
    return `Did you mean ${known.includes('version') ? '--version or ' : ''}${known.includes('verbose') ? '--verbose' : '--help'}? `;
  const m = closest(name.replace(/^-+/, '').split('=')[0]!, known);
  return m ? `Did you mean --${m}? ` : '';
}

export type GlobalFlags = {
  [K in keyof typeof GLOBAL_OPTIONS]?: (typeof GLOBAL_OPTIONS)[K]['type'] extends 'string' ? string : boolean;
};

export type Flags = GlobalFlags & Record<string, string | boolean | undefined>;

export function usageError(message: string, hint: string): ImsTokenError {
  return new ImsTokenError('IMS_CONFIG', message, { hint });
}

function stringOptionNames(specs: OptionSpecs): Set<string> {
  const names = new Set<string>();
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type !== 'string') continue;
    names.add(`--${name}`);
    if (spec.short) names.add(`-${spec.short}`);
  }
  return names;
}

/**
 * Index of the first argument that is neither an option of `specs` nor an option's value, or of `--`.
 * Used to find the command name among global options, and where `exec`'s command starts.
 */
export function firstOperand(args: readonly string[], specs: OptionSpecs): number {
  const takesValue = stringOptionNames(specs);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-' || !a.startsWith('-')) return i;
    if (takesValue.has(a)) i++;
  }
  return args.length;
}

/**
 * Parses a command's arguments. Error messages never repeat an argument's value (it could be a
 * token or a secret pasted in the wrong place), only option names.
 */
export function parse(
  args: string[],
  specs: OptionSpecs,
  command: string,
  maxPositionals: number,
): { flags: Flags; positionals: string[] } {
  if (args.some((a) => /^--client-secret(=|$)/.test(a))) {
    throw usageError(
      'The client secret is never taken from a flag (it would end up in shell history and process lists).',
      'Set IMS_CLIENT_SECRET or IMS_CLIENT_SECRET_FILE (e.g. in an --env-file), or pipe it to --client-secret-stdin.',
    );
  }
  const help = `Run "ims-token ${command} --help" for its options.`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(specs).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const name = /'(-{1,2}[A-Za-z0-9-]+)/.exec(e.message ?? '')?.[1] ?? 'an option';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw usageError(`Unknown option ${name} for "ims-token ${command}".`, `${optionSuggestion(name, specs)}${help}`);
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw usageError(`Option ${name} needs a value (write ${name}=<value> when the value starts with "-").`, help);
    }
    throw usageError(`Cannot parse the arguments of "ims-token ${command}".`, help);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw usageError(
      maxPositionals === 0
        ? `"ims-token ${command}" takes no arguments besides options (got ${parsed.positionals.length}).`
        : `"ims-token ${command}" takes at most ${maxPositionals} argument${maxPositionals > 1 ? 's' : ''} (got ${parsed.positionals.length}).`,
      help,
    );
  }
  return { flags: parsed.values as Flags, positionals: parsed.positionals };
}

import { GLOBAL_OPTIONS, globalsOf } from './args';
import type { OptionSpecs } from './args';
import { COMMANDS } from './commands/index';
import type { CommandEntry, CommandModule } from './commands/types';
import { exitCodeTable } from './exit-codes';

const EXIT_CODES_POINTER = `Exit codes: 0 ok, 2 usage or configuration, 3 credentials rejected, 4 IMS unreachable;
the whole table: ims-token help exit-codes
`;

const CONFIG_HELP = `Configuration (flags win over the environment, which wins over --env-file: the file
fills in what the environment lacks, as with node --env-file; ./.env is never read unless you
pass --env-file .env):
  IMS_CLIENT_ID            client ID (API key)
  IMS_CLIENT_SECRET        client secret (or IMS_CLIENT_SECRET_FILE, or --client-secret-stdin;
                           never a flag value)
  IMS_CLIENT_SECRET_NEXT   a second secret during a rotation
  IMS_CLIENT_SECRET_FILE   a file holding one or two secrets, one per line
  IMS_SCOPES               comma-separated scopes
  IMS_URL                  IMS base URL (default https://ims-na1.adobelogin.com)
  IMS_TOKEN_CACHE          file (default), file:<dir>, memory, or a redis:// URL
  IMS_ORG_ID               numeric org id (the number after /console/projects/ in the Developer Console URL), for the secrets commands
  IMS_CREDENTIAL_ID        credential ID (Developer Console), for the secrets commands
  IMS_MANAGEMENT_URL       I/O Management API base URL (default https://api.adobe.io)
  NO_COLOR                 no colour (colour is used only on a terminal anyway)
`;

function options(specs: OptionSpecs, extra: ReadonlyArray<readonly [string, string]> = []): string {
  const rows = [
    ...Object.entries(specs).map(
      ([name, s]) => [`${s.short ? `-${s.short}, ` : ''}--${name}${s.value ? ` ${s.value}` : ''}`, s.help] as const,
    ),
    ...extra,
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join('');
}

function commandRows(entries: readonly CommandEntry[], prefix = ''): Array<readonly [string, string]> {
  return entries.flatMap((e) =>
    e.subcommands ? commandRows(e.subcommands, `${prefix}${e.name} `) : [[`${prefix}${e.name}`, e.summary] as const],
  );
}

/** `ims-token --help`. */
export function topHelp(version: string): string {
  const rows = commandRows(COMMANDS);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `ims-token ${version}: Adobe IMS OAuth Server-to-Server tokens from the command line

Usage: ims-token <command> [options]

Commands:
${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join('')}
Options (every command):
${options(GLOBAL_OPTIONS, [['--version', 'print the version']])}
${CONFIG_HELP}
${exitCodeTable('text')}
Examples:
  export IMS_CLIENT_ID=… IMS_SCOPES=openid,AdobeID,firefly_api
  printf %s "$SECRET" | ims-token token --client-secret-stdin
  curl -H "Authorization: Bearer $(ims-token token --env-file .env)" -H "x-api-key: $IMS_CLIENT_ID" …
  ims-token doctor --env-file .env
  ims-token init

Run "ims-token <command> --help" for a command's options and examples.
`;
}

/** `ims-token cache --help`. */
export function groupHelp(entry: CommandEntry): string {
  const rows = commandRows(entry.subcommands ?? [], `${entry.name} `);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `Usage: ims-token ${entry.name} <command> [options]

${entry.summary}

Commands:
${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join('')}`;
}

/** `ims-token <command> --help`. */
export function commandHelp(name: string, mod: CommandModule): string {
  const h = mod.help;
  const args = h.args?.length ? `\nArguments:\n${h.args.map(([k, v]) => `  ${k}  ${v}\n`).join('')}` : '';
  const own = Object.keys(mod.options).length ? `\nOptions of ${name}:\n${options(mod.options)}` : '';
  return `Usage: ${h.usage}

${h.description}
${args}${own}
${own ? 'Other options' : 'Options'}:
${options(globalsOf(mod.globals))}
Examples:
${h.examples.map((e) => `  ${e}\n`).join('')}
${EXIT_CODES_POINTER}`;
}

import type { CommandEntry } from './types';

/**
 * Every command of `ims-token`. Each lives in its own module and is imported only when it runs, so
 * `ims-token token` never pays for `doctor`, `init` or `exec`.
 *
 * A group (`cache`) holds subcommands; `secrets list|add|delete|rotate` will be one more group here,
 * with one module per subcommand under ./secrets/.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'token', summary: 'print an access token (cached; --json, --header, --force)', load: () => import('./token') },
  { name: 'status', summary: 'show the cached token of this credential, without the token', load: () => import('./status') },
  { name: 'inspect', summary: 'decode an IMS token (argument, - for stdin, or the cached one); no network', load: () => import('./inspect') },
  { name: 'exec', summary: 'run a command with IMS_ACCESS_TOKEN and IMS_API_KEY in its environment', load: () => import('./exec') },
  {
    name: 'cache',
    summary: 'manage the token cache',
    subcommands: [{ name: 'clear', summary: "remove this credential's cached token (--all: every cached token)", load: () => import('./cache-clear') }],
  },
  { name: 'doctor', summary: 'check config, network, credentials, scopes, clock and cache; exit 5 on a problem', load: () => import('./doctor') },
  { name: 'init', summary: 'write a .env for a new credential and prove it by minting a token', load: () => import('./init') },
];

import type { CommandEntry } from './types';

/**
 * Every command of `ims-token`. Each lives in its own module and is imported only when it runs, so
 * `ims-token token` never pays for `doctor`, `init` or `exec`.
 *
 * A group (`cache`, `secrets`) holds subcommands; the `secrets` ones live under ./secrets/, one module each.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'token', summary: 'print an access token (cached; --json, --header, --force)', load: () => import('./token') },
  { name: 'status', summary: 'show the cached token of this credential, without the token', load: () => import('./status') },
  {
    name: 'inspect',
    summary: 'decode an IMS token (argument, - for stdin, or the cached one); no network',
    load: () => import('./inspect'),
  },
  { name: 'exec', summary: 'run a command with IMS_ACCESS_TOKEN and IMS_API_KEY in its environment', load: () => import('./exec') },
  {
    name: 'cache',
    summary: 'manage the token cache',
    subcommands: [
      { name: 'clear', summary: "remove this credential's cached token (--all: every cached token)", load: () => import('./cache-clear') },
    ],
  },
  {
    name: 'secrets',
    summary: 'manage client secrets through the I/O Management API (needs IMS_ORG_ID, IMS_CREDENTIAL_ID)',
    subcommands: [
      {
        name: 'list',
        summary: 'list the secrets: uuid, created, last used, which one you hold (no values)',
        load: () => import('./secrets/list'),
      },
      { name: 'add', summary: 'add a secret and print it once on stdout', load: () => import('./secrets/add') },
      {
        name: 'delete',
        summary: 'delete a secret by uuid (asks first; --yes); never the last one',
        load: () => import('./secrets/delete'),
      },
      {
        name: 'rotate',
        summary: 'add, verify and store a new secret, then optionally delete the old one (no downtime)',
        load: () => import('./secrets/rotate'),
      },
    ],
  },
  {
    name: 'doctor',
    summary: 'check config, network, credentials, scopes, clock and cache; exit 5 on a problem',
    load: () => import('./doctor'),
  },
  { name: 'init', summary: 'write a .env for a new credential and prove it by minting a token', load: () => import('./init') },
];

#!/usr/bin/env node
import { parseArgs } from 'node:util';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_CREDENTIAL_ID,
  DEFAULT_ORG_CODE,
  DEFAULT_ORG_ID,
  DEFAULT_ORG_NAME,
} from './state';
import { startEmulator } from './emulator';
import type { EmulatorClientInput } from './types';

const HELP = `ims-emulator — a local Adobe IMS + I/O Management API + sample Adobe API

Usage: ims-emulator [options]

Options:
  --host <host>              interface to listen on (default 127.0.0.1)
  --port <port>              port to listen on (default 0: an ephemeral port, printed)
  --client-id <id>           client ID to register (default ${DEFAULT_CLIENT_ID})
  --client-secret <secret>   its client secret (generated and printed when --client-id is given without it)
  --org-id <digits>          numeric AMS org id of the client's org (the secrets paths take it)
  --org-code <code>          IMS org code of that org (…@AdobeOrg)
  --credential-id <id>       credential ID of the client
  --scopes <a,b,c>           scopes the client may request (default: any)
  --token-lifetime <seconds> lifetime of minted tokens (default 86399)
  --verbose                  log one line per request on stderr
  -h, --help                 show this help

Control API: GET /__emulator/stats, POST|DELETE /__emulator/faults, POST /__emulator/clients,
POST /__emulator/config, POST /__emulator/revoke, POST /__emulator/reset-stats.
`;

function fail(message: string): never {
  process.stderr.write(`ims-emulator: ${message}\n\n${HELP}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'org-id': { type: 'string' },
        'org-code': { type: 'string' },
        'credential-id': { type: 'string' },
        scopes: { type: 'string' },
        'token-lifetime': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values['help']) {
    process.stdout.write(HELP);
    return;
  }

  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const port = str('port') === undefined ? 0 : Number(str('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer between 0 and 65535');
  const lifetime = str('token-lifetime') === undefined ? undefined : Number(str('token-lifetime'));
  if (lifetime !== undefined && (!Number.isFinite(lifetime) || lifetime <= 0))
    fail('--token-lifetime must be a positive number of seconds');

  const orgId = str('org-id');
  if (orgId !== undefined && !/^\d+$/.test(orgId)) {
    fail('--org-id must be the numeric AMS org id (the number in the Developer Console URL); pass an …@AdobeOrg value as --org-code');
  }
  const orgCode = str('org-code');
  if (orgCode !== undefined && !/@AdobeOrg$/.test(orgCode)) fail('--org-code must end in @AdobeOrg');

  const clientId = str('client-id');
  const passedSecret = str('client-secret');
  const defaultOrg = !clientId && orgId === undefined && orgCode === undefined;
  const client: EmulatorClientInput = {
    clientId: clientId ?? DEFAULT_CLIENT_ID,
    orgId: orgId ?? (defaultOrg ? DEFAULT_ORG_ID : undefined),
    orgCode: orgCode ?? (defaultOrg ? DEFAULT_ORG_CODE : undefined),
    orgName: defaultOrg ? DEFAULT_ORG_NAME : undefined,
    credentialId: str('credential-id') ?? (clientId ? undefined : DEFAULT_CREDENTIAL_ID),
  };
  if (passedSecret !== undefined) client.clientSecret = passedSecret;
  else if (!clientId) client.clientSecret = DEFAULT_CLIENT_SECRET;
  const scopes = str('scopes');
  if (scopes !== undefined)
    client.allowedScopes = scopes
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const emulator = await startEmulator({
    host: str('host'),
    port,
    clients: [client],
    tokenLifetimeSeconds: lifetime,
    logger: values['verbose'] ? (line: string): void => void process.stderr.write(`${line}\n`) : undefined,
  });
  const registered = emulator.client(client.clientId as string);
  process.stdout.write(`ims-emulator listening on ${emulator.url}\n`);
  process.stdout.write(`client id:     ${registered?.clientId ?? ''}\n`);
  if (passedSecret === undefined) process.stdout.write(`client secret: ${registered?.clientSecrets[0] ?? ''}\n`);
  process.stdout.write(`org id:        ${registered?.orgId ?? ''}\n`);
  process.stdout.write(`org code:      ${registered?.orgCode ?? ''}\n`);
  process.stdout.write(`credential id: ${registered?.credentialId ?? ''}\n`);

  const shutdown = (): void => {
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`ims-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

import { ImsTokenError } from '@ims-token/core';
import type { ClientSecretInfo, NewClientSecret } from '@ims-token/core';
import type { Context } from '../../context';
import type { CommandModule } from '../types';
import { SECRETS_OPTIONS, describeSecret, resolveSecretsConfig, when, withClient } from './shared';
import type { SecretsConfig } from './shared';

/** `IMS_SECRET_LIMIT` with the secrets listed and the one that looks unused named. */
async function limitError(cfg: SecretsConfig, err: ImsTokenError): Promise<ImsTokenError> {
  let list: ClientSecretInfo[];
  try {
    list = await cfg.client.listClientSecrets();
  } catch {
    return err;
  }
  if (list.length < 2) return err;
  const never = list.filter((s) => s.lastUsedAt === undefined);
  const pick = never.length === 1 ? never[0]! : [...list].sort((a, b) => (a.lastUsedAt ?? -Infinity) - (b.lastUsedAt ?? -Infinity))[0]!;
  return new ImsTokenError(
    'IMS_SECRET_LIMIT',
    `Cannot add a client secret: credential ${cfg.client.credentialId} already has ${list.length} secrets, the most Adobe allows: ${list.map((s) => describeSecret(s)).join('; ')}. ` +
      `${pick.uuid} looks unused (${pick.lastUsedAt === undefined ? 'never used' : 'least recently used'}).`,
    {
      status: err.status,
      debugId: err.debugId,
      hint: `If no service uses it, delete it with \`ims-token secrets delete ${pick.uuid}\`, then add again.`,
    },
  );
}

export const command: CommandModule = {
  options: SECRETS_OPTIONS,
  maxPositionals: 0,
  help: {
    usage: 'ims-token secrets add [--org-id <id>] [--credential-id <id>] [--json]',
    description: `Adds a client secret to the credential and prints it on stdout, once: the I/O Management API never
shows it again, so store it at once (a warning on stderr says so). It can take a moment before IMS accepts
it. Adobe allows two secrets; with two already, it fails with IMS_SECRET_LIMIT (exit 6) and names the one
that looks unused. For a rotation without downtime (add, verify, store, delete the old one) use
"ims-token secrets rotate". --json prints {uuid, clientSecret, createdAt}.`,
    examples: [
      'ims-token secrets add --env-file .env > new-secret.txt',
      'ims-token secrets add --env-file .env --json | jq -r .clientSecret | vault kv put secret/ims client_secret=-',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const cfg = await resolveSecretsConfig(ctx);
    return withClient(cfg, async () => {
      let added: NewClientSecret;
      try {
        added = await cfg.client.addClientSecret();
      } catch (err) {
        if (ImsTokenError.is(err) && err.code === 'IMS_SECRET_LIMIT') throw await limitError(cfg, err);
        throw err;
      }
      if (ctx.flags.json === true) {
        ctx.print(
          `${JSON.stringify({ uuid: added.uuid, clientSecret: added.clientSecret, createdAt: new Date(added.createdAt).toISOString() })}\n`,
        );
      } else {
        ctx.print(`${added.clientSecret}\n`);
      }
      ctx.note(
        `ims-token: ${ctx.err.yellow('warning')}: added client secret ${added.uuid} (created ${when(added.createdAt)}); its value was printed on stdout and is never shown again: store it now. ` +
          'IMS may take a moment to accept it.',
      );
      return 0;
    });
  },
};

import { ImsTokenError } from '@ims-token/core';
import { usageError } from '../../args';
import type { Context } from '../../context';
import { canPrompt, promptLine } from '../../prompt';
import type { CommandModule } from '../types';
import { SECRETS_OPTIONS, describeSecret, listWithCurrent, resolveSecretsConfig, safeId, withClient } from './shared';

export const command: CommandModule = {
  options: {
    ...SECRETS_OPTIONS,
    yes: { type: 'boolean', short: 'y', help: 'delete without asking (required when not on a terminal)' },
  },
  maxPositionals: 1,
  help: {
    usage: 'ims-token secrets delete <uuid> [--yes] [--org-id <id>] [--credential-id <id>] [--json]',
    description: `Deletes a client secret of the credential (by uuid; "ims-token secrets list" shows them). Asks first on
a terminal; elsewhere it needs --yes. Never deletes the last secret (IMS_SECRET_LIMIT, exit 6), and warns
when the secret is the one this configuration holds. Tokens already minted with a deleted secret keep
working until they expire; nothing can mint with it afterwards.`,
    args: [['<uuid>', 'the uuid of the secret to delete']],
    examples: [
      'ims-token secrets delete 0b9e8a4c-5a57-4f7e-9c55-2f1f0a7d3e21 --env-file .env',
      'ims-token secrets delete "$OLD_UUID" --yes --json',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const arg = ctx.positionals[0];
    if (arg === undefined || arg.trim() === '') {
      throw usageError(
        '"ims-token secrets delete" needs the uuid of the secret to delete.',
        'Run "ims-token secrets list" to see the uuids.',
      );
    }
    const uuid = arg.trim();
    const yes = ctx.flags.yes === true;
    const interactive = canPrompt(ctx.io);
    if (!yes && !interactive) {
      throw usageError(
        'ims-token secrets delete asks before deleting, and cannot ask here (not a terminal).',
        'Pass --yes to delete without asking.',
      );
    }
    const cfg = await resolveSecretsConfig(ctx);
    return withClient(cfg, async () => {
      const { list, current } = await listWithCurrent(cfg);
      const target = list.find((s) => s.uuid === uuid);
      if (!target) {
        throw new ImsTokenError(
          'IMS_NOT_FOUND',
          `Credential ${cfg.client.credentialId} has no client secret ${safeId(uuid)}; its secrets: ${list.map((s) => s.uuid).join(', ') || 'none'}.`,
          { hint: 'Copy the uuid from "ims-token secrets list" (and check IMS_ORG_ID and IMS_CREDENTIAL_ID).' },
        );
      }
      if (list.length < 2) {
        throw new ImsTokenError(
          'IMS_SECRET_LIMIT',
          `Not deleting ${uuid}: it is the only client secret of credential ${cfg.client.credentialId}, and every service would stop minting tokens.`,
          {
            hint: 'Add a new secret first ("ims-token secrets rotate" adds, verifies and stores one), then delete this one.',
          },
        );
      }
      const ours = current === uuid;
      const warning = ours
        ? `${uuid} is the secret ${cfg.source} holds: after deleting it, this configuration stops working until it has the other secret.`
        : undefined;
      if (!yes) {
        if (warning) ctx.note(`ims-token: ${ctx.err.yellow('warning')}: ${warning}`);
        const answer = await promptLine(
          ctx.io,
          `Delete client secret ${describeSecret(target)}? Nothing can mint tokens with it afterwards. [y/N] `,
        );
        if (!/^y(es)?$/i.test(answer)) {
          ctx.note('ims-token: nothing deleted.');
          return 0;
        }
      } else if (warning) {
        ctx.note(`ims-token: ${ctx.err.yellow('warning')}: ${warning}`);
      }
      await cfg.client.deleteClientSecret(uuid);
      if (ctx.flags.json === true)
        ctx.printJson({
          deleted: uuid,
          credentialId: cfg.client.credentialId,
          remaining: list.filter((s) => s.uuid !== uuid).map((s) => s.uuid),
        });
      else
        ctx.print(`${ctx.out.green('✓')} deleted client secret ${uuid}. Tokens already minted with it keep working until they expire.\n`);
      return 0;
    });
  },
};

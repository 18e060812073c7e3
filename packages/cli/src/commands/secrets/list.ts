import type { Context } from '../../context';
import type { CommandModule } from '../types';
import { SECRETS_OPTIONS, listWithCurrent, resolveSecretsConfig, when, whenRelative, withClient } from './shared';

export const command: CommandModule = {
  options: SECRETS_OPTIONS,
  maxPositionals: 0,
  help: {
    usage: 'ims-token secrets list [--org-id <id>] [--credential-id <id>] [--json]',
    description: `Lists the client secrets of the credential through the I/O Management API (never their values):
uuid, when each was created and last used, and which one this configuration's secret is. Adobe allows two.
Needs the I/O Management API added to the project, IMS_ORG_ID (the numeric org id) and IMS_CREDENTIAL_ID. Mints a token with
the current secret (twice when there are two secrets, to tell which one it is).
--json prints {clientId, orgId, credentialId, current, secrets: [{uuid, createdAt, lastUsedAt, expiresAt, current}]}
(times ISO 8601; lastUsedAt null when never used; current null when it cannot be told).`,
    examples: [
      'ims-token secrets list --env-file .env',
      'ims-token secrets list --org-id 23294 --credential-id 123456 --json | jq -r ".secrets[].uuid"',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const cfg = await resolveSecretsConfig(ctx);
    return withClient(cfg, async () => {
      const { list, current } = await listWithCurrent(cfg);
      const now = Date.now();
      const { client } = cfg;
      if (ctx.flags.json === true) {
        ctx.printJson({
          clientId: client.clientId,
          orgId: await client.resolveOrgId(),
          credentialId: client.credentialId,
          current: current ?? null,
          secrets: list.map((s) => ({
            uuid: s.uuid,
            createdAt: new Date(s.createdAt).toISOString(),
            lastUsedAt: s.lastUsedAt === undefined ? null : new Date(s.lastUsedAt).toISOString(),
            expiresAt: s.expiresAt === 'PERMANENT' ? 'PERMANENT' : new Date(s.expiresAt).toISOString(),
            current: current === undefined ? null : s.uuid === current,
          })),
        });
        return 0;
      }
      const s = ctx.out;
      const rows = [
        ['uuid', 'created', 'last used', ''],
        ...list.map((x) => [
          x.uuid,
          whenRelative(x.createdAt, now),
          whenRelative(x.lastUsedAt, now),
          x.uuid === current ? s.green(`← ${cfg.source}`) : '',
        ]),
      ];
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
      const line = (r: string[]): string =>
        `${r
          .slice(0, 3)
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')}${r[3] ? `  ${r[3]}` : ''}`.trimEnd();
      ctx.print(
        `${s.dim(line(rows[0]!))}\n${rows
          .slice(1)
          .map((r) => `${line(r)}\n`)
          .join('')}`,
      );
      const expiring = list.filter((x) => x.expiresAt !== 'PERMANENT');
      for (const x of expiring) ctx.print(`${s.yellow('!')} ${x.uuid} expires ${when(x.expiresAt as number)}\n`);
      const head = `${list.length} of the 2 secrets Adobe allows on credential ${client.credentialId} (client id ${client.clientId}).`;
      const which =
        current !== undefined
          ? ` ← marks the one ${cfg.source} holds.`
          : list.length > 1
            ? ` Could not tell which one ${cfg.source} holds (both were used just now).`
            : '';
      ctx.print(`\n${head}${which}\n`);
      return 0;
    });
  },
};

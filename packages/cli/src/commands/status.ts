import { CACHE_READER } from '../args';
import { redactToken } from '@ims-token/core';
import { cachedState } from '../cached';
import { readTargetToken, resolveCacheTarget, targetLocation } from '../cache-target';
import type { Context } from '../context';
import { formatDuration, iso, table } from '../output';
import type { CommandModule } from './types';

export const command: CommandModule = {
  globals: CACHE_READER,
  options: {},
  maxPositionals: 0,
  help: {
    usage: 'ims-token status [--json]',
    description: `Shows the cached token of this credential (client id, scopes, IMS URL) without printing it:
valid or not, when it expires, its scopes and where it is cached. Never asks IMS and does not need the
client secret. Exits 0 whether or not a token is cached (see "valid" in --json).`,
    examples: ['ims-token status --env-file .env', 'ims-token status --json | jq .valid'],
  },
  async run(ctx: Context): Promise<number> {
    const target = await resolveCacheTarget(ctx);
    try {
      const now = Date.now();
      const token = await readTargetToken(target);
      const state = cachedState(token, now);
      const where = targetLocation(target);
      if (ctx.flags.json === true) {
        ctx.printJson({
          state,
          valid: state === 'valid' || state === 'expiring',
          clientId: target.clientId,
          scopes: [...target.scopes],
          imsUrl: target.imsUrl,
          cache: { kind: target.cache.kind, location: where },
          expiresAt: iso(token?.expiresAt),
          expiresIn: token ? Math.max(0, Math.floor((token.expiresAt - now) / 1000)) : null,
          issuedAt: iso(token?.issuedAt),
          tokenPreview: token ? redactToken(token.accessToken) : null,
        });
        return 0;
      }
      const s = ctx.out;
      const headline =
        state === 'valid'
          ? `${s.green('✓')} valid token cached`
          : state === 'expiring'
            ? `${s.yellow('!')} token cached, less than an hour left (the next "ims-token token" replaces it)`
            : state === 'expired'
              ? `${s.yellow('✗')} cached token expired (the next "ims-token token" mints a new one)`
              : `${s.dim('–')} no token cached (the next "ims-token token" mints one)`;
      const rows: Array<[string, string]> = [
        ['client id', target.clientId],
        ['scopes', target.scopes.join(',')],
        ['IMS', target.imsUrl],
      ];
      if (token) {
        const left = token.expiresAt - now;
        rows.push([
          'expires',
          `${new Date(token.expiresAt).toISOString()} (${left > 0 ? `in ${formatDuration(left)}` : `${formatDuration(-left)} ago`})`,
        ]);
        rows.push(['issued', new Date(token.issuedAt).toISOString()]);
        rows.push(['token', redactToken(token.accessToken)]);
      }
      rows.push(['cache', where]);
      ctx.print(`${headline}\n${table(rows, s)}`);
      return 0;
    } finally {
      await target.store?.close?.();
    }
  },
};

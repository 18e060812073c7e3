import { CACHE_READER } from '../args';
import { ImsTokenError, decodeImsToken, redactToken } from '@ims-token/core';
import { readTargetToken, resolveCacheTarget } from '../cache-target';
import type { Context } from '../context';
import { readAll } from '../io';
import { formatDuration, iso, printable, table } from '../output';
import type { CommandModule } from './types';

/** Warn when a token has less than this left. */
const SOON_MS = 10 * 60_000;

/** Accepts a bare token, `Bearer <token>` or `Authorization: Bearer <token>` (what `ims-token token --header` prints). */
function clean(input: string): string {
  const line = input
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l && !/^x-api-key:/i.test(l));
  return (line ?? '').replace(/^authorization:\s*/i, '').replace(/^bearer\s+/i, '');
}

async function cachedToken(ctx: Context): Promise<string> {
  const target = await resolveCacheTarget(ctx);
  try {
    const token = await readTargetToken(target);
    if (!token) {
      throw new ImsTokenError('IMS_CONFIG', `No token is cached for client id ${target.clientId} with these scopes.`, {
        hint: 'Run "ims-token token" first, or pass a token to inspect (or - to read it from stdin).',
      });
    }
    return token.accessToken;
  } finally {
    await target.store?.close?.();
  }
}

export const command: CommandModule = {
  globals: CACHE_READER,
  options: {},
  maxPositionals: 1,
  help: {
    usage: 'ims-token inspect [<token> | -] [--json]',
    description: `Decodes an IMS access token and shows its claims: client id, scopes, "as" (the IMS instance),
created, expires and the time left; warns on stderr when it has expired or expires within 10 minutes.
Works offline and never verifies the signature: use it to look, not to trust. Prints only the first
6 characters of the token.`,
    args: [
      ['<token>', 'the token (a "Bearer " or "Authorization: Bearer " prefix is accepted)'],
      ['-', 'read the token from stdin'],
      ['(none)', 'the token cached for the configured credential'],
    ],
    examples: ['ims-token inspect', 'ims-token token | ims-token inspect -', 'ims-token inspect - --json < token.txt'],
  },
  async run(ctx: Context): Promise<number> {
    const arg = ctx.positionals[0];
    const source = arg === undefined ? 'cache' : arg === '-' ? 'stdin' : 'argument';
    const raw = source === 'cache' ? await cachedToken(ctx) : clean(source === 'stdin' ? await readAll(ctx.io.stdin, 256 * 1024) : arg!);
    const decoded = decodeImsToken(raw);
    // Claims are text from outside: never a control character on a terminal (or in a log that is later cat).
    const safe = (v: string | undefined): string | undefined => (v === undefined ? undefined : printable(v));
    const claims = {
      ...decoded,
      clientId: safe(decoded.clientId),
      scopes: decoded.scopes.map(printable),
      authServer: safe(decoded.authServer),
      type: safe(decoded.type),
      userId: safe(decoded.userId),
    };
    const now = Date.now();
    const left = claims.expiresAt === undefined ? undefined : claims.expiresAt - now;
    const expired = left !== undefined && left <= 0;
    const soon = left !== undefined && !expired && left < SOON_MS;
    if (ctx.flags.json === true) {
      ctx.printJson({
        source,
        clientId: claims.clientId ?? null,
        scopes: claims.scopes,
        authServer: claims.authServer ?? null,
        type: claims.type ?? null,
        userId: claims.userId ?? null,
        createdAt: iso(claims.createdAt),
        expiresAt: iso(claims.expiresAt),
        expiresIn: left === undefined ? null : Math.max(0, Math.floor(left / 1000)),
        expired,
        expiringSoon: soon,
        tokenPreview: redactToken(raw),
      });
    } else {
      const s = ctx.out;
      const rows: Array<[string, string]> = [
        ['client id', claims.clientId ?? '(none)'],
        ['scopes', claims.scopes.join(',') || '(none)'],
        ['as', claims.authServer ?? '(none)'],
        ['type', claims.type ?? '(none)'],
      ];
      if (claims.userId) rows.push(['user id', claims.userId]);
      rows.push([
        'created',
        claims.createdAt === undefined ? '(unknown)' : `${iso(claims.createdAt)} (${formatDuration(now - claims.createdAt)} ago)`,
      ]);
      rows.push([
        'expires',
        claims.expiresAt === undefined
          ? '(unknown: no created_at/expires_in claims)'
          : `${iso(claims.expiresAt)} (${expired ? s.red(`expired ${formatDuration(-left!)} ago`) : `in ${formatDuration(left!)}`})`,
      ]);
      rows.push(['token', `${redactToken(raw)} (from ${source})`]);
      ctx.print(table(rows, s, ''));
    }
    if (expired) ctx.note(`ims-token: ${ctx.err.yellow('warning')}: this token expired ${formatDuration(-left!)} ago.`);
    else if (soon) ctx.note(`ims-token: ${ctx.err.yellow('warning')}: this token expires in ${formatDuration(left!)}.`);
    return 0;
  },
};

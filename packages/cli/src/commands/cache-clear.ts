import { stat } from 'node:fs/promises';
import { FileStore } from '@ims-token/core';
import { CACHE_READER, usageError } from '../args';
import { resolveCacheTarget, targetLocation } from '../cache-target';
import { loadEnv, resolveCache } from '../config';
import type { Context } from '../context';
import type { CommandModule } from './types';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The cache directory for `--all`, which needs no credential: --cache-dir, IMS_TOKEN_CACHE=file[:dir], or the default. */
async function allDir(ctx: Context): Promise<string> {
  const { env } = await loadEnv(ctx);
  const cache = resolveCache(ctx, env);
  if (cache.kind === 'file') return cache.dir;
  throw usageError(
    `"ims-token cache clear --all" works on a file cache only (here: ${cache.kind === 'memory' ? cache.why : cache.where}).`,
    'Clear one credential without --all, or pass --cache-dir <dir>.',
  );
}

export const command: CommandModule = {
  globals: CACHE_READER,
  options: {
    all: { type: 'boolean', help: 'remove every cached token in the cache directory (no credential needed)' },
  },
  maxPositionals: 0,
  help: {
    usage: 'ims-token cache clear [--all] [--json]',
    description: `Removes the cached token of the configured credential (client id, scopes, IMS URL), so the next
"ims-token token" mints a new one. Does not need the client secret and does not revoke the token at IMS.
--all empties the whole cache directory.`,
    examples: [
      'ims-token cache clear --env-file .env',
      'ims-token cache clear --all',
      'ims-token cache clear --all --cache-dir /tmp/ims-cache --json',
    ],
  },
  async run(ctx: Context): Promise<number> {
    if (ctx.flags.all === true) {
      const dir = await allDir(ctx);
      const removed = await new FileStore({ dir }).clear();
      if (ctx.flags.json === true) ctx.printJson({ removed, location: dir });
      else ctx.print(`${ctx.out.green('✓')} removed ${removed} cached token${removed === 1 ? '' : 's'} from ${dir}\n`);
      return 0;
    }
    const target = await resolveCacheTarget(ctx);
    try {
      const where = targetLocation(target);
      let removed = 0;
      if (target.cache.kind === 'file') {
        const path = target.cache.store.pathFor(target.key);
        if (await exists(path)) removed = 1;
        await target.cache.store.delete(target.key);
      } else if (target.cache.kind === 'redis') {
        await target.store?.delete(target.key);
        removed = 1;
      }
      if (ctx.flags.json === true) ctx.printJson({ removed, clientId: target.clientId, location: where });
      else if (target.cache.kind === 'memory') ctx.print(`${ctx.out.dim('–')} nothing to clear: ${where}\n`);
      else
        ctx.print(
          removed
            ? `${ctx.out.green('✓')} removed the cached token of ${target.clientId} (${where})\n`
            : `${ctx.out.dim('–')} no token was cached for ${target.clientId} (${where})\n`,
        );
      return 0;
    } finally {
      await target.store?.close?.();
    }
  },
};

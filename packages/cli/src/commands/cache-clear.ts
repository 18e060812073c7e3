import { stat } from 'node:fs/promises';
import { FileStore } from '@ims-token/core';
import { CACHE_READER, usageError } from '../args';
import { cacheLocation, createProvider, loadEnv, resolveCache, resolveConfig } from '../config';
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
    const config = await resolveConfig(ctx, { needSecret: false });
    const provider = createProvider(ctx, config);
    try {
      const where = cacheLocation(config, provider);
      let removed = 0;
      if (config.cache.kind === 'file') {
        const path = config.cache.store.pathFor(provider.cacheKey);
        if (await exists(path)) removed = 1;
        await config.cache.store.delete(provider.cacheKey);
      } else if (config.cache.kind === 'redis') {
        await config.options.store?.delete(provider.cacheKey);
        removed = 1;
      }
      if (ctx.flags.json === true) ctx.printJson({ removed, clientId: provider.clientId, location: where });
      else if (config.cache.kind === 'memory') ctx.print(`${ctx.out.dim('–')} nothing to clear: ${where}\n`);
      else
        ctx.print(
          removed
            ? `${ctx.out.green('✓')} removed the cached token of ${provider.clientId} (${where})\n`
            : `${ctx.out.dim('–')} no token was cached for ${provider.clientId} (${where})\n`,
        );
      return 0;
    } finally {
      await provider.close();
    }
  },
};

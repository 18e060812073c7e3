import { MINTER, usageError } from '../args';
import { obtainToken } from '../cached';
import { createProvider, resolveConfig } from '../config';
import type { Context } from '../context';
import { formatToken } from '../launcher/format';
import type { CommandModule } from './types';

export const command: CommandModule = {
  globals: MINTER,
  options: {
    header: { type: 'boolean', help: 'print the two headers an Adobe API needs: "Authorization: Bearer …" and "x-api-key: …"' },
    force: { type: 'boolean', help: 'ignore the cached token and mint a new one' },
  },
  maxPositionals: 0,
  help: {
    usage: 'ims-token token [--json | --header] [--force]',
    description: `Prints an access token and a newline on stdout, and nothing else. The token is cached (see --cache-dir),
so a hundred runs in a loop ask IMS once. A printed token has at least an hour left (half its life for
short-lived tokens): an older one is replaced, and still used, with a warning on stderr, if IMS cannot be
reached. --json prints {accessToken, tokenType, expiresAt (ISO 8601), expiresIn (s), scopes, clientId}.`,
    examples: [
      'curl -H "Authorization: Bearer $(ims-token token)" -H "x-api-key: $IMS_CLIENT_ID" https://…',
      'curl -H @<(ims-token token --header) https://firefly-api.adobe.io/…',
      'ims-token token --env-file .env --json | jq .expiresIn',
      'printf %s "$SECRET" | ims-token token --client-id abc123 --preset firefly --client-secret-stdin',
    ],
  },
  async run(ctx: Context): Promise<number> {
    if (ctx.flags.json === true && ctx.flags.header === true)
      throw usageError('--json and --header cannot be used together.', 'Pick one output format.');
    const config = await resolveConfig(ctx);
    const provider = createProvider(ctx, config);
    try {
      const token = await obtainToken(ctx, provider);
      ctx.print(formatToken(token, ctx.flags.json === true ? 'json' : ctx.flags.header === true ? 'header' : 'plain'));
      return 0;
    } finally {
      await provider.close();
    }
  },
};

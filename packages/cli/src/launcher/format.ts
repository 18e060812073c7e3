/** What `token` prints. Core-free: the fast path of the bin prints the same. */
export interface PrintableToken {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  readonly clientId: string;
}

export type TokenFormat = 'plain' | 'json' | 'header';

/** The `--json` shape of `ims-token token`: `expiresAt` ISO 8601, `expiresIn` in whole seconds. */
export function tokenJson(token: PrintableToken, now = Date.now()): Record<string, unknown> {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    expiresAt: new Date(token.expiresAt).toISOString(),
    expiresIn: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
    scopes: [...token.scopes],
    clientId: token.clientId,
  };
}

export function formatToken(token: PrintableToken, format: TokenFormat, now = Date.now()): string {
  if (format === 'json') return `${JSON.stringify(tokenJson(token, now), null, 2)}\n`;
  if (format === 'header') return `Authorization: Bearer ${token.accessToken}\nx-api-key: ${token.clientId}\n`;
  return `${token.accessToken}\n`;
}

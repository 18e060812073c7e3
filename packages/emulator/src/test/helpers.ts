import type { Emulator } from '../types';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../index';

export const MGMT_SCOPES =
  'AdobeID,openid,read_organizations,additional_info.projectedProductContext,additional_info.roles,adobeio_api,read_client_secret,manage_client_secrets';

/** The x-debug-id the emulator puts on every answer (a random UUID, as IMS sends). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export interface TokenAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a form to the emulator's token endpoint. */
export async function tokenRequest(
  emu: Emulator,
  params: Record<string, string>,
  init: { query?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<TokenAnswer> {
  const qs = init.query ? `?${new URLSearchParams(init.query).toString()}` : '';
  const res = await fetch(`${emu.url}/ims/token/v3${qs}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
    signal: init.signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Mints a token (throws if the emulator refuses). */
export async function mint(emu: Emulator, opts: { clientId?: string; clientSecret?: string; scope?: string } = {}): Promise<string> {
  const r = await tokenRequest(emu, {
    grant_type: 'client_credentials',
    client_id: opts.clientId ?? DEFAULT_CLIENT_ID,
    client_secret: opts.clientSecret ?? DEFAULT_CLIENT_SECRET,
    scope: opts.scope ?? 'openid,AdobeID',
  });
  if (r.status !== 200) throw new Error(`mint failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body['access_token'] as string;
}

/** Decodes the payload of a JWT-shaped token. */
export function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CREDENTIAL_ID, DEFAULT_ORG_CODE, DEFAULT_ORG_ID, startEmulator } from './index';
import type { Emulator } from './index';
import { claims, mint, tokenRequest, UUID } from './test/helpers';

describe('token endpoint', () => {
  let emu: Emulator;
  const lines: string[] = [];
  beforeAll(async () => {
    emu = await startEmulator({ logger: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('registers the default client', () => {
    const c = emu.client(DEFAULT_CLIENT_ID)!;
    expect(c.clientSecrets).toEqual([DEFAULT_CLIENT_SECRET]);
    expect(c.orgId).toBe(DEFAULT_ORG_ID);
    expect(c.credentialId).toBe(DEFAULT_CREDENTIAL_ID);
    expect(emu.url).toBe(`http://127.0.0.1:${emu.port}`);
  });

  it('mints a JWT-shaped token with Adobe claims', async () => {
    const before = emu.now();
    const r = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: DEFAULT_CLIENT_SECRET,
      scope: 'openid,AdobeID,firefly_api',
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json;charset=utf-8');
    expect(r.headers.get('x-debug-id')).toMatch(UUID);
    expect(r.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 86399 });
    const token = r.body['access_token'] as string;
    const [h] = token.split('.');
    expect(token.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({
      alg: 'RS256',
      x5u: 'ims_na1-key-at-1.cer',
      kid: 'ims_na1-key-at-1',
      itt: 'at',
    });
    const c = claims(token);
    expect(c).toMatchObject({
      type: 'access_token',
      client_id: DEFAULT_CLIENT_ID,
      as: 'ims-na1',
      scope: 'openid,AdobeID,firefly_api',
      ctp: 0,
      org: DEFAULT_ORG_CODE, // IMS names the org by its code, not the AMS id
    });
    expect(c['user_id']).toMatch(/^[0-9A-F]+@techacct\.adobe\.com$/);
    expect(typeof c['id']).toBe('string');
    expect(c['exp']).toBeUndefined();
    expect(typeof c['created_at']).toBe('string');
    expect(c['expires_in']).toBe('86399000');
    expect(Number(c['created_at'])).toBeGreaterThanOrEqual(before);
    expect(Number(c['created_at'])).toBeLessThanOrEqual(emu.now());
  });

  it('accepts parameters in the query string, the body winning', async () => {
    const r = await tokenRequest(
      emu,
      { client_secret: DEFAULT_CLIENT_SECRET },
      { query: { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: 'wrong', scope: 'openid' } },
    );
    expect(r.status).toBe(200);
    expect(claims(r.body['access_token'] as string)['scope']).toBe('openid');
  });

  it('accepts an absent or empty scope', async () => {
    const r = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: DEFAULT_CLIENT_SECRET,
    });
    expect(r.status).toBe(200);
    expect(claims(r.body['access_token'] as string)['scope']).toBe('');
  });

  it('answers Adobe-shaped errors', async () => {
    const base = { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET, scope: 'openid' };
    const cases: Array<[Record<string, string>, unknown]> = [
      [
        { ...base, client_id: 'nope' },
        { error: 'invalid_client', error_description: 'invalid client_id parameter' },
      ],
      [
        { grant_type: 'client_credentials', client_secret: 'x' },
        { error: 'invalid_client', error_description: 'invalid client_id parameter' },
      ],
      [
        { ...base, client_secret: 'wrong' },
        { error: 'invalid_client', error_description: 'invalid client_secret parameter' },
      ],
      [
        { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID },
        { error: 'invalid_client', error_description: 'invalid client_secret parameter' },
      ],
      [
        { ...base, grant_type: 'password' },
        { error: 'unsupported_grant_type', error_description: expect.any(String) },
      ],
    ];
    for (const [params, expected] of cases) {
      const r = await tokenRequest(emu, params);
      expect(r.status).toBe(400);
      expect(r.body).toEqual(expected);
      expect(r.headers.get('x-debug-id')).toMatch(UUID);
    }
  });

  it('checks scopes against allowedScopes and refuses disabled clients', async () => {
    const c = emu.addClient({ allowedScopes: ['openid', 'AdobeID'] });
    expect(c.clientSecret).toMatch(/^p8e-/);
    expect(c.orgId).toMatch(/^\d+$/);
    expect(c.orgCode).toMatch(/^[0-9A-F]{24}@AdobeOrg$/);
    expect(c.credentialId).toMatch(/^\d+$/);
    const ok = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      scope: 'openid',
    });
    expect(ok.status).toBe(200);
    const bad = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      scope: 'openid,firefly_api',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'invalid_scope', error_description: 'invalid scope' });

    emu.client(c.clientId)!.disabled = true;
    const disabled = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      scope: 'openid',
    });
    expect(disabled.status).toBe(400);
    expect(disabled.body['error']).toBe('unauthorized_client');
  });

  it('accepts either of two secrets', async () => {
    const c = emu.addClient({ clientId: 'two-secrets', clientSecrets: ['s1', 's2'] });
    expect(c.clientSecret).toBe('s1');
    for (const clientSecret of ['s1', 's2']) {
      expect(claims(await mint(emu, { clientId: 'two-secrets', clientSecret }))).toMatchObject({ client_id: 'two-secrets' });
    }
  });

  it('uses the configured lifetime and counts', async () => {
    emu.resetStats();
    emu.setTokenLifetime(120);
    const r = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: DEFAULT_CLIENT_SECRET,
    });
    expect(r.body['expires_in']).toBe(120);
    expect(claims(r.body['access_token'] as string)['expires_in']).toBe('120000');
    await tokenRequest(emu, { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: 'bad' });
    expect(emu.stats).toMatchObject({
      requests: 2,
      tokenRequests: 2,
      tokensMinted: 1,
      tokenErrors: 1,
      mintedByClient: { [DEFAULT_CLIENT_ID]: 1 },
    });
    emu.setTokenLifetime(86399);
    expect(() => emu.setTokenLifetime(0)).toThrow(RangeError);
  });

  it('answers 405 for GET and 404 for unknown paths', async () => {
    expect((await fetch(`${emu.url}/ims/token/v3`)).status).toBe(405);
    expect((await fetch(`${emu.url}/ims/token/v9`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${emu.url}/nothing`)).status).toBe(404);
  });

  it('never logs secrets', async () => {
    await tokenRequest(
      emu,
      { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET },
      { query: { client_secret: DEFAULT_CLIENT_SECRET } },
    );
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(DEFAULT_CLIENT_SECRET);
  });

  it('registers the clients given as options instead of the default one', async () => {
    const other = await startEmulator({ clients: [{ clientId: 'a', clientSecret: 'b' }, {}] });
    try {
      expect(other.client(DEFAULT_CLIENT_ID)).toBeUndefined();
      expect(other.client('a')!.clientSecrets).toEqual(['b']);
      expect(claims(await mint(other, { clientId: 'a', clientSecret: 'b' }))).toMatchObject({ client_id: 'a' });
      // a token of another emulator is not valid here
      const foreign = await mint(emu);
      const res = await fetch(`${other.url}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${foreign}`, 'x-api-key': DEFAULT_CLIENT_ID },
      });
      expect(res.status).toBe(401);
    } finally {
      await other.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import type { Emulator, EmulatorStats } from './index';
import { mint, tokenRequest } from './test/helpers';

async function control(
  emu: Emulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.url}/__emulator/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('control API', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('stats and reset-stats (control calls are not counted)', async () => {
    await mint(emu);
    const s = (await control(emu, 'GET', 'stats')).body as unknown as EmulatorStats;
    expect(s).toMatchObject({ requests: 1, tokenRequests: 1, tokensMinted: 1 });
    expect((await control(emu, 'POST', 'reset-stats')).status).toBe(200);
    expect(emu.stats).toEqual({
      requests: 0,
      tokenRequests: 0,
      tokensMinted: 0,
      tokenErrors: 0,
      mintedByClient: {},
      apiRequests: 0,
      apiUnauthorized: 0,
      secretsRequests: 0,
      faultsApplied: 0,
      routes: {},
    });
  });

  it('faults, including times "Infinity", and clearing them', async () => {
    expect((await control(emu, 'POST', 'faults', { kind: 'status', status: 503, times: 'Infinity', retryAfter: 1 })).status).toBe(201);
    const form = { grant_type: 'client_credentials', client_id: 'ims-emulator-client', client_secret: 'ims-emulator-secret' };
    for (let i = 0; i < 3; i++) expect((await tokenRequest(emu, form)).status).toBe(503);
    expect((await control(emu, 'DELETE', 'faults')).status).toBe(200);
    expect((await tokenRequest(emu, form)).status).toBe(200);
    expect((await control(emu, 'POST', 'faults', { kind: 'explode' })).status).toBe(400);
    const bad = await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', body: '{' });
    expect(bad.status).toBe(400);
  });

  it('clients, config and revoke', async () => {
    const created = await control(emu, 'POST', 'clients', { allowedScopes: ['openid'] });
    expect(created.status).toBe(201);
    const c = created.body as {
      clientId: string;
      clientSecret: string;
      orgId: string;
      orgCode: string;
      credentialId: string;
      clientSecrets: string[];
    };
    expect(c.clientSecrets).toEqual([c.clientSecret]);
    expect(c.orgId).toMatch(/^\d+$/);
    expect(c.orgCode).toMatch(/^[0-9A-F]{24}@AdobeOrg$/);
    expect((await control(emu, 'POST', 'clients', { orgId: 'X@AdobeOrg' })).status).toBe(400);
    expect(emu.client(c.clientId)!.allowedScopes).toEqual(['openid']);

    expect((await control(emu, 'POST', 'config', { tokenLifetimeSeconds: 60, secretActivationDelayMs: 0 })).body).toMatchObject({
      tokenLifetimeSeconds: 60,
      secretActivationDelayMs: 0,
    });
    const r = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      scope: 'openid',
    });
    expect(r.body['expires_in']).toBe(60);
    expect((await control(emu, 'POST', 'config', { tokenLifetimeSeconds: -1 })).status).toBe(400);
    expect((await control(emu, 'POST', 'config', { lastUsedLagMs: 5000 })).body).toMatchObject({ lastUsedLagMs: 5000 });
    expect((await control(emu, 'POST', 'config', { lastUsedLagMs: -5 })).status).toBe(400);

    const token = r.body['access_token'] as string;
    const headers = { authorization: `Bearer ${token}`, 'x-api-key': c.clientId };
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers })).status).toBe(200);
    expect((await control(emu, 'POST', 'revoke', { clientId: c.clientId })).status).toBe(200);
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers })).status).toBe(401);
    expect((await control(emu, 'GET', 'nothing')).status).toBe(404);
  });
});

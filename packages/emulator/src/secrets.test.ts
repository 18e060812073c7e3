import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CREDENTIAL_ID, DEFAULT_ORG_ID, startEmulator } from './index';
import type { Emulator } from './index';
import { MGMT_SCOPES, mint, sleep, tokenRequest } from './test/helpers';

interface SecretsList {
  client_id: string;
  client_secrets: Array<{
    uuid: string;
    created_at: string;
    expires_at: string;
    secret_usages: Array<{ last_used_at: string; grant_type: string }> | null;
  }>;
}

describe('I/O Management API secrets endpoints', () => {
  let emu: Emulator;
  let headers: Record<string, string>;
  let base: string;
  beforeAll(async () => {
    emu = await startEmulator({ secretActivationDelayMs: 300 });
    headers = { authorization: `Bearer ${await mint(emu, { scope: MGMT_SCOPES })}`, 'x-api-key': DEFAULT_CLIENT_ID };
    base = `${emu.url}/console/organizations/${encodeURIComponent(DEFAULT_ORG_ID)}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`;
  });
  afterAll(async () => {
    await emu.stop();
  });

  const list = async (): Promise<SecretsList> => {
    const res = await fetch(base, { headers });
    expect(res.status).toBe(200);
    return (await res.json()) as SecretsList;
  };

  it('lists secrets without their values, with last_used_at from the last mint', async () => {
    const before = Date.now();
    await mint(emu);
    const body = await list();
    expect(body.client_id).toBe(DEFAULT_CLIENT_ID);
    expect(body.client_secrets).toHaveLength(1);
    const s = body.client_secrets[0]!;
    expect(s).toEqual({
      uuid: expect.any(String),
      created_at: expect.stringMatching(/^\d+$/),
      expires_at: 'PERMANENT',
      secret_usages: [{ last_used_at: expect.stringMatching(/^\d+$/), grant_type: 'client_credentials' }],
    });
    expect(Number(s.secret_usages![0]!.last_used_at)).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(body)).not.toContain(DEFAULT_CLIENT_SECRET);
  });

  it('adds a secret that works after the activation delay, refuses a third, deletes', async () => {
    const res = await fetch(base, { method: 'POST', headers });
    expect(res.status).toBe(201);
    const added = (await res.json()) as Record<string, string>;
    expect(added).toEqual({
      uuid: expect.any(String),
      client_secret: expect.stringMatching(/^p8e-/),
      created_at: expect.stringMatching(/^\d+$/),
      expires_at: 'PERMANENT',
    });
    expect(emu.client(DEFAULT_CLIENT_ID)!.clientSecrets).toEqual([DEFAULT_CLIENT_SECRET, added['client_secret']]);

    const early = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: added['client_secret']!,
    });
    expect(early.body).toEqual({ error: 'invalid_client', error_description: 'invalid client_secret parameter' });
    await sleep(320);
    await expect(mint(emu, { clientSecret: added['client_secret']! })).resolves.toBeTruthy();

    const listed = await list();
    expect(listed.client_secrets.map((s) => s.uuid)).toContain(added['uuid']);
    expect(listed.client_secrets.find((s) => s.uuid === added['uuid'])!.secret_usages).toHaveLength(1);

    const third = await fetch(base, { method: 'POST', headers });
    expect(third.status).toBe(400);
    expect(await third.json()).toEqual({ error_code: '400', message: 'maximum number of client secrets reached (2)' });

    const old = listed.client_secrets.find((s) => s.uuid !== added['uuid'])!;
    const del = await fetch(`${base}/${old.uuid}`, { method: 'DELETE', headers });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');
    expect((await fetch(`${base}/${old.uuid}`, { method: 'DELETE', headers })).status).toBe(404);
    expect((await list()).client_secrets.map((s) => s.uuid)).toEqual([added['uuid']]);

    // the old secret no longer mints, but tokens minted with it still work
    const r = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: DEFAULT_CLIENT_SECRET,
    });
    expect(r.body['error']).toBe('invalid_client');
    expect((await fetch(base, { headers })).status).toBe(200);
    expect(emu.stats.secretsRequests).toBeGreaterThanOrEqual(7);
  });

  it('requires a valid token, the api key, the scopes and the right credential', async () => {
    expect((await fetch(base)).status).toBe(401);
    expect((await fetch(base, { headers: { authorization: headers['authorization']! } })).status).toBe(403);

    const readOnly = await mint(emu, {
      clientSecret: emu.client(DEFAULT_CLIENT_ID)!.clientSecrets[0]!,
      scope: 'openid,read_client_secret',
    });
    const ro = { authorization: `Bearer ${readOnly}`, 'x-api-key': DEFAULT_CLIENT_ID };
    expect((await fetch(base, { headers: ro })).status).toBe(200);
    const post = await fetch(base, { method: 'POST', headers: ro });
    expect(post.status).toBe(403);
    expect(((await post.json()) as Record<string, string>)['error_code']).toBe('403027');
    const noScope = await mint(emu, { clientSecret: emu.client(DEFAULT_CLIENT_ID)!.clientSecrets[0]!, scope: 'openid' });
    expect((await fetch(base, { headers: { authorization: `Bearer ${noScope}`, 'x-api-key': DEFAULT_CLIENT_ID } })).status).toBe(403);

    expect(
      (await fetch(`${emu.url}/console/organizations/other@AdobeOrg/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`, { headers })).status,
    ).toBe(404);
    const other = emu.addClient();
    const otherBase = `${emu.url}/console/organizations/${other.orgId}/credentials/${other.credentialId}/secrets`;
    expect((await fetch(otherBase, { headers })).status).toBe(403);
    const otherToken = await mint(emu, { clientId: other.clientId, clientSecret: other.clientSecret, scope: MGMT_SCOPES });
    expect((await fetch(otherBase, { headers: { authorization: `Bearer ${otherToken}`, 'x-api-key': other.clientId } })).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CREDENTIAL_ID, DEFAULT_ORG_CODE, DEFAULT_ORG_ID, DEFAULT_ORG_NAME, startEmulator } from './index';
import type { Emulator } from './index';
import { MGMT_SCOPES, mint } from './test/helpers';

// Adobe's shapes, as documented:
// - the secrets path takes the numeric AMS org id, the number in the Developer Console URL
//   https://developer.adobe.com/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/oauthservertoserver
//   (AdobeDocs/adobe-dev-console ServerToServerAuthentication/implementation.md: `23294`; aio-lib-console spec/api.json:
//   orgId "AMS org id");
// - the IMS org code is `<24 hex>@AdobeOrg`, a different value;
// - GET /console/organizations answers [{ id, code, name, type, role }] (aio-lib-console getOrganizations;
//   aio-cli-plugin-console `console org list` reads id, code and name from it).
const ORG_ID = /^\d+$/;
const ORG_CODE = /^[0-9A-F]{24}@AdobeOrg$/;

describe('organizations', () => {
  let emu: Emulator;
  let headers: Record<string, string>;
  beforeAll(async () => {
    emu = await startEmulator();
    headers = { authorization: `Bearer ${await mint(emu, { scope: MGMT_SCOPES })}`, 'x-api-key': DEFAULT_CLIENT_ID };
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('gives the default client a numeric AMS org id and an …@AdobeOrg org code', () => {
    expect(DEFAULT_ORG_ID).toMatch(ORG_ID);
    expect(DEFAULT_ORG_CODE).toMatch(ORG_CODE);
    const c = emu.client(DEFAULT_CLIENT_ID)!;
    expect(c).toMatchObject({
      orgId: DEFAULT_ORG_ID,
      orgCode: DEFAULT_ORG_CODE,
      orgName: DEFAULT_ORG_NAME,
      credentialId: DEFAULT_CREDENTIAL_ID,
    });
  });

  it('addClient() returns both ids, random or given', () => {
    const random = emu.addClient();
    expect(random.orgId).toMatch(ORG_ID);
    expect(random.orgCode).toMatch(ORG_CODE);
    expect(random.orgName).toEqual(expect.any(String));
    expect(random.orgId).not.toBe(DEFAULT_ORG_ID);

    const given = emu.addClient({ orgId: '31337', orgCode: 'ABCDEF0123456789ABCDEF01@AdobeOrg', orgName: 'Acme' });
    expect(given).toMatchObject({ orgId: '31337', orgCode: 'ABCDEF0123456789ABCDEF01@AdobeOrg', orgName: 'Acme' });
    // a second credential in the same org shares its code and name
    const sibling = emu.addClient({ orgId: '31337' });
    expect(sibling).toMatchObject({ orgId: '31337', orgCode: 'ABCDEF0123456789ABCDEF01@AdobeOrg', orgName: 'Acme' });
    // ...and so does one named by the org code alone
    expect(emu.addClient({ orgCode: 'ABCDEF0123456789ABCDEF01@AdobeOrg' }).orgId).toBe('31337');
  });

  it('refuses an org code where the numeric id belongs, and contradictory org details', () => {
    expect(() => emu.addClient({ orgId: 'ABCDEF0123456789ABCDEF01@AdobeOrg' })).toThrow(TypeError);
    expect(() => emu.addClient({ orgId: '12a' })).toThrow(TypeError);
    expect(() => emu.addClient({ orgCode: '12345' })).toThrow(TypeError);
    expect(() => emu.addClient({ orgId: DEFAULT_ORG_ID, orgCode: 'FFFFFFFFFFFFFFFFFFFFFFFF@AdobeOrg' })).toThrow(/org/);
  });

  it('GET /console/organizations answers exactly [{ id, code, name, type, role }] for the caller’s org', async () => {
    const res = await fetch(`${emu.url}/console/organizations`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json;charset=utf-8');
    const body = (await res.json()) as Array<Record<string, unknown>>;
    expect(body).toHaveLength(1);
    expect(Object.keys(body[0]!)).toEqual(['id', 'code', 'name', 'type', 'role']);
    expect(body[0]).toEqual({ id: DEFAULT_ORG_ID, code: DEFAULT_ORG_CODE, name: DEFAULT_ORG_NAME, type: 'entp', role: expect.any(String) });
  });

  it('another credential sees its own org, not the default one', async () => {
    const other = emu.addClient({ orgName: 'Other org' });
    const token = await mint(emu, { clientId: other.clientId, clientSecret: other.clientSecret, scope: MGMT_SCOPES });
    const res = await fetch(`${emu.url}/console/organizations`, {
      headers: { authorization: `Bearer ${token}`, 'x-api-key': other.clientId },
    });
    expect(await res.json()).toEqual([{ id: other.orgId, code: other.orgCode, name: 'Other org', type: 'entp', role: expect.any(String) }]);
  });

  it('needs the gateway headers and the read_organizations scope', async () => {
    const none = await fetch(`${emu.url}/console/organizations`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error_code: '401013', message: 'Oauth token is not valid' });
    const noKey = await fetch(`${emu.url}/console/organizations`, { headers: { authorization: headers['authorization']! } });
    expect(noKey.status).toBe(403);
    const narrow = await mint(emu, { scope: 'openid,AdobeID' });
    const noScope = await fetch(`${emu.url}/console/organizations`, {
      headers: { authorization: `Bearer ${narrow}`, 'x-api-key': DEFAULT_CLIENT_ID },
    });
    expect(noScope.status).toBe(403);
  });

  it('the secrets endpoints take the numeric id; an org code in the path is an unknown org (404)', async () => {
    const byId = await fetch(`${emu.url}/console/organizations/${DEFAULT_ORG_ID}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`, {
      headers,
    });
    expect(byId.status).toBe(200);
    const byCode = await fetch(
      `${emu.url}/console/organizations/${encodeURIComponent(DEFAULT_ORG_CODE)}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`,
      { headers },
    );
    expect(byCode.status).toBe(404);
    const raw = await fetch(`${emu.url}/console/organizations/${DEFAULT_ORG_CODE}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`, {
      headers,
    });
    expect(raw.status).toBe(404);
  });
});

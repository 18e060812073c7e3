import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CREDENTIAL_ID, DEFAULT_ORG_ID, startEmulator } from './index';
import type { Emulator } from './index';
import { claims, MGMT_SCOPES, mint, tokenRequest } from './test/helpers';

interface SecretsList {
  client_id: string;
  client_secrets: Array<{
    expires_at: string;
    expires_at_str: string;
    created_at: string;
    created_at_str: string;
    uuid: string;
    secret_usages: Array<{ last_used_at: string; grant_type: string }> | null;
  }>;
}

// Adobe's documented shapes (AdobeDocs/adobe-dev-console, ServerToServerAuthentication/IMS.md, "List all client
// secrets" and "Add client secret to credential"): uuids are 32 hex digits without dashes ("11ede8ab42f138f3abe335d886a407fb"),
// times are epoch milliseconds as strings ("1683005777000"), and each has a `_str` twin like
// "Tue, May 2 2023 05:36:17.000 UTC" (day of month unpadded, UTC, milliseconds).
const UUID = /^[0-9a-f]{32}$/;
const MS = /^\d+$/;
const LIST_ITEM_KEYS = ['expires_at', 'expires_at_str', 'created_at', 'created_at_str', 'uuid', 'secret_usages'];
const ADDED_KEYS = ['expires_at', 'expires_at_str', 'client_secret', 'created_at', 'created_at_str', 'uuid', 'secret_usages'];

/** Adobe's `created_at_str` for an epoch-ms string, written independently of the emulator. */
function adobeTimeString(ms: string): string {
  const d = new Date(Number(ms));
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
  return `${day}, ${month} ${d.getUTCDate()} ${d.getUTCFullYear()} ${time} UTC`;
}

describe('I/O Management API secrets endpoints', () => {
  let emu: Emulator;
  let headers: Record<string, string>;
  let base: string;
  beforeAll(async () => {
    const start = Date.now();
    emu = await startEmulator({ secretActivationDelayMs: 300, clock: () => start }); // frozen: only advance() moves time
    headers = { authorization: `Bearer ${await mint(emu, { scope: MGMT_SCOPES })}`, 'x-api-key': DEFAULT_CLIENT_ID };
    base = `${emu.url}/console/organizations/${DEFAULT_ORG_ID}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`;
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
    const before = emu.now();
    await mint(emu);
    const body = await list();
    expect(body.client_id).toBe(DEFAULT_CLIENT_ID);
    expect(body.client_secrets).toHaveLength(1);
    const s = body.client_secrets[0]!;
    expect(Object.keys(s)).toEqual(LIST_ITEM_KEYS);
    expect(s).toEqual({
      expires_at: 'PERMANENT',
      expires_at_str: 'PERMANENT',
      created_at: expect.stringMatching(MS),
      created_at_str: adobeTimeString(s.created_at),
      uuid: expect.stringMatching(UUID),
      secret_usages: [{ last_used_at: expect.stringMatching(MS), grant_type: 'client_credentials' }],
    });
    expect(Object.keys(s.secret_usages![0]!)).toEqual(['last_used_at', 'grant_type']);
    expect(Number(s.secret_usages![0]!.last_used_at)).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(body)).not.toContain(DEFAULT_CLIENT_SECRET);
  });

  it('adds a secret that works after the activation delay, refuses a third, deletes', async () => {
    const res = await fetch(base, { method: 'POST', headers });
    expect(res.status).toBe(201);
    const added = (await res.json()) as Record<string, string>;
    expect(Object.keys(added)).toEqual(ADDED_KEYS);
    expect(added).toEqual({
      expires_at: 'PERMANENT',
      expires_at_str: 'PERMANENT',
      client_secret: expect.stringMatching(/^p8e-/),
      created_at: expect.stringMatching(MS),
      created_at_str: adobeTimeString(added['created_at']!),
      uuid: expect.stringMatching(UUID),
      secret_usages: null,
    });
    expect(emu.client(DEFAULT_CLIENT_ID)!.clientSecrets).toEqual([DEFAULT_CLIENT_SECRET, added['client_secret']]);

    const early = await tokenRequest(emu, {
      grant_type: 'client_credentials',
      client_id: DEFAULT_CLIENT_ID,
      client_secret: added['client_secret']!,
    });
    expect(early.body).toEqual({ error: 'invalid_client', error_description: 'invalid client_secret parameter' });
    emu.advance(300);
    const fresh = await mint(emu, { clientSecret: added['client_secret']! });
    expect(claims(fresh)).toMatchObject({ client_id: DEFAULT_CLIENT_ID, type: 'access_token' });

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

describe('last_used_at lag (an assumption: Adobe does not say how soon it moves)', () => {
  it('with lastUsedLagMs, a mint does not show in secret_usages until the lag has passed', async () => {
    const start = Date.now();
    const emu = await startEmulator({ lastUsedLagMs: 3_600_000, clock: () => start }); // frozen: only advance() moves time
    try {
      const token = await mint(emu, { scope: MGMT_SCOPES });
      const list = async (): Promise<SecretsList> => {
        const res = await fetch(`${emu.url}/console/organizations/${DEFAULT_ORG_ID}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`, {
          headers: { authorization: `Bearer ${token}`, 'x-api-key': DEFAULT_CLIENT_ID },
        });
        return (await res.json()) as SecretsList;
      };
      const body = await list();
      expect(body.client_secrets).toHaveLength(1);
      expect(body.client_secrets[0]!.secret_usages).toBeNull();
      emu.advance(3_600_000); // the lag has passed (the token, 24 h, still works)
      expect((await list()).client_secrets[0]!.secret_usages).toEqual([{ last_used_at: String(start), grant_type: 'client_credentials' }]);
    } finally {
      await emu.stop();
    }
  });

  it('refuses a negative lag', async () => {
    await expect(startEmulator({ lastUsedLagMs: -1 })).rejects.toThrow(RangeError);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CREDENTIAL_ID, DEFAULT_ORG_ID, startEmulator } from './index';
import type { Emulator } from './index';
import { claims, MGMT_SCOPES, mint, tokenRequest } from './test/helpers';

// Adobe's own example pairs (AdobeDocs/adobe-dev-console ServerToServerAuthentication/IMS.md).
const APR_25 = 1682448485000; // "Tue, Apr 25 2023 18:48:05.000 UTC"
const MAY_2 = 1683005777000; // "Tue, May 2 2023 05:36:17.000 UTC"

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.stop();
  emu = undefined;
});

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}`, 'x-api-key': DEFAULT_CLIENT_ID });
const secretsUrl = (e: Emulator): string => `${e.url}/console/organizations/${DEFAULT_ORG_ID}/credentials/${DEFAULT_CREDENTIAL_ID}/secrets`;
const FORM = { grant_type: 'client_credentials', client_id: DEFAULT_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET };

interface Listed {
  client_secrets: Array<{
    uuid: string;
    created_at: string;
    created_at_str: string;
    secret_usages: Array<{ last_used_at: string }> | null;
  }>;
}

async function listSecrets(e: Emulator, token: string): Promise<Listed> {
  return (await (await fetch(secretsUrl(e), { headers: auth(token) })).json()) as Listed;
}

describe('an injected clock', () => {
  it('sets the JWT created_at, the token expiry and the Date header, and follows the clock function', async () => {
    let t = APR_25;
    emu = await startEmulator({ clock: () => t, tokenLifetimeSeconds: 3600 });
    expect(emu.now()).toBe(APR_25);
    const r = await tokenRequest(emu, FORM);
    expect(r.headers.get('date')).toBe('Tue, 25 Apr 2023 18:48:05 GMT');
    const token = r.body['access_token'] as string;
    expect(claims(token)).toMatchObject({ created_at: String(APR_25), expires_in: '3600000' });
    const who = await fetch(`${emu.url}/api/v1/whoami`, { headers: auth(token) });
    expect(await who.json()).toMatchObject({ expiresAt: APR_25 + 3_600_000 });

    t += 3_600_000 - 1;
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers: auth(token) })).status).toBe(200);
    t += 1;
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers: auth(token) })).status).toBe(401);
  });

  it('writes secret times exactly as Adobe’s examples do', async () => {
    emu = await startEmulator({ clock: () => APR_25 });
    const token = await mint(emu, { scope: MGMT_SCOPES });
    const [initial] = (await listSecrets(emu, token)).client_secrets;
    expect(initial).toMatchObject({ created_at: '1682448485000', created_at_str: 'Tue, Apr 25 2023 18:48:05.000 UTC' });

    emu.advance(MAY_2 - APR_25); // a week later: the management token has expired, mint another
    const later = await mint(emu, { scope: MGMT_SCOPES });
    const added = (await (await fetch(secretsUrl(emu), { method: 'POST', headers: auth(later) })).json()) as Record<string, unknown>;
    expect(added).toMatchObject({ created_at: '1683005777000', created_at_str: 'Tue, May 2 2023 05:36:17.000 UTC' });
  });
});

// A frozen clock: only advance() moves time, so exact boundaries hold however slow the machine is.
const frozen = (): number => MAY_2;

describe('advance(ms)', () => {
  it('expires tokens without waiting', async () => {
    emu = await startEmulator({ clock: frozen, tokenLifetimeSeconds: 60 });
    const token = await mint(emu);
    emu.advance(59_999);
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers: auth(token) })).status).toBe(200);
    emu.advance(1);
    expect((await fetch(`${emu.url}/api/v1/whoami`, { headers: auth(token) })).status).toBe(401);
  });

  it('passes a new secret’s activation delay', async () => {
    emu = await startEmulator({ clock: frozen, secretActivationDelayMs: 30_000 });
    const token = await mint(emu, { scope: MGMT_SCOPES });
    const added = (await (await fetch(secretsUrl(emu), { method: 'POST', headers: auth(token) })).json()) as Record<string, string>;
    const form = { ...FORM, client_secret: added['client_secret']! };
    emu.advance(29_999);
    expect((await tokenRequest(emu, form)).body).toEqual({ error: 'invalid_client', error_description: 'invalid client_secret parameter' });
    emu.advance(1);
    expect((await tokenRequest(emu, form)).status).toBe(200);
  });

  it('lets a lagging last_used_at catch up', async () => {
    emu = await startEmulator({ clock: frozen, lastUsedLagMs: 60_000 });
    const token = await mint(emu, { scope: MGMT_SCOPES });
    expect((await listSecrets(emu, token)).client_secrets[0]!.secret_usages).toBeNull();
    emu.advance(59_999);
    expect((await listSecrets(emu, token)).client_secrets[0]!.secret_usages).toBeNull();
    emu.advance(1);
    expect((await listSecrets(emu, token)).client_secrets[0]!.secret_usages).toEqual([
      { last_used_at: String(MAY_2), grant_type: 'client_credentials' },
    ]);
  });

  it('moves sample-API jobs from pending to running to succeeded', async () => {
    emu = await startEmulator({ clock: frozen, jobDurationMs: 3000 });
    const token = await mint(emu);
    const res = await fetch(`${emu.url}/api/v1/jobs`, { method: 'POST', headers: auth(token), body: '{"n":1}' });
    const { statusUrl } = (await res.json()) as { statusUrl: string };
    const status = async (): Promise<unknown> =>
      ((await (await fetch(statusUrl, { headers: auth(token) })).json()) as { status: string }).status;
    expect(await status()).toBe('pending');
    emu.advance(1000);
    expect(await status()).toBe('running');
    emu.advance(1999);
    expect(await status()).toBe('running');
    emu.advance(1);
    expect(await status()).toBe('succeeded');
  });

  it('dates Retry-After from the emulator’s clock', async () => {
    emu = await startEmulator({ clock: () => APR_25 });
    emu.advance(10_000);
    emu.fault({ kind: 'status', status: 429, retryAfterDate: 30 });
    const r = await tokenRequest(emu, FORM);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe(new Date(APR_25 + 40_000).toUTCString());
    expect(r.headers.get('date')).toBe(new Date(APR_25 + 10_000).toUTCString());
  });

  it('is forward only, and reachable over the control API', async () => {
    emu = await startEmulator({ clock: () => MAY_2 });
    expect(() => emu!.advance(-1)).toThrow(RangeError);
    expect(emu.advance(500)).toBe(MAY_2 + 500);
    const res = await fetch(`${emu.url}/__emulator/advance`, { method: 'POST', body: JSON.stringify({ ms: 1500 }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, now: MAY_2 + 2000 });
    expect(emu.now()).toBe(MAY_2 + 2000);
    expect((await fetch(`${emu.url}/__emulator/advance`, { method: 'POST', body: '{"ms":-5}' })).status).toBe(400);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { createTokenProvider, ImsTokenError } from '../index';
import { rotateClientSecret } from './index';
import { clientFor, connection, expectNoSecrets, newClient, rejection, renderings } from './test/helpers';

// Leaks at the edges (issue 12 item 6): what IMS and the I/O Management API echo back reaches no message.

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.stop();
});

/** A secret with every character a form body encodes. */
const SECRET = 'p8e-Zx+9/Qa=Lm&Rt+Ee/Ww==';

/** Every way the secret may be echoed. */
function encodedSecret(): string[] {
  const form = new URLSearchParams({ s: SECRET }).toString().slice(2);
  const uri = encodeURIComponent(SECRET);
  const lower = (v: string): string => v.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return [SECRET, form, uri, lower(form), lower(uri)];
}

describe('the client secret echoed by IMS', () => {
  it('is scrubbed URL-encoded (as in the form body), in upper- and lower-case hex, from message and fields', async () => {
    const c = newClient(emu);
    const body = `grant_type=client_credentials&client_id=${c.clientId}&client_secret=${new URLSearchParams({ s: SECRET }).toString().slice(2)}&scope=openid`;
    const lower = body.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const p = createTokenProvider({ clientId: c.clientId, clientSecret: SECRET, scopes: 'openid', imsUrl: emu.url });
    try {
      for (const echoed of [body, lower, `secret ${encodeURIComponent(SECRET)} rejected`]) {
        emu.fault({ kind: 'response', status: 400, body: { error: 'invalid_request', error_description: `could not parse ${echoed}` } });
        const err = await rejection(p.getToken({ forceRefresh: true }));
        expect(ImsTokenError.is(err)).toBe(true);
        expect(err.code).toBe('IMS_BAD_RESPONSE');
        expect(err.imsErrorDescription).toContain('[redacted]');
        expectNoSecrets(renderings(err), encodedSecret());
      }
    } finally {
      await p.close();
    }
  });
});

describe('a bearer token echoed by the I/O Management API', () => {
  it('is scrubbed from the secrets client’s errors and from a rotation’s report', async () => {
    const c = newClient(emu);
    // A real IMS-shaped token (JWT) of this credential, as a gateway's error text might quote it.
    const other = createTokenProvider({ clientId: c.clientId, clientSecret: c.clientSecret, scopes: 'openid', imsUrl: emu.url });
    const { accessToken } = await other.getToken();
    await other.close();
    const echo = { error_code: '403003', message: `${accessToken} is not valid` };
    // (messages are cut to 200 characters: what would leak is the token's head)
    const heads = [accessToken, accessToken.slice(0, 40)];

    const client = clientFor(emu, c);
    try {
      emu.fault({ kind: 'response', target: 'secrets', status: 403, body: echo });
      const err = await rejection(client.listClientSecrets());
      expect(err.code).toBe('IMS_FORBIDDEN');
      expectNoSecrets(renderings(err), [...heads, c.clientSecret]);
    } finally {
      await client.close();
    }

    emu.fault({ kind: 'response', target: 'secrets', status: 403, body: echo });
    const steps: unknown[] = [];
    const err = await rejection(rotateClientSecret({ ...connection(emu, c), persist: async () => {}, onStep: (s) => steps.push(s) }));
    expect(ImsTokenError.is(err)).toBe(true);
    expectNoSecrets(renderings(err) + renderings(err.report) + JSON.stringify(steps), [...heads, c.clientSecret]);
  });
});

describe('x-debug-id', () => {
  it('is kept as visible ASCII of at most 128 characters before it reaches an error', async () => {
    const c = newClient(emu);
    const p = createTokenProvider({ clientId: c.clientId, clientSecret: c.clientSecret, scopes: 'openid', imsUrl: emu.url, maxRetries: 0 });
    try {
      emu.fault({ kind: 'status', status: 503, headers: { 'x-debug-id': `ab c\té${'x'.repeat(500)}` } });
      const err = await rejection(p.getToken());
      expect(err.code).toBe('IMS_SERVER_ERROR');
      expect(err.debugId).toBe(`abc${'x'.repeat(125)}`);
    } finally {
      await p.close();
    }
  });
});

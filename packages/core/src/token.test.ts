import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { createImsToken, decodeImsToken, deserializeImsToken, serializeImsToken } from './token';
import { redactToken } from './redact';

const jwt = (payload: object): string =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('decodeImsToken', () => {
  it("reads Adobe's claims, with created_at and expires_in as strings of milliseconds", () => {
    const c = decodeImsToken(
      jwt({
        client_id: 'cid',
        scope: 'openid,AdobeID',
        as: 'ims-na1',
        type: 'access_token',
        created_at: '1700000000000',
        expires_in: '86399000',
        user_id: 'u@techacct.adobe.com',
      }),
    );
    expect(c).toMatchObject({
      clientId: 'cid',
      scopes: ['openid', 'AdobeID'],
      authServer: 'ims-na1',
      type: 'access_token',
      createdAt: 1_700_000_000_000,
      expiresInMs: 86_399_000,
      expiresAt: 1_700_086_399_000,
      userId: 'u@techacct.adobe.com',
    });
  });

  it.each([['not-a-jwt'], ['a.b'], ['a.!!!.c'], [`x.${Buffer.from('[1]').toString('base64url')}.y`], ['']])(
    '%s → IMS_INVALID_TOKEN',
    (t) => {
      expect(() => decodeImsToken(t)).toThrow(expect.objectContaining({ code: 'IMS_INVALID_TOKEN' }));
    },
  );

  it('tolerates missing claims', () => {
    expect(decodeImsToken(jwt({}))).toMatchObject({ clientId: undefined, scopes: [], expiresAt: undefined });
  });
});

describe('the token model', () => {
  const t = createImsToken({
    accessToken: 'eyJhbGciOiJSUzI1NiJ9.secretpart.sig',
    expiresAt: 2,
    issuedAt: 1,
    scopes: ['openid'],
    clientId: 'c',
  });

  it('inspect and JSON show only 6 characters of the token', () => {
    expect(inspect(t)).not.toContain('secretpart');
    expect(JSON.stringify(t)).not.toContain('secretpart');
    expect(JSON.stringify(t)).toContain(redactToken(t.accessToken));
    expect(redactToken(t.accessToken)).toBe('eyJhbG…');
  });

  it('round-trips through the store format; junk is undefined', () => {
    const back = deserializeImsToken(JSON.parse(JSON.stringify(serializeImsToken(t))));
    expect(back?.accessToken).toBe(t.accessToken);
    expect(back?.scopes).toEqual(['openid']);
    for (const junk of [
      null,
      1,
      'x',
      {},
      { v: 2 },
      { ...serializeImsToken(t), expiresAt: 'soon' },
      { ...serializeImsToken(t), scopes: [1] },
      // a token that cannot go into an Authorization header (planted in a shared cache, say) is no token
      { ...serializeImsToken(t), accessToken: `${t.accessToken}\r\nx-injected: 1` },
      { ...serializeImsToken(t), accessToken: `${t.accessToken} x` },
      { ...serializeImsToken(t), accessToken: `${t.accessToken}\u0000` },
      { ...serializeImsToken(t), accessToken: `${t.accessToken}é` },
    ]) {
      expect(deserializeImsToken(junk)).toBeUndefined();
    }
  });
});

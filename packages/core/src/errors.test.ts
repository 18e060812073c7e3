import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './file-store';
import { MemoryStore } from './store';
import { createImsToken, serializeImsToken } from './token';
import type { FaultRule } from '@ims-token/emulator';
import { ImsTokenError } from './errors';
import type { ImsTokenErrorCode } from './errors';
import type { TokenProvider } from './provider-types';
import { captureLogger, clientOf, expectNoLeak, renderings, setup } from './test/helpers';
import type { Env } from './test/helpers';

let env: Env;
afterEach(async () => {
  await env?.cleanup();
});

const jwt = (payload: object): string =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
const valid = { access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJjbGllbnRfaWQiOiJ4In0.c2ln', token_type: 'bearer', expires_in: 86399 };

// IMS answers that must each give a precise error, never a crash or a token.
const answers: Array<[string, FaultRule, ImsTokenErrorCode, Partial<ImsTokenError>?]> = [
  [
    '400 invalid_client',
    { kind: 'response', status: 400, body: { error: 'invalid_client', error_description: 'invalid client_secret parameter' } },
    'IMS_INVALID_CLIENT',
    { status: 400, imsError: 'invalid_client', retryable: false },
  ],
  [
    '400 invalid_scope',
    { kind: 'response', status: 400, body: { error: 'invalid_scope', error_description: 'invalid scope' } },
    'IMS_INVALID_SCOPE',
    { retryable: false },
  ],
  [
    '400 unauthorized_client',
    { kind: 'response', status: 400, body: { error: 'unauthorized_client', error_description: 'client disabled' } },
    'IMS_UNAUTHORIZED_CLIENT',
  ],
  ['401 without a body', { kind: 'response', status: 401, body: '' }, 'IMS_INVALID_CLIENT', { status: 401 }],
  ['403', { kind: 'response', status: 403, body: { error: 'forbidden' } }, 'IMS_UNAUTHORIZED_CLIENT', { status: 403 }],
  [
    '429 with Retry-After',
    { kind: 'status', status: 429, retryAfter: 120, times: Infinity },
    'IMS_RATE_LIMITED',
    { retryAfterMs: 120_000, retryable: true },
  ],
  ['429 without Retry-After', { kind: 'status', status: 429, times: Infinity }, 'IMS_RATE_LIMITED', { retryAfterMs: undefined }],
  ['500', { kind: 'status', status: 500, times: Infinity }, 'IMS_SERVER_ERROR', { status: 500, retryable: true }],
  ['502 HTML page', { kind: 'html', status: 502, times: Infinity }, 'IMS_SERVER_ERROR', { status: 502 }],
  ['503', { kind: 'status', status: 503, times: Infinity }, 'IMS_SERVER_ERROR'],
  ['200 HTML page', { kind: 'html', status: 200 }, 'IMS_BAD_RESPONSE'],
  ['invalid JSON', { kind: 'malformed' }, 'IMS_BAD_RESPONSE'],
  ['JSON without access_token', { kind: 'response', status: 200, body: { token_type: 'bearer', expires_in: 86399 } }, 'IMS_BAD_RESPONSE'],
  ['token_type mac', { kind: 'response', status: 200, body: { ...valid, token_type: 'mac' } }, 'IMS_BAD_RESPONSE'],
  ['expires_in missing', { kind: 'response', status: 200, body: { ...valid, expires_in: undefined } }, 'IMS_BAD_RESPONSE'],
  ['expires_in zero', { kind: 'response', status: 200, body: { ...valid, expires_in: 0 } }, 'IMS_BAD_RESPONSE'],
  ['expires_in negative', { kind: 'response', status: 200, body: { ...valid, expires_in: -5 } }, 'IMS_BAD_RESPONSE'],
  ['expires_in absurd', { kind: 'response', status: 200, body: { ...valid, expires_in: 10 ** 12 } }, 'IMS_BAD_RESPONSE'],
  ['expires_in a string', { kind: 'response', status: 200, body: { ...valid, expires_in: '86399' } }, 'IMS_BAD_RESPONSE'],
  ['expires_in 0.001 (expired on arrival)', { kind: 'response', status: 200, body: { ...valid, expires_in: 0.001 } }, 'IMS_BAD_RESPONSE'],
  ['expires_in 0.9, below the 1 s floor', { kind: 'response', status: 200, body: { ...valid, expires_in: 0.9 } }, 'IMS_BAD_RESPONSE'],
  [
    'an access_token with CR/LF (header injection)',
    { kind: 'response', status: 200, body: { ...valid, access_token: `${valid.access_token}\r\nx-injected: 1` } },
    'IMS_BAD_RESPONSE',
  ],
  [
    'an access_token with a space',
    { kind: 'response', status: 200, body: { ...valid, access_token: `${valid.access_token} x` } },
    'IMS_BAD_RESPONSE',
  ],
  [
    'an access_token with a NUL',
    { kind: 'response', status: 200, body: { ...valid, access_token: `${valid.access_token}\u0000` } },
    'IMS_BAD_RESPONSE',
  ],
  [
    'an access_token with non-ASCII',
    { kind: 'response', status: 200, body: { ...valid, access_token: `${valid.access_token}é` } },
    'IMS_BAD_RESPONSE',
  ],
  [
    'an access_token whose claims say it lives 500 ms',
    { kind: 'response', status: 200, body: { ...valid, access_token: jwt({ client_id: 'x', created_at: '1', expires_in: '500' }) } },
    'IMS_BAD_RESPONSE',
  ],
  ['a JSON array', { kind: 'response', status: 200, body: '[1,2]' }, 'IMS_BAD_RESPONSE'],
  ['404', { kind: 'response', status: 404, body: 'not found' }, 'IMS_BAD_RESPONSE', { status: 404 }],
  [
    'a body over 256 KiB',
    { kind: 'response', status: 200, body: `{"access_token":"${'x'.repeat(300_000)}"}` },
    'IMS_BAD_RESPONSE',
    { status: 200 },
  ],
  ['socket reset', { kind: 'reset', times: Infinity }, 'IMS_NETWORK', { retryable: true }],
  ['socket reset mid-body', { kind: 'reset-mid-body', times: Infinity }, 'IMS_NETWORK'],
];

describe('every bad IMS answer is a precise ImsTokenError', () => {
  it.each(answers)('%s → %s', async (_name, rule, code, fields) => {
    env = await setup();
    const log = captureLogger();
    env.emu.fault({ ...rule, headers: { 'x-debug-id': 'dbg-123', ...(rule.headers ?? {}) } });
    const p = env.make({ maxRetries: 1, logger: log.logger });
    const err = await p.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ImsTokenError.is(err)).toBe(true);
    const e = err as ImsTokenError;
    expect(e.code).toBe(code);
    expect(e.hint.length).toBeGreaterThan(10);
    if (fields) expect(e).toMatchObject(fields);
    expect(p.status().state).toBe('failed');
    expectNoLeak(renderings(e) + log.lines.join('\n'), [env.secret, valid.access_token]);
  });

  it('keeps the x-debug-id of the IMS answer', async () => {
    env = await setup();
    env.emu.fault({
      kind: 'response',
      status: 400,
      body: { error: 'invalid_client', error_description: 'invalid client_secret parameter' },
      headers: { 'x-debug-id': 'dbg-xyz' },
    });
    await expect(env.make().getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT', debugId: 'dbg-xyz' });
  });

  it('scrubs the secret if IMS ever echoes it back', async () => {
    env = await setup();
    env.emu.fault({ kind: 'response', status: 400, body: { error: 'invalid_client', error_description: `bad secret ${'x'}` } });
    const p = env.make();
    env.emu.clearFaults();
    env.emu.fault({ kind: 'response', status: 400, body: { error: 'invalid_client', error_description: `secret ${env.secret} rejected` } });
    const e = (await p.getToken().catch((x: unknown) => x)) as ImsTokenError;
    expect(e.imsErrorDescription).toContain('[redacted]');
    expectNoLeak(renderings(e), [env.secret]);
  });

  it('the real emulator rejects a wrong secret, a wrong client id and an unknown scope', async () => {
    env = await setup();
    env.emu.client(env.clientId)!.allowedScopes = ['openid', 'AdobeID', 'firefly_api'];
    await expect(env.make({ clientSecret: 'not-the-secret' }).getToken()).rejects.toMatchObject({
      code: 'IMS_INVALID_CLIENT',
      imsErrorDescription: 'invalid client_secret parameter',
    });
    await expect(env.make({ clientId: 'nobody' }).getToken()).rejects.toMatchObject({
      code: 'IMS_INVALID_CLIENT',
      imsErrorDescription: 'invalid client_id parameter',
    });
    await expect(env.make({ scopes: 'openid,not_a_scope' }).getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_SCOPE' });
    env.emu.client(env.clientId)!.disabled = true;
    await expect(env.make().getToken()).rejects.toMatchObject({ code: 'IMS_UNAUTHORIZED_CLIENT' });
  });
});

describe('the hint of IMS_INVALID_CLIENT says which value to check', () => {
  it('a wrong client id: check IMS_CLIENT_ID against the Client ID in Developer Console, not the secret', async () => {
    env = await setup();
    const e = (await env
      .make({ clientId: 'nobody' })
      .getToken()
      .catch((x: unknown) => x)) as ImsTokenError;
    expect(e).toMatchObject({ code: 'IMS_INVALID_CLIENT', status: 400, imsErrorDescription: 'invalid client_id parameter' });
    expect(e.hint).toContain('IMS_CLIENT_ID');
    expect(e.hint).toContain('Client ID');
    expect(e.hint).not.toMatch(/rotated|IMS_CLIENT_SECRET/);
  });

  it('a wrong secret: the secret hint', async () => {
    env = await setup();
    const e = (await env
      .make({ clientSecret: 'not-the-secret' })
      .getToken()
      .catch((x: unknown) => x)) as ImsTokenError;
    expect(e).toMatchObject({ code: 'IMS_INVALID_CLIENT', status: 400, imsErrorDescription: 'invalid client_secret parameter' });
    expect(e.hint).toContain('IMS_CLIENT_SECRET');
  });

  // Adobe documents the shape of the error, not every text: only `client_id` in the description is relied on.
  it.each([
    ['Client_ID not found', true],
    ['unknown client_id', true],
    ['', false],
    ['something IMS never said before', false],
  ])('description %j → the client-id hint: %s', async (description, clientIdHint) => {
    env = await setup();
    env.emu.fault({
      kind: 'response',
      status: 400,
      body: { error: 'invalid_client', ...(description ? { error_description: description } : {}) },
    });
    const e = (await env
      .make()
      .getToken()
      .catch((x: unknown) => x)) as ImsTokenError;
    expect(e.code).toBe('IMS_INVALID_CLIENT');
    if (clientIdHint) expect(e.hint).not.toMatch(/rotated|IMS_CLIENT_SECRET/);
    else expect(e.hint).toMatch(/IMS_CLIENT_SECRET.*IMS_CLIENT_ID|IMS_CLIENT_ID.*IMS_CLIENT_SECRET/); // the safe fallback names both
  });
});

describe('a bad token answer is never cached, shared or handed out', () => {
  it('expires_in 0.001: IMS_BAD_RESPONSE, nothing stored, and the next good answer is used', async () => {
    env = await setup();
    const store = new MemoryStore();
    const p = env.make({ store, maxRetries: 0 });
    env.emu.fault({ kind: 'response', status: 200, body: { ...valid, expires_in: 0.001 } });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_BAD_RESPONSE' });
    expect(await store.get(p.cacheKey)).toBeUndefined();
    const t = await p.getToken();
    expect(t.expiresAt - t.issuedAt).toBe(86_399_000);
    expect(await p.getToken()).toBe(t);
  });

  /**
   * An IMS stand-in on a clock the test moves: `answer(n)` runs as the n-th request arrives (it may move the clock)
   * and returns the token answer. Gives a provider on that clock, its MemoryStore, and a count of requests.
   */
  async function lateIms(
    answer: (n: number, clock: { now: number }) => object,
  ): Promise<{ clock: { now: number }; requests: () => number; provider: TokenProvider; store: MemoryStore; close: () => void }> {
    const e = (env = await setup());
    const clock = { now: Date.now() };
    let n = 0;
    const ims = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = answer(++n, clock);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => ims.listen(0, '127.0.0.1', r));
    const store = new MemoryStore({ clock: () => clock.now });
    const imsUrl = `http://127.0.0.1:${(ims.address() as AddressInfo).port}`;
    const provider = e.make({ imsUrl, clock: () => clock.now, store, maxRetries: 0 });
    const close = (): void => {
      ims.closeAllConnections();
      ims.close();
    };
    return { clock, requests: () => n, provider, store, close };
  }

  it('a token that arrives past its serving window (twice) is IMS_BAD_RESPONSE and is not stored', async () => {
    // a valid 10 s token, but only after 9.8 s (of the test's clock) went by
    const ims = await lateIms((_, clock) => {
      clock.now += 9_800;
      return { ...valid, expires_in: 10 };
    });
    try {
      await expect(ims.provider.getToken()).rejects.toMatchObject({ code: 'IMS_BAD_RESPONSE' });
      expect(await ims.store.get(ims.provider.cacheKey)).toBeUndefined();
      expect(ims.provider.status()).toMatchObject({ state: 'failed', lastError: { code: 'IMS_BAD_RESPONSE' } });
      expect(ims.requests()).toBe(2); // a late answer is asked once more (below); late again, it is an error
    } finally {
      ims.close();
    }
  });

  it('a token that arrives late once (the clock jumped 7 days during the request: a machine resumed) is asked for again and served', async () => {
    const ims = await lateIms((n, clock) => {
      if (n === 1) clock.now += 7 * 86_400_000;
      return valid;
    });
    try {
      const t = await ims.provider.getToken();
      expect(ims.requests()).toBe(2);
      expect(t.issuedAt).toBe(ims.clock.now);
      expect((await ims.store.get(ims.provider.cacheKey))?.accessToken).toBe(t.accessToken);
      expect(ims.provider.status().state).toBe('valid');
    } finally {
      ims.close();
    }
  });

  it('a token planted in a shared cache with a CR/LF in it is a miss, replaced by a good one', async () => {
    env = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'ims-bad-'));
    try {
      const store = new FileStore({ dir });
      const p = env.make({ store });
      const planted = `${valid.access_token}\r\nx-injected: 1`;
      await writeFile(
        store.pathFor(p.cacheKey),
        JSON.stringify({
          ...serializeImsToken(
            createImsToken({
              accessToken: 'placeholder',
              expiresAt: Date.now() + 3_600_000,
              issuedAt: Date.now(),
              scopes: ['openid', 'AdobeID', 'firefly_api'],
              clientId: env.clientId,
            }),
          ),
          accessToken: planted,
        }),
        { mode: 0o600 },
      );
      const h = await p.getAuthHeaders();
      expect(h.authorization).not.toContain('\n');
      expect(env.emu.stats.tokensMinted).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('retries', () => {
  it('retries 5xx, 429, resets and malformed answers is not retried', async () => {
    env = await setup();
    env.emu.fault({ kind: 'status', status: 503, times: 2 });
    env.emu.fault({ kind: 'reset' });
    const p = env.make({ maxRetries: 3 });
    expect(clientOf(await p.getToken())).toBe(env.clientId);
    expect(env.emu.stats.tokenRequests).toBe(4);
    expect(p.status().counters.imsRequests).toBe(4);
  });

  it('gives up after maxRetries', async () => {
    env = await setup();
    env.emu.fault({ kind: 'status', status: 500, times: Infinity });
    await expect(env.make({ maxRetries: 2 }).getToken()).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });
    expect(env.emu.stats.tokenRequests).toBe(3);
  });

  it('honours Retry-After: asks again when it has passed, not before', async () => {
    env = await setup();
    env.emu.fault({ kind: 'status', status: 429, retryAfter: 1 });
    let retrying: (delay: unknown) => void = () => {};
    const waiting = new Promise<unknown>((resolve) => (retrying = resolve));
    const log = captureLogger();
    const logger = { ...log.logger, debug: (obj: object, msg?: string): void => (msg?.includes('retrying') ? retrying(obj) : undefined) };
    const p = env.make({ logger, retryBaseDelayMs: 1 });
    // The wait between tries is our own timer: fake it (the emulator keeps the real timers it captured at load).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const token = p.getToken();
      expect(await waiting).toMatchObject({ code: 'IMS_RATE_LIMITED', attempt: 1, delayMs: 1000 }); // the wait is armed
      await vi.advanceTimersByTimeAsync(999);
      expect(env.emu.stats.tokenRequests).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(clientOf(await token)).toBe(env.clientId);
      expect(env.emu.stats.tokenRequests).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not wait out a Retry-After longer than retryMaxDelayMs', async () => {
    env = await setup();
    env.emu.fault({ kind: 'status', status: 429, retryAfter: 3600, times: Infinity });
    const p = env.make({ retryMaxDelayMs: 5_000 });
    const e = await p.getToken().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'IMS_RATE_LIMITED', retryAfterMs: 3_600_000 });
    expect(env.emu.stats.tokenRequests).toBe(1);
    expect(p.status()).toMatchObject({ state: 'failed', lastError: { code: 'IMS_RATE_LIMITED' } });
  });

  it('never retries invalid_client or invalid_scope', async () => {
    env = await setup();
    await expect(env.make({ clientSecret: 'wrong', maxRetries: 5 }).getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(1);
  });

  it('times out a response that never ends', async () => {
    env = await setup();
    env.emu.fault({ kind: 'hang', times: Infinity });
    const started = Date.now();
    await expect(env.make({ timeoutMs: 200, maxRetries: 1 }).getToken()).rejects.toMatchObject({ code: 'IMS_TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(env.emu.stats.tokenRequests).toBe(2);
  });

  it('reports a refused connection as IMS_NETWORK', async () => {
    env = await setup();
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address() as { port: number };
        s.close(() => resolve(a.port));
      });
    });
    const e = (await env
      .make({ imsUrl: `http://127.0.0.1:${port}`, maxRetries: 1 })
      .getToken()
      .catch((x: unknown) => x)) as ImsTokenError;
    expect(e.code).toBe('IMS_NETWORK');
    expect(e.message).toContain('ECONNREFUSED');
    expectNoLeak(renderings(e), [env.secret]);
  });
});

describe('negative cache', () => {
  it('does not call IMS again for a while after a hard rejection', async () => {
    env = await setup();
    const p = env.make({ clientSecret: 'wrong-secret' });
    for (let i = 0; i < 5; i++) await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(1);
    expect(p.status().counters.negativeCacheHits).toBe(4);
  });

  it('calls IMS again at once when the secret changes', async () => {
    env = await setup();
    const p = env.make({ clientSecret: 'wrong-secret' });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    p.setSecrets([env.secret]);
    expect(clientOf(await p.getToken())).toBe(env.clientId);
  });

  it('calls IMS again after negativeCacheMs', async () => {
    env = await setup();
    let now = Date.now();
    const p = env.make({ clientSecret: 'wrong-secret', clock: () => now, negativeCacheMs: 1_000 });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    now += 1_001;
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(2);
  });
});

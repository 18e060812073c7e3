/**
 * @ims-token/otel over real core and the emulator: what a user's SDK receives when tokens are minted, fail,
 * fail over, are invalidated by 401s and come from a store. Only OpenTelemetry's in-memory ends are test doubles.
 */
import { createTokenProvider, MemoryStore } from '@ims-token/core';
import type { ImsToken, TokenProvider, TokenProviderOptions, TokenStore } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { expectNoLeak } from '@ims-token/test-kit';
import { SpanStatusCode } from '@opentelemetry/api';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, METRIC } from './index';
import { startOtel } from './test/harness';
import type { Otel } from './test/harness';

const SCOPES = ['openid', 'AdobeID'];
let emu: Emulator;
let now = Date.parse('2026-01-01T00:00:00Z');
let otel: Otel | undefined;
const providers: TokenProvider[] = [];

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now });
});
afterAll(() => emu.stop());
afterEach(async () => {
  await otel?.shutdown();
  otel = undefined;
  await Promise.all(providers.splice(0).map((p) => p.close()));
  emu.clearFaults();
  emu.setTokenLifetime(86399);
});

/** A fresh client (so its series are its own) and a provider on it, on the emulator's clock, with 1 ms back-off. */
function provider(overrides: Partial<TokenProviderOptions> = {}): { p: TokenProvider; clientId: string; secret: string } {
  const c = emu.addClient();
  const p = createTokenProvider({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    scopes: SCOPES,
    imsUrl: emu.url,
    clock: () => now,
    retryBaseDelayMs: 1,
    ...overrides,
  });
  providers.push(p);
  return { p, clientId: c.clientId, secret: c.clientSecret };
}

describe('a cold token, then cached ones', () => {
  it('counts one successful mint, its duration and one IMS request; getToken hits and misses; the token life and secret', async () => {
    otel = startOtel();
    const { p, clientId, secret } = provider();
    const cred = { [ATTR.clientId]: clientId, [ATTR.scopes]: 'AdobeID,openid' };
    const token = await p.getToken();
    await p.getToken();
    await p.getToken();

    expect(await otel.points(METRIC.mints, cred)).toEqual([
      { attributes: { ...cred, [ATTR.outcome]: 'success', [ATTR.mintReason]: 'cold' }, value: 1 },
    ]);
    const [duration] = await otel.points(METRIC.mintDuration, cred);
    expect(duration).toMatchObject({ count: 1 });
    expect(duration!.value).toBeGreaterThan(0);
    expect(await otel.points(METRIC.imsRequestDuration, cred)).toEqual([
      { attributes: { ...cred, [ATTR.httpStatus]: 200 }, value: expect.any(Number), count: 1 },
    ]);
    expect(await otel.total(METRIC.getTokenCalls, { ...cred, [ATTR.cacheResult]: 'miss' })).toBe(1);
    expect(await otel.total(METRIC.getTokenCalls, { ...cred, [ATTR.cacheResult]: 'hit' })).toBe(2);
    const lifetime = (token.expiresAt - token.issuedAt) / 1000;
    expect(await otel.points(METRIC.lifetime, cred)).toEqual([{ attributes: cred, value: lifetime }]);
    expect(await otel.points(METRIC.secretIndex, cred)).toEqual([{ attributes: cred, value: 0 }]);

    now += 600_000; // ten minutes on the provider's clock: the gauge follows it
    expect(await otel.points(METRIC.remainingLife, cred)).toEqual([{ attributes: cred, value: lifetime - 600 }]);
    expectNoLeak(await otel.dump(), [token.accessToken, secret]);
  });

  it('one ims_token.mint span with the IMS attempt as its child HTTP client span', async () => {
    otel = startOtel();
    const { p, clientId, secret } = provider();
    const token = await p.getToken();
    const spans = otel.spans();
    const mint = spans.find((s) => s.name === 'ims_token.mint')!;
    const post = spans.find((s) => s.name === 'POST')!;
    expect(mint.attributes).toMatchObject({ [ATTR.clientId]: clientId, [ATTR.scopes]: 'AdobeID,openid', [ATTR.mintReason]: 'cold' });
    expect(mint.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(post.parentSpanContext?.spanId).toBe(mint.spanContext().spanId);
    expect(post.attributes).toMatchObject({
      [ATTR.httpMethod]: 'POST',
      [ATTR.httpStatus]: 200,
      [ATTR.urlFull]: `${emu.url}/ims/token/v3`,
      [ATTR.debugId]: expect.any(String),
    });
    expectNoLeak(await otel.dump(), [token.accessToken, secret]);
  });
});

describe('IMS failing', () => {
  it('retried 5xx: one successful mint, three IMS attempts (two 500s), the retries as resend counts', async () => {
    otel = startOtel();
    const { p, clientId } = provider();
    const cred = { [ATTR.clientId]: clientId };
    emu.fault({ kind: 'status', status: 500, times: 2 });
    await p.getToken();
    expect(await otel.total(METRIC.mints, { ...cred, [ATTR.outcome]: 'success' })).toBe(1);
    expect(await otel.total(METRIC.mints, { ...cred, [ATTR.outcome]: 'failure' })).toBe(0);
    expect(await otel.total(METRIC.imsRequestDuration, { ...cred, [ATTR.httpStatus]: 500 })).toBe(2);
    expect(await otel.total(METRIC.imsRequestDuration, { ...cred, [ATTR.httpStatus]: 200 })).toBe(1);
    const posts = otel.spans().filter((s) => s.name === 'POST');
    expect(posts.map((s) => s.attributes[ATTR.httpResendCount])).toEqual([undefined, 1, 2]);
    expect(posts.filter((s) => s.status.code === SpanStatusCode.ERROR)).toHaveLength(2);
  });

  it('a wrong secret: a failed mint with error.type IMS_INVALID_CLIENT, on the counter, the histogram and the span', async () => {
    otel = startOtel();
    const { p, clientId, secret } = provider({ clientSecret: 'wrong-secret-value' });
    const err = await p.getToken().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    const failed = { [ATTR.clientId]: clientId, [ATTR.outcome]: 'failure', [ATTR.errorType]: 'IMS_INVALID_CLIENT' };
    expect(await otel.total(METRIC.mints, failed)).toBe(1);
    expect(await otel.total(METRIC.mintDuration, failed)).toBe(1);
    const mint = otel.spans().find((s) => s.name === 'ims_token.mint')!;
    expect(mint.status).toEqual({ code: SpanStatusCode.ERROR, message: 'IMS_INVALID_CLIENT' });
    expect(mint.attributes[ATTR.errorType]).toBe('IMS_INVALID_CLIENT');
    expectNoLeak(await otel.dump(), ['wrong-secret-value', secret]);
  });

  it('two secrets, the first rejected: one failover 0 → 1, and the secret index gauge shows 1', async () => {
    otel = startOtel();
    const c = emu.addClient();
    const { p } = provider({ clientId: c.clientId, clientSecret: ['not-the-secret', c.clientSecret] });
    await p.getToken();
    const cred = { [ATTR.clientId]: c.clientId };
    expect(await otel.points(METRIC.failovers, cred)).toEqual([
      { attributes: { ...cred, [ATTR.scopes]: 'AdobeID,openid', [ATTR.fromIndex]: 0, [ATTR.toIndex]: 1 }, value: 1 },
    ]);
    expect(await otel.total(METRIC.secretIndex, cred)).toBe(1);
  });

  it('a background refresh that fails while the token lives: a refresh failure, and the token keeps being served', async () => {
    otel = startOtel();
    emu.setTokenLifetime(1000);
    const { p, clientId } = provider({ maxRetries: 0, minRemainingMs: 5_000, refreshWindowMs: 200_000 });
    const cred = { [ATTR.clientId]: clientId };
    const first = await p.getToken();
    now += 960_000; // inside the refresh window, 40 s of life left (still served: more than minRemainingMs)
    emu.fault({ kind: 'status', status: 503, times: Infinity });
    expect((await p.getToken()).accessToken).toBe(first.accessToken);
    await expect.poll(() => otel!.total(METRIC.refreshFailures, cred)).toBeGreaterThanOrEqual(1);
    expect(await otel.points(METRIC.refreshFailures, cred)).toEqual([
      { attributes: { ...cred, [ATTR.scopes]: 'AdobeID,openid', [ATTR.errorType]: 'IMS_SERVER_ERROR' }, value: expect.any(Number) },
    ]);
    expect(
      await otel.total(METRIC.mints, { ...cred, [ATTR.outcome]: 'failure', [ATTR.mintReason]: 'refresh-ahead' }),
    ).toBeGreaterThanOrEqual(1);
    const [remaining] = await otel.points(METRIC.remainingLife, cred);
    expect(remaining!.value).toBe(40);
  });
});

describe('401s and stores', () => {
  it('401-driven invalidations by verdict: the first drops the token (refresh), a late one for it is stale', async () => {
    otel = startOtel();
    const { p, clientId } = provider();
    const cred = { [ATTR.clientId]: clientId };
    const old = await p.getToken();
    expect(await p.invalidate(old.accessToken)).toBe(true);
    await p.getToken();
    expect(await p.invalidate(old.accessToken)).toBe(true);
    expect(await otel.total(METRIC.invalidations, { ...cred, [ATTR.verdict]: 'refresh' })).toBe(1);
    expect(await otel.total(METRIC.invalidations, { ...cred, [ATTR.verdict]: 'stale' })).toBe(1);
    expect(await otel.total(METRIC.mints, { ...cred, [ATTR.mintReason]: 'invalidated' })).toBe(1);
  });

  it('store calls: their latency by operation and store; a store that throws counts as a store error', async () => {
    otel = startOtel();
    class FlakyStore extends MemoryStore {
      override async get(_key: string): Promise<ImsToken | undefined> {
        throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      }
    }
    const { p, clientId } = provider({ store: new FlakyStore() as TokenStore });
    await p.getToken();
    const cred = { [ATTR.clientId]: clientId };
    expect(await otel.points(METRIC.storeErrors, cred)).toEqual([
      {
        attributes: expect.objectContaining({
          [ATTR.storeOperation]: 'get',
          [ATTR.storeName]: 'FlakyStore',
          [ATTR.outcome]: 'failure',
          [ATTR.errorType]: 'ECONNREFUSED',
        }),
        value: 1,
      },
    ]);
    expect(await otel.total(METRIC.storeDuration, { ...cred, [ATTR.storeOperation]: 'set', [ATTR.outcome]: 'success' })).toBe(1);
    const { p: q, clientId: other } = provider();
    await q.getToken();
    expect(
      await otel.total(METRIC.storeDuration, { [ATTR.clientId]: other, [ATTR.storeOperation]: 'get', [ATTR.cacheResult]: 'miss' }),
    ).toBe(1);
  });
});

describe('lifecycle', () => {
  it('a closed provider is no longer observed; disable() stops recording', async () => {
    otel = startOtel({ temporality: 'delta' }); // cumulative readers repeat a series' last value after it is gone
    const { p, clientId } = provider();
    const cred = { [ATTR.clientId]: clientId };
    await p.getToken();
    expect(await otel.points(METRIC.remainingLife, cred)).toHaveLength(1);
    await p.close();
    expect(await otel.points(METRIC.remainingLife, cred)).toHaveLength(0);

    otel.instrumentation.disable();
    const { p: q, clientId: other } = provider();
    await q.getToken();
    expect(await otel.total(METRIC.mints, { [ATTR.clientId]: other })).toBe(0);
    expect(await otel.points(METRIC.getTokenCalls, { [ATTR.clientId]: other })).toEqual([]);
  });

  it('holds providers weakly: one dropped without close() is collected and stops being observed', async () => {
    otel = startOtel({ temporality: 'delta' });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let clientId = '';
    await (async () => {
      const c = emu.addClient();
      clientId = c.clientId;
      const p = createTokenProvider({ clientId, clientSecret: c.clientSecret, scopes: SCOPES, imsUrl: emu.url, clock: () => now });
      await p.getToken();
    })();
    expect(await otel.points(METRIC.remainingLife, { [ATTR.clientId]: clientId })).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 10)); // not the emulator's: turns for the GC and the finalization registry
      gc();
    }
    expect(await otel.points(METRIC.remainingLife, { [ATTR.clientId]: clientId })).toHaveLength(0);
  });
});

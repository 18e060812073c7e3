import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './file-store';
import { MemoryStore } from './store';
import { createImsToken, serializeImsToken } from './token';
import type { ImsToken } from './token';
import { captureLogger, expectNoLeak, setup } from './test/helpers';
import type { Env } from './test/helpers';

// A store is shared (a MemoryStore between providers, a FileStore or Redis between processes): whoever can write
// to it can put any token under this provider's key. The provider serves only what IMS could have given this
// credential — the rule the CLI applies to its cache (plausibleCachedToken): same client, same scopes,
// issuedAt ≤ expiresAt, a lifetime IMS gives. Anything else is a miss, with a warning, and is replaced.

let env: Env | undefined;
let dir: string | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const SCOPES = ['openid', 'AdobeID', 'firefly_api'];

/** A real token from the emulator, for the same client but other scopes (what another provider of the fleet holds). */
async function tokenForOtherScopes(e: Env): Promise<ImsToken> {
  return e.make({ scopes: ['openid'] }).getToken();
}

function forged(
  e: Env,
  over: Partial<{ expiresAt: number; issuedAt: number; scopes: string[]; clientId: string }>,
  accessToken: string,
): ImsToken {
  const now = Date.now();
  return createImsToken({ accessToken, expiresAt: now + 3_600_000, issuedAt: now, scopes: SCOPES, clientId: e.clientId, ...over });
}

describe('a token read from a shared store', () => {
  it('for other scopes, planted in a shared MemoryStore under the provider’s key, is never served', async () => {
    env = await setup();
    const store = new MemoryStore();
    const log = captureLogger();
    const p = env.make({ store, logger: log.logger });
    const planted = await tokenForOtherScopes(env);
    await store.set(p.cacheKey, planted);
    const minted = env.emu.stats.tokensMinted;

    const t = await p.getToken();
    expect(t.accessToken).not.toBe(planted.accessToken);
    expect(t.scopes).toEqual(SCOPES);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
    expect(p.status().counters.storeHits).toBe(0);
    expect((await store.get(p.cacheKey))?.accessToken).toBe(t.accessToken); // replaced for the others
    expect(log.lines.some((l) => l.includes('ignoring a stored token'))).toBe(true);
    expectNoLeak(log.lines.join('\n'), [planted.accessToken, t.accessToken, env.secret]);
  });

  it('for other scopes, planted in a shared FileStore, is never served (nor by getAuthHeaders)', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-stored-'));
    const store = new FileStore({ dir, logger: captureLogger().logger });
    const p = env.make({ store, logger: captureLogger().logger });
    const planted = await tokenForOtherScopes(env);
    await writeFile(store.pathFor(p.cacheKey), JSON.stringify({ key: p.cacheKey, ...serializeImsToken(planted) }), { mode: 0o600 });
    expect((await store.get(p.cacheKey))?.accessToken).toBe(planted.accessToken); // the file itself is well-formed

    const h = await p.getAuthHeaders();
    expect(h.authorization).not.toBe(`Bearer ${planted.accessToken}`);
    expect((await p.getToken()).scopes).toEqual(SCOPES);
  });

  it('of another client, or with a lifetime IMS never gives, is never served', async () => {
    env = await setup();
    const store = new MemoryStore();
    const p = env.make({ store, logger: captureLogger().logger });
    const real = await env.make({ store: new MemoryStore() }).getToken();
    const now = Date.now();
    for (const bad of [
      forged(env, { clientId: 'someone-else' }, real.accessToken),
      forged(env, { issuedAt: now, expiresAt: now + 48 * 3_600_000 }, real.accessToken),
      forged(env, { issuedAt: now + 3_600_000, expiresAt: now + 1_800_000 }, real.accessToken),
    ]) {
      await store.set(p.cacheKey, bad);
      await p.invalidate(); // drop what it holds: the next call reads the store
      await store.set(p.cacheKey, bad);
      const t = await p.getToken();
      expect(t.clientId).toBe(env.clientId);
      expect(t.accessToken).not.toBe(real.accessToken);
      expect(t.expiresAt - t.issuedAt).toBeLessThanOrEqual(86_400_000);
    }
    expect(p.status().counters.storeHits).toBe(0);
  });

  it('without a logger (silent by default) is reported once through process.emitWarning, without the token', async () => {
    env = await setup();
    const store = new MemoryStore();
    const p = env.make({ store });
    const planted = await tokenForOtherScopes(env);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 2; i++) {
        await store.set(p.cacheKey, planted);
        await p.invalidate();
        await store.set(p.cacheKey, planted);
        expect((await p.getToken()).accessToken).not.toBe(planted.accessToken);
      }
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'IMS_TOKEN_IMPLAUSIBLE_STORED_TOKEN');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toContain('ignoring a stored token');
    expectNoLeak(ours[0]!.message, [planted.accessToken, env.secret]);
  });

  it('is not served by staleIfError either when IMS is down', async () => {
    env = await setup();
    const store = new MemoryStore();
    const p = env.make({ store, maxRetries: 0, logger: captureLogger().logger });
    await store.set(p.cacheKey, await tokenForOtherScopes(env));
    env.emu.fault({ kind: 'status', status: 503, times: Infinity });
    await expect(p.getToken({ staleIfError: true })).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });
  });

  it('that IMS could have given this credential is still shared (one mint for two providers)', async () => {
    env = await setup();
    const store = new MemoryStore();
    const a = await env.make({ store }).getToken();
    const b = env.make({ store });
    expect((await b.getToken()).accessToken).toBe(a.accessToken);
    expect(b.status().counters).toMatchObject({ storeHits: 1, mints: 0 });
  });
});

describe('a token IMS gives with a longer life than the 24 h it documents', () => {
  it('is kept as a 24 h token (plus slack), so the next provider sharing the store takes it instead of minting', async () => {
    // Adobe documents 24 h tokens (expires_in 86399). Should IMS one day answer 48 h, a provider that stored the
    // token as given would write what every other provider's stored-token rule refuses: a mint per provider.
    env = await setup({ tokenLifetimeSeconds: 48 * 3600 });
    const store = new MemoryStore();
    const log = captureLogger();
    const first = await env.make({ store, logger: log.logger }).getToken();
    expect(first.expiresAt - first.issuedAt).toBeLessThanOrEqual(24 * 3_600_000 + 10 * 60_000);
    expect(first.expiresAt - first.issuedAt).toBeGreaterThan(24 * 3_600_000);
    const second = await env.make({ store, logger: log.logger }).getToken();
    expect(second.accessToken).toBe(first.accessToken);
    expect(env.emu.stats.tokensMinted).toBe(1);
    expect(log.lines.filter((l) => l.includes('ignoring a stored token'))).toEqual([]);
  });
});

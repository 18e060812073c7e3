import { afterEach, describe, expect, it } from 'vitest';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIAGNOSTICS_CHANNELS, FileStore } from './index';
import type { ImsToken, TokenStore } from './index';
import { expectNoLeak, setup } from './test/helpers';
import type { Env } from './test/helpers';

/** One thing a subscriber saw: the channel, the phase (`publish` for plain channels), a copy of the message. */
interface Seen {
  channel: string;
  phase: string;
  message: Record<string, unknown>;
}

const PLAIN = ['provider', 'invalidate', 'failover', 'secretReload', 'refreshError'] as const;
const TRACED = ['mint', 'imsRequest', 'store'] as const;
const PHASES = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

/** Subscribes to every channel of core with real diagnostics_channel, as an instrumentation would. */
function listen(): { seen: Seen[]; of(name: string, phase?: string): Record<string, unknown>[]; stop(): void } {
  const seen: Seen[] = [];
  const undo: (() => void)[] = [];
  for (const key of PLAIN) {
    const name = DIAGNOSTICS_CHANNELS[key];
    const fn = (message: unknown): void => {
      seen.push({ channel: name, phase: 'publish', message: { ...(message as Record<string, unknown>) } });
    };
    subscribe(name, fn);
    undo.push(() => unsubscribe(name, fn));
  }
  for (const key of TRACED) {
    const name = DIAGNOSTICS_CHANNELS[key];
    const handlers = Object.fromEntries(
      PHASES.map((phase) => [
        phase,
        (ctx: unknown) => seen.push({ channel: name, phase, message: { ...(ctx as Record<string, unknown>) } }),
      ]),
    ) as unknown as Parameters<ReturnType<typeof tracingChannel>['subscribe']>[0];
    const tc = tracingChannel(name);
    tc.subscribe(handlers);
    undo.push(() => tc.unsubscribe(handlers));
  }
  return {
    seen,
    of: (name, phase = 'publish') => seen.filter((s) => s.channel === name && s.phase === phase).map((s) => s.message),
    stop: () => undo.forEach((u) => u()),
  };
}

let env: Env | undefined;
let dir: string | undefined;
let sub: ReturnType<typeof listen> | undefined;
afterEach(async () => {
  sub?.stop();
  sub = undefined;
  await env?.cleanup();
  env = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const SCOPES = 'AdobeID,firefly_api,openid'; // sorted, comma-joined

/** Nothing any subscriber saw holds a secret or a token. */
function expectClean(s: ReturnType<typeof listen>, secrets: readonly (string | undefined)[]): void {
  expect(s.seen.length).toBeGreaterThan(0);
  for (const { message } of s.seen) expectNoLeak(JSON.stringify(message), secrets);
}

describe('diagnostics channels', () => {
  it('names the channels of the contract', () => {
    expect(DIAGNOSTICS_CHANNELS).toEqual({
      provider: 'ims-token:provider',
      mint: 'ims-token:mint',
      imsRequest: 'ims-token:ims-request',
      store: 'ims-token:store',
      invalidate: 'ims-token:invalidate',
      failover: 'ims-token:failover',
      secretReload: 'ims-token:secret-reload',
      refreshError: 'ims-token:refresh-error',
      storeFallback: 'ims-token:store-fallback',
    });
  });

  it('traces a mint with its retries on 503s, its store calls, and the provider from creation to close', async () => {
    env = await setup();
    sub = listen();
    env.emu.fault({ kind: 'status', status: 503, times: 2 });
    const p = env.make();
    const token = await p.getToken();
    await p.getToken(); // cached: publishes nothing
    const cred = { clientId: env.clientId, scopes: SCOPES, cacheKey: p.cacheKey };

    const created = sub.of(DIAGNOSTICS_CHANNELS.provider);
    expect(created).toEqual([{ provider: p, ...cred }]);

    const mintStart = sub.of(DIAGNOSTICS_CHANNELS.mint, 'start');
    const mintEnd = sub.of(DIAGNOSTICS_CHANNELS.mint, 'asyncEnd');
    expect(mintStart).toEqual([{ ...cred, reason: 'cold', background: false }]);
    expect(mintEnd).toHaveLength(1);
    expect(mintEnd[0]!.result).toEqual({ expiresAt: token.expiresAt, issuedAt: token.issuedAt, secretIndex: 0 });
    expect(sub.of(DIAGNOSTICS_CHANNELS.mint, 'error')).toEqual([]);

    const attempts = sub.of(DIAGNOSTICS_CHANNELS.imsRequest, 'asyncEnd');
    expect(attempts.map((a) => [a.attempt, a.status, (a.error as { code?: string } | undefined)?.code])).toEqual([
      [1, 503, 'IMS_SERVER_ERROR'],
      [2, 503, 'IMS_SERVER_ERROR'],
      [3, 200, undefined],
    ]);
    for (const a of attempts) {
      expect(a).toMatchObject({ ...cred, url: `${env.emu.url}/ims/token/v3`, secretIndex: 0 });
      expect(a.debugId).toMatch(/^[\x21-\x7e]{1,128}$/);
    }
    expect(sub.of(DIAGNOSTICS_CHANNELS.imsRequest, 'error')).toHaveLength(2);

    const store = sub.of(DIAGNOSTICS_CHANNELS.store, 'asyncEnd');
    expect(store.map((s) => [s.op, s.store, s.hit])).toEqual([
      ['get', 'MemoryStore', false],
      ['set', 'MemoryStore', undefined],
    ]);
    for (const s of store) expect(s).toMatchObject(cred);

    await p.close();
    expect(sub.of(DIAGNOSTICS_CHANNELS.provider)[1]).toEqual({ provider: p, closed: true, ...cred });
    expectClean(sub, [env.secret, token.accessToken]);
  });

  it('publishes each 401 verdict and traces the mint it causes as invalidated', async () => {
    env = await setup();
    const p = env.make();
    const first = await p.getToken();
    sub = listen();
    expect(await p.invalidate(first.accessToken)).toBe(true);
    const second = await p.getToken();
    expect(await p.invalidate(first.accessToken)).toBe(true); // an old token: no mint
    expect(await p.invalidate(second.accessToken)).toBe(false); // a fresh token did not cure it: back off
    expect(await p.invalidate(second.accessToken)).toBe(false);
    const cred = { clientId: env.clientId, scopes: SCOPES, cacheKey: p.cacheKey };
    expect(sub.of(DIAGNOSTICS_CHANNELS.invalidate)).toEqual([
      { ...cred, verdict: 'refresh' },
      { ...cred, verdict: 'stale' },
      { ...cred, verdict: 'refuse', strike: true },
      { ...cred, verdict: 'refuse' },
    ]);
    expect(sub.of(DIAGNOSTICS_CHANNELS.mint, 'start')).toEqual([{ ...cred, reason: 'invalidated', background: false }]);
    expect(sub.of(DIAGNOSTICS_CHANNELS.store, 'asyncEnd').map((s) => s.op)).toEqual(['delete', 'get', 'set']);
    expectClean(sub, [env.secret, first.accessToken, second.accessToken]);
  });

  it('publishes a failover with two secrets, and which secret each attempt sent', async () => {
    env = await setup();
    sub = listen();
    const p = env.make({ clientSecret: ['p8e-an-old-deleted-secret', env.secret] });
    const token = await p.getToken();
    const cred = { clientId: env.clientId, scopes: SCOPES, cacheKey: p.cacheKey };
    expect(sub.of(DIAGNOSTICS_CHANNELS.failover)).toEqual([{ ...cred, fromIndex: 0, toIndex: 1 }]);
    const attempts = sub.of(DIAGNOSTICS_CHANNELS.imsRequest, 'asyncEnd');
    expect(attempts.map((a) => [a.secretIndex, a.attempt, a.status, (a.error as { code?: string } | undefined)?.code])).toEqual([
      [0, 1, 400, 'IMS_INVALID_CLIENT'],
      [1, 1, 200, undefined],
    ]);
    expect(sub.of(DIAGNOSTICS_CHANNELS.mint, 'asyncEnd')[0]!.result).toMatchObject({ secretIndex: 1 });
    expectClean(sub, [env.secret, 'p8e-an-old-deleted-secret', token.accessToken]);
  });

  it('publishes a secret-file reload with the source and count, never the secrets', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-dc-'));
    const file = join(dir, 'secret');
    await writeFile(file, `${env.secret}\n`, { mode: 0o600 });
    sub = listen();
    const p = env.make({ clientSecret: undefined, clientSecretFile: file });
    const first = await p.getToken();
    await writeFile(`${file}.tmp`, `p8e-an-old-deleted-secret\n${env.secret}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    const second = await p.getToken({ forceRefresh: true });
    const cred = { clientId: env.clientId, scopes: SCOPES, cacheKey: p.cacheKey };
    expect(sub.of(DIAGNOSTICS_CHANNELS.secretReload)).toEqual([
      { ...cred, source: 'file', count: 1 },
      { ...cred, source: 'file', count: 2 }, // changed on disk
      { ...cred, source: 'file', count: 2 }, // read again when IMS rejected the first of them, before failing over
    ]);
    expect(sub.of(DIAGNOSTICS_CHANNELS.mint, 'start').map((m) => m.reason)).toEqual(['cold', 'forced']);
    expectClean(sub, [env.secret, 'p8e-an-old-deleted-secret', first.accessToken, second.accessToken]);
  });

  it('publishes a failed background refresh while the current token serves, and traces it as refresh-ahead', async () => {
    let now = Date.now();
    env = await setup();
    const p = env.make({ clock: () => now, maxRetries: 0 });
    const token = await p.getToken();
    sub = listen();
    const refreshError = new Promise<void>((resolve) => subscribe(DIAGNOSTICS_CHANNELS.refreshError, () => resolve()));
    env.emu.fault({ kind: 'status', status: 503, times: Infinity });
    now = token.expiresAt - 30 * 60_000; // inside the refresh window, well before the serving margin
    expect((await p.getToken()).accessToken).toBe(token.accessToken);
    await refreshError;
    const cred = { clientId: env.clientId, scopes: SCOPES, cacheKey: p.cacheKey };
    const [message] = sub.of(DIAGNOSTICS_CHANNELS.refreshError);
    expect(message).toMatchObject({ ...cred, expiresAt: token.expiresAt });
    expect((message!.error as { code: string }).code).toBe('IMS_SERVER_ERROR');
    expect(sub.of(DIAGNOSTICS_CHANNELS.mint, 'start')).toEqual([{ ...cred, reason: 'refresh-ahead', background: true }]);
    const failed = sub.of(DIAGNOSTICS_CHANNELS.mint, 'error');
    expect((failed[0]!.error as { code: string }).code).toBe('IMS_SERVER_ERROR');
    expectClean(sub, [env.secret, token.accessToken]);
  });

  it('traces the store lock, and a store that throws with its error', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-dc-'));
    sub = listen();
    const p = env.make({ store: new FileStore({ dir }) });
    const token = await p.getToken();
    const ops = sub.of(DIAGNOSTICS_CHANNELS.store, 'asyncEnd').map((s) => [s.op, s.store, s.hit]);
    expect(ops).toEqual([
      ['get', 'FileStore', false],
      ['get', 'FileStore', false],
      ['set', 'FileStore', undefined],
      ['lock', 'FileStore', undefined],
    ]);

    class BrokenStore implements TokenStore {
      async get(): Promise<ImsToken | undefined> {
        throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      }
      async set(): Promise<void> {}
      async delete(): Promise<void> {}
    }
    const q = env.make({ store: new BrokenStore() });
    const other = await q.getToken();
    const errors = sub.of(DIAGNOSTICS_CHANNELS.store, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ op: 'get', store: 'BrokenStore' });
    expect((errors[0]!.error as { code: string }).code).toBe('ECONNREFUSED');
    expectClean(sub, [env.secret, token.accessToken, other.accessToken]);
  });
});

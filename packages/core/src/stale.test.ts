import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from './index';
import { captureLogger, expectNoLeak, setup } from './test/helpers';
import type { Env } from './test/helpers';

// `getToken({ staleIfError: true })`: what a one-shot script (the CLI) needs when IMS is down and it keeps
// tokens longer than it must (minRemainingMs of an hour, so that a printed token lives long enough).

let env: Env | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

const HOUR = 3_600_000;

describe('staleIfError', () => {
  it('serves the last token while IMS fails (5xx), within the default margin of life, and says so', async () => {
    let now = Date.now();
    env = await setup();
    const log = captureLogger();
    const p = env.make({ clock: () => now, minRemainingMs: HOUR, maxRetries: 0, logger: log.logger });
    const token = await p.getToken();
    env.emu.fault({ kind: 'status', status: 503, times: Infinity });
    now = token.expiresAt - HOUR / 2; // past its own serving window (an hour), still far from the default one (60 s)
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' }); // without the option
    expect((await p.getToken({ staleIfError: true })).accessToken).toBe(token.accessToken);
    expect((await p.getAuthHeaders({ staleIfError: true })).authorization).toBe(`Bearer ${token.accessToken}`);
    expect(log.lines.some((l) => l.includes('IMS_SERVER_ERROR') && l.includes('staleIfError'))).toBe(true);
    expectNoLeak(log.lines.join('\n'), [token.accessToken, env.secret]);

    now = token.expiresAt - 30_000; // inside the default margin: never
    await expect(p.getToken({ staleIfError: true })).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });
  });

  it('serves the store’s token to a fresh provider (the next CLI run) when IMS is unreachable', async () => {
    let now = Date.now();
    env = await setup();
    const store = new MemoryStore({ clock: () => now });
    const token = await env.make({ store, clock: () => now, minRemainingMs: HOUR }).getToken();
    const url = env.emu.url;
    await env.emu.stop();
    now = token.expiresAt - HOUR / 2;
    const p = env.make({ store, clock: () => now, minRemainingMs: HOUR, maxRetries: 0, imsUrl: url });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_NETWORK' });
    expect((await p.getToken({ staleIfError: true })).accessToken).toBe(token.accessToken);
  });

  it('never papers over a rejected credential, a forced refresh, or a token an API refused', async () => {
    let now = Date.now();
    env = await setup();
    const p = env.make({ clock: () => now, minRemainingMs: HOUR, maxRetries: 0 });
    const token = await p.getToken();
    now = token.expiresAt - HOUR / 2;
    env.emu.fault({ kind: 'status', status: 503, times: 1 });
    await expect(p.getToken({ staleIfError: true, forceRefresh: true })).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });

    p.setSecrets('p8e-a-deleted-secret');
    await expect(p.getToken({ staleIfError: true })).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });

    p.setSecrets(env.secret);
    const fresh = await p.getToken();
    env.emu.fault({ kind: 'status', status: 503, times: Infinity });
    now = fresh.expiresAt - HOUR / 2;
    expect(await p.invalidate(fresh.accessToken)).toBe(true); // an API refused it (401)
    await expect(p.getToken({ staleIfError: true })).rejects.toMatchObject({ code: 'IMS_SERVER_ERROR' });
  });
});

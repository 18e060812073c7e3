import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import type { FaultRule } from '@ims-token/emulator';
import { ImsTokenError } from './errors';
import type { ImsTokenErrorCode } from './errors';
import type { TokenProviderOptions } from './config';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

// Every token request goes either through Node's own http/https (the default: a cold process loads no
// undici) or through the caller's undici dispatcher. Both must answer every failure the same way.

let env: Env;
const agents: Agent[] = [];
afterEach(async () => {
  await env?.cleanup();
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const transports: Array<[string, () => Partial<TokenProviderOptions>]> = [
  ['node:http (default)', () => ({})],
  [
    'an undici dispatcher',
    () => {
      const dispatcher = new Agent();
      agents.push(dispatcher);
      return { dispatcher };
    },
  ],
];

const failures: Array<[string, FaultRule, ImsTokenErrorCode, Partial<TokenProviderOptions>?]> = [
  ['a hanging IMS', { kind: 'hang', times: Infinity }, 'IMS_TIMEOUT', { timeoutMs: 300, maxRetries: 0 }],
  ['a body that stops half way', { kind: 'reset-mid-body', times: Infinity }, 'IMS_NETWORK', { maxRetries: 1 }],
  ['a reset connection', { kind: 'reset', times: Infinity }, 'IMS_NETWORK', { maxRetries: 1 }],
  [
    'an answer over 256 KiB',
    { kind: 'response', status: 200, body: 'x'.repeat(300 * 1024), times: Infinity },
    'IMS_BAD_RESPONSE',
    { maxRetries: 0 },
  ],
  ['a 503 with Retry-After', { kind: 'status', status: 503, retryAfter: 0, times: Infinity }, 'IMS_SERVER_ERROR', { maxRetries: 2 }],
];

describe.each(transports)('through %s', (_name, transport) => {
  it('mints, keeps the x-debug-id of a rejection, and retries a 5xx', async () => {
    env = await setup();
    const p = env.make(transport());
    expect((await p.getToken()).clientId).toBe(env.clientId);
    env.emu.fault({ kind: 'status', status: 502, times: 2 });
    const again = await p.getToken({ forceRefresh: true });
    expect(again.clientId).toBe(env.clientId);
    expect(p.status().counters.imsRequests).toBe(4); // 1 + 2 failed + 1
    env.emu.fault({ kind: 'response', status: 400, body: { error: 'invalid_scope' }, headers: { 'x-debug-id': 'dbg-1' } });
    await expect(p.getToken({ forceRefresh: true })).rejects.toMatchObject({ code: 'IMS_INVALID_SCOPE', debugId: 'dbg-1' });
  });

  it.each(failures)('%s: the same error code', async (_what, fault, code, options) => {
    env = await setup();
    env.emu.fault(fault);
    const err = await env
      .make({ ...transport(), ...options })
      .getToken()
      .catch((e: unknown) => e);
    expect(ImsTokenError.is(err) && err.code).toBe(code);
  });

  it('a refused connection is IMS_NETWORK with the cause code and nothing else of the error', async () => {
    env = await setup();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const err = (await env
      .make({ ...transport(), imsUrl: `http://127.0.0.1:${port}`, maxRetries: 0 })
      .getToken()
      .catch((e: unknown) => e)) as ImsTokenError;
    expect(err.code).toBe('IMS_NETWORK');
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it("a caller's AbortSignal is IMS_ABORTED; close() during a hang is IMS_CLOSED", async () => {
    env = await setup();
    env.emu.fault({ kind: 'hang', times: Infinity });
    const p = env.make({ ...transport(), timeoutMs: 60_000 });
    const ac = new AbortController();
    const waiting = p.getToken({ signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    const held = env.emu.stats.faultsApplied;
    const pending = p.getToken();
    await vi.waitFor(() => expect(env.emu.stats.faultsApplied).toBeGreaterThan(held), { timeout: 5_000, interval: 5 }); // the request is in, held by the hang
    await p.close();
    await expect(pending).rejects.toMatchObject({ code: 'IMS_CLOSED' });
  });
});

describe('a cold process', () => {
  it('gets its token without loading undici (no dispatcher, no proxy)', async () => {
    env = await setup();
    const dist = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
    const script = `
      const { createTokenProvider } = require(${JSON.stringify(dist)});
      const p = createTokenProvider({ clientId: process.env.ID, clientSecret: process.env.SECRET, scopes: 'openid', imsUrl: process.env.URL });
      p.getToken().then(() => {
        const undici = Object.keys(require.cache).filter((f) => /[\\\\/]undici[\\\\/]/.test(f));
        process.stdout.write(JSON.stringify({ undici: undici.length }));
        return p.close();
      });`;
    const { NODE_PATH: _np, HTTPS_PROXY: _a, HTTP_PROXY: _b, https_proxy: _c, http_proxy: _d, ...rest } = process.env;
    // Asynchronously: the emulator answers from this process.
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...rest, ID: env.clientId, SECRET: env.secret, URL: env.emu.url },
      encoding: 'utf8',
    });
    expect(JSON.parse(stdout)).toEqual({ undici: 0 });
  });
});

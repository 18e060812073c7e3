import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli, WRONG_SECRET } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** One line on stderr: the code, what went wrong and the fix. */
const ONE_LINE = /^ims-token: (IMS_[A-Z_]+): .+ Fix: .+\n$/;

describe('errors and exit codes', () => {
  it('missing configuration → 2 (IMS_CONFIG), naming the variable and the flag', async () => {
    const c = credential(fx);
    const { IMS_SCOPES: _s, ...env } = c.env;
    const r = await runCli(['token'], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(ONE_LINE);
    expect(r.stderr).toMatch(/IMS_CONFIG: IMS_SCOPES is not set.*Fix: Pass --scopes or --preset/);
    const { IMS_CLIENT_SECRET: _x, ...noSecret } = c.env;
    const s = await runCli(['token'], { env: noSecret });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/IMS_CLIENT_SECRET is not set.*--client-secret-stdin/);
    const badUrl = await runCli(['token', '--ims-url', 'http://example.com'], { env: c.env });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/IMS_URL must use https/);
    const preset = await runCli(['token', '--preset', 'nope'], { env: c.env });
    expect(preset.code).toBe(2);
    expect(preset.stderr).toMatch(/Unknown --preset "nope".*firefly, io-management/);
  });

  it('wrong secret → 3 (IMS_INVALID_CLIENT); --verbose adds the debug id; --json gives a JSON error', async () => {
    const c = credential(fx);
    const env = { ...c.env, IMS_CLIENT_SECRET: WRONG_SECRET };
    const r = await runCli(['token'], { env });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(ONE_LINE);
    expect(r.stderr).toMatch(/IMS_INVALID_CLIENT: IMS rejected the credential \(invalid_client: invalid client_secret parameter\)/);
    expect(r.stderr).not.toContain(WRONG_SECRET);
    const v = await runCli(['token', '--verbose'], { env });
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/debug id: [\w-]+/);
    expect(v.stderr).toMatch(/HTTP status: 400/);
    const j = await runCli(['token', '--json'], { env });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stderr)).toMatchObject({
      error: { code: 'IMS_INVALID_CLIENT', status: 400, imsError: 'invalid_client', exitCode: 3 },
    });
    expect(c.minted()).toBe(0);
  });

  it('a scope the credential does not have → 3 (IMS_INVALID_SCOPE)', async () => {
    const c = credential(fx, { allowedScopes: ['openid', 'AdobeID'] });
    const r = await runCli(['token', '--scopes', 'openid,firefly_api'], { env: c.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/IMS_INVALID_SCOPE/);
  });

  it('IMS down (closed port, stopped emulator) → 4 (IMS_NETWORK)', async () => {
    const c = credential(fx);
    const port = await closedPort();
    const r = await runCli(['token'], { env: { ...c.env, IMS_URL: `http://127.0.0.1:${port}` } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(ONE_LINE);
    expect(r.stderr).toMatch(/IMS_NETWORK: Could not reach IMS \(127\.0\.0\.1:\d+\): ECONNREFUSED/);

    const gone = await startEmulator();
    const d = credential({ ...fx, emu: gone });
    await gone.stop();
    const s = await runCli(['token', '--verbose'], { env: d.env });
    expect(s.code).toBe(4);
    expect(s.stderr).toMatch(/retrying the token request/);
    expect(s.stderr).toMatch(/caused by: .*ECONNREFUSED/);
  });

  it('IMS failing (5xx after retries, 429) → 4', async () => {
    const c = credential(fx);
    fx.emu.fault({ kind: 'status', status: 503, times: 4 });
    const r = await runCli(['token'], { env: c.env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/IMS_SERVER_ERROR/);
    fx.emu.clearFaults();
    fx.emu.fault({ kind: 'status', status: 429, retryAfter: 3600, times: 1 });
    const t = await runCli(['token'], { env: c.env });
    expect(t.code).toBe(4);
    expect(t.stderr).toMatch(/IMS_RATE_LIMITED/);
    fx.emu.clearFaults();
  });

  it('a bad answer from IMS → 4 (IMS_BAD_RESPONSE)', async () => {
    const c = credential(fx);
    fx.emu.fault({ kind: 'malformed', times: 1 });
    const r = await runCli(['token'], { env: c.env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/IMS_BAD_RESPONSE/);
  });
});

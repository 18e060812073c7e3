import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsHealth } from './index';
import { EXPRESSES, setup } from './test/helpers';
import type { Env } from './test/helpers';

describe.each(EXPRESSES)('imsHealth (%s)', (_name, express) => {
  let env: Env;
  beforeAll(async () => {
    env = await setup();
  });
  beforeEach(() => env.emu.clearFaults());
  afterAll(async () => {
    env.expectNoLeaks();
    await env.cleanup();
  });

  async function health(provider = env.make(), timeoutMs?: number) {
    const a = express();
    a.get('/healthz', imsHealth({ provider, ...(timeoutMs ? { timeoutMs } : {}) }));
    return env.call(`${await env.serve(a)}/healthz`);
  }

  it('a cold service gets a token and answers 200 ok with expiresIn (seconds) and scopes, never the token', async () => {
    const provider = env.make();
    const res = await health(provider);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = res.json();
    expect(body).toEqual({ status: 'ok', expiresIn: expect.any(Number), scopes: ['openid', 'AdobeID'] });
    expect(body.expiresIn).toBeGreaterThan(86_000);
    expect(body.expiresIn).toBeLessThanOrEqual(86_399);
    expect(provider.status().state).toBe('valid');
  });

  it('a rejected credential answers 503 unavailable with the code', async () => {
    const res = await health(env.make({ clientSecret: 'wrong-health-secret' }));
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable', code: 'IMS_INVALID_CLIENT' });
  });

  it('IMS down answers 503 IMS_NETWORK', async () => {
    env.emu.fault({ kind: 'reset', times: Infinity });
    const res = await health(env.make({ maxRetries: 0 }));
    expect(res.json()).toEqual({ status: 'unavailable', code: 'IMS_NETWORK' });
  });

  it('a silent IMS answers 503 within the health timeout', async () => {
    env.emu.fault({ kind: 'hang', times: Infinity });
    const started = Date.now();
    const res = await health(env.make({ timeoutMs: 20_000 }), 150);
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable', code: 'IMS_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects a bad timeout with IMS_CONFIG', () => {
    expect(() => imsHealth({ provider: env.make(), timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'IMS_CONFIG' }));
  });
});

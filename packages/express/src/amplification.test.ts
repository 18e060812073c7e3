import type { TokenProvider } from '@ims-token/core';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsAuth, imsErrorHandler, imsHealth, imsProxy } from './index';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

// Issue 12.1 through the express adapters: no client of ours may turn its requests into IMS mints. The
// policy is core's; imsProxy and req.ims.fetch must obey it. The emulator's /api/v1/always-401 is the path
// an attacker hits; /api/v1/whoami is a good call. One Express major is enough: the 401 path is fetch's engine.

let env: Env;
beforeAll(async () => {
  env = await setup();
});
afterAll(async () => {
  await env.cleanup();
});
beforeEach(() => env.emu.clearFaults());

/** A service with both adapters and a health route; the provider's clock is moved by hand. */
async function service(): Promise<{ url: string; provider: TokenProvider; clientId: string; tick(ms: number): void }> {
  let now = Date.now();
  const { provider, clientId } = env.isolated({ clock: () => now });
  const a = express();
  a.get('/healthz', imsHealth({ provider }));
  a.use('/proxy', imsProxy({ provider, target: `${env.emu.url}/api/v1` }));
  a.use(imsAuth({ provider, allowedHosts: ['127.0.0.1'] }));
  a.get('/call/:path', async (req, res, next) => {
    try {
      const r = await req.ims.fetch(`${env.emu.url}/api/v1/${String(req.params['path'])}`);
      res.status(r.status).end(await r.text());
    } catch (err) {
      next(err);
    }
  });
  a.use(imsErrorHandler());
  const url = await env.serve(a);
  return { url, provider, clientId, tick: (ms) => void (now += ms) };
}

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

describe.each([
  ['imsProxy', '/proxy'],
  ['req.ims.fetch', '/call'],
])('%s on an always-401 path (core 401 policy)', (_name, prefix) => {
  it.each(['alone', 'concurrent', 'interleaved'])(
    '1,000 requests over 10 s, %s: at most 3 mints; /healthz never throttled',
    async (mode) => {
      const s = await service();
      expect(await status(`${s.url}/healthz`)).toBe(200);
      const before = env.emu.stats.tokensMinted;
      const health: unknown[] = [];
      let throttled = false;
      const send = async (path: string): Promise<number> => {
        const code = await status(`${s.url}${prefix}${path}`);
        if (!throttled && env.emu.stats.tokensMinted - before >= 2) {
          throttled = true; // Adobe throttles an integration that mints too often
          env.emu.fault({ target: 'token', kind: 'status', status: 429, retryAfter: 60, times: Infinity });
        }
        return code;
      };
      for (let i = 0; i < (mode === 'concurrent' ? 20 : 1000); i++) {
        if (mode === 'concurrent') {
          expect(await Promise.all(Array.from({ length: 50 }, () => send('/always-401')))).toEqual(Array(50).fill(401));
          s.tick(500);
        } else {
          if (mode === 'interleaved') expect(await send('/whoami')).toBe(200);
          expect(await send('/always-401')).toBe(401);
          s.tick(10);
        }
        if (i % 100 === 0) {
          const res = await fetch(`${s.url}/healthz`);
          health.push(await res.json());
        }
      }
      expect(env.emu.stats.tokensMinted - before).toBeLessThanOrEqual(2); // 3 with the one minted before
      expect(health.filter((h) => (h as { status: string }).status !== 'ok')).toEqual([]);
    },
    300_000, // 1,000–2,000 real requests: bounded by count, not by the machine's speed
  );

  it('a really revoked token is replaced on the first 401 and the retried call succeeds', async () => {
    const s = await service();
    expect(await status(`${s.url}${prefix}/whoami`)).toBe(200);
    env.emu.revokeTokens(s.clientId);
    const minted = env.emu.stats.tokensMinted;
    expect(await status(`${s.url}${prefix}/whoami`)).toBe(200);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });
});

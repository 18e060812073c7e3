import type { TokenProvider } from '@ims-token/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImsDispatcher, createImsFetch, imsInterceptor } from './index';
import { attack, manualClock, setup } from './test/helpers';
import type { AttackMode, AttackPath, Env } from './test/helpers';

// Issue 12.1: no client may turn its requests into IMS mints. The policy is core's (provider.invalidate()
// answers whether to retry); these tests check that every adapter of this package obeys it.
let env: Env;
const agent = new Agent();
const url = (path: AttackPath): string => `${env.emu.url}/api/v1/${path}`;

beforeAll(async () => {
  env = await setup();
});
afterAll(async () => {
  await Promise.all([env.cleanup(), agent.close()]);
});
beforeEach(() => env.emu.clearFaults());

type Send = (provider: TokenProvider) => (path: AttackPath) => Promise<number>;

async function statusOf(url: string, dispatcher: Parameters<typeof request>[1]): Promise<number> {
  const res = await request(url, dispatcher);
  await res.body.dump();
  return res.statusCode;
}

const ADAPTERS: [string, Send][] = [
  [
    'createImsFetch',
    (provider) => {
      const f = createImsFetch({ provider, allowedHosts: ['127.0.0.1'] });
      return async (path) => {
        const res = await f(url(path));
        await res.arrayBuffer();
        return res.status;
      };
    },
  ],
  [
    'createImsDispatcher',
    (provider) => {
      const dispatcher = createImsDispatcher({ provider, allowedHosts: ['127.0.0.1'], dispatcher: agent });
      return (path) => statusOf(url(path), { dispatcher });
    },
  ],
  [
    'imsInterceptor',
    (provider) => {
      const dispatcher = agent.compose(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
      return (path) => statusOf(url(path), { dispatcher });
    },
  ],
];

describe.each(ADAPTERS)('%s on an always-401 path (core 401 policy)', (_name, adapter) => {
  it.each(['alone', 'concurrent', 'interleaved'] as AttackMode[])(
    '1,000 requests over 10 s, %s: at most 3 mints, the provider never throttled',
    async (mode) => {
      const clock = manualClock();
      const provider = env.make({ clock: clock.now });
      await provider.getToken();
      const { mints } = await attack(env, clock, mode, adapter(provider));
      expect(mints).toBeLessThanOrEqual(2); // the first token was minted before the attack
      expect(provider.status().lastError?.code).not.toBe('IMS_RATE_LIMITED');
      expect((await provider.getToken()).accessToken).toMatch(/^ey/);
    },
    300_000, // 1,000–2,000 real requests: bounded by count, not by the machine's speed
  );

  it('a really revoked token is replaced on the first 401 and the retried call succeeds', async () => {
    const { provider, clientId } = env.isolated({ clock: manualClock().now });
    const send = adapter(provider);
    expect(await send('whoami')).toBe(200);
    env.emu.revokeTokens(clientId);
    const minted = env.emu.stats.tokensMinted;
    expect(await send('whoami')).toBe(200);
    expect(env.emu.stats.tokensMinted).toBe(minted + 1);
  });
});

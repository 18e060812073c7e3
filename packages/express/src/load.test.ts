import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imsAuth, imsErrorHandler } from './index';
import { EXPRESSES, setup } from './test/helpers';
import type { Env } from './test/helpers';

const LIFETIME_S = 2;
const LIFETIMES = 3;
const CLIENTS = 200;

describe.each(EXPRESSES)('a token that expires under load (%s)', (_name, express) => {
  let env: Env;
  beforeAll(async () => {
    env = await setup({ tokenLifetimeSeconds: LIFETIME_S });
  });
  afterAll(async () => {
    env.expectNoLeaks();
    await env.cleanup();
  });

  it(`${CLIENTS} clients for ${LIFETIMES} token lifetimes: no failed request, about one mint per lifetime`, async () => {
    const provider = env.make();
    const a = express();
    a.use(imsAuth({ provider, allowedHosts: ['127.0.0.1'] }));
    a.get('/whoami', async (req, res, next) => {
      try {
        const r = await req.ims.fetch(`${env.emu.url}/api/v1/whoami`);
        res
          .status(r.status)
          .type('json')
          .send(await r.text());
      } catch (err) {
        next(err);
      }
    });
    a.use(imsErrorHandler());
    const url = `${await env.serve(a)}/whoami`;
    const minted = env.emu.stats.tokensMinted;

    let ok = 0;
    const failures: string[] = [];
    const deadline = Date.now() + LIFETIME_S * LIFETIMES * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < deadline) {
          try {
            const res = await fetch(url);
            const text = await res.text();
            if (res.status === 200 && text.includes(env.clientId)) ok++;
            else failures.push(`${res.status} ${text.slice(0, 200)}`);
            if (ok % 500 === 0) env.seen.push(text);
          } catch (err) {
            failures.push(String(err));
          }
        }
      }),
    );
    env.seen.push(...failures);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(CLIENTS);
    const mints = env.emu.stats.tokensMinted - minted;
    expect(mints).toBeGreaterThanOrEqual(LIFETIMES);
    expect(mints).toBeLessThanOrEqual(LIFETIMES + 2);
  });
});

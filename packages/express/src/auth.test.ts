import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import type { ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imsAuth, imsErrorHandler } from './index';
import type { ImsRequestContext } from './index';
import { EXPRESSES, setup } from './test/helpers';
import type { Env } from './test/helpers';

describe.each(EXPRESSES)('imsAuth (%s)', (_name, express) => {
  let env: Env;
  beforeAll(async () => {
    env = await setup();
  });
  afterAll(async () => {
    env.expectNoLeaks();
    await env.cleanup();
  });

  function app(provider: TokenProvider, eager = false) {
    const contexts: ImsRequestContext[] = [];
    const a = express();
    a.use(imsAuth({ provider, allowedHosts: ['127.0.0.1'], eager }));
    a.get('/plain', (req, res) => {
      contexts.push(req.ims);
      res.json({ ok: true, state: provider.status().state });
    });
    a.get('/whoami', async (req, res, next) => {
      try {
        contexts.push(req.ims);
        const r = await req.ims.fetch(`${env.emu.url}/api/v1/whoami`);
        res.status(r.status).json(await r.json());
      } catch (err) {
        next(err);
      }
    });
    a.get('/parts', async (req, res) => {
      const [token, headers] = await Promise.all([req.ims.token(), req.ims.headers()]);
      res.json({ token, apiKey: headers['x-api-key'], bearer: headers.authorization.startsWith('Bearer ') });
    });
    a.use(imsErrorHandler());
    return { a, contexts };
  }

  it('reaches the Adobe API through req.ims.fetch, minting nothing until a handler asks', async () => {
    const provider = env.make();
    const { a, contexts } = app(provider);
    const url = await env.serve(a);
    const before = env.emu.stats.mintedByClient[env.clientId] ?? 0;

    expect((await env.call(`${url}/plain`)).json()).toEqual({ ok: true, state: 'empty' });
    expect(env.emu.stats.mintedByClient[env.clientId] ?? 0).toBe(before);

    const who = await env.call(`${url}/whoami`);
    expect(who.status).toBe(200);
    expect(who.json()).toMatchObject({ clientId: env.clientId, scopes: ['openid', 'AdobeID'] });
    await env.call(`${url}/whoami`);
    expect(env.emu.stats.mintedByClient[env.clientId]).toBe(before + 1);
    // one fetch per middleware, shared by every request
    expect(contexts.length).toBe(3);
    expect(contexts[1]!.fetch).toBe(contexts[0]!.fetch);
    expect(contexts[2]).toBe(contexts[0]);
  });

  it('req.ims.token() and headers() give the token (JSON shows only a preview) and the two headers', async () => {
    const provider = env.make();
    const url = await env.serve(app(provider).a);
    const res = await env.call(`${url}/parts`);
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.apiKey).toBe(env.clientId);
    expect(body.bearer).toBe(true);
    expect(body.token.clientId).toBe(env.clientId);
    expect(String(body.token.accessToken).length).toBeLessThan(12);
  });

  it('eager mode has a token before the handler runs', async () => {
    const provider = env.make();
    const url = await env.serve(app(provider, true).a);
    expect((await env.call(`${url}/plain`)).json()).toEqual({ ok: true, state: 'valid' });
  });

  it('eager mode sends a token failure to next(err)', async () => {
    const provider = env.make({ clientSecret: 'wrong-secret-value' });
    const seen: unknown[] = [];
    const a = express();
    a.use(imsAuth({ provider, eager: true }));
    a.get('/plain', (_req, res) => void res.json({ reached: true }));
    a.use(((err, _req, _res, next) => {
      seen.push(err);
      next(err);
    }) as ErrorRequestHandler);
    a.use(imsErrorHandler());
    const res = await env.call(`${await env.serve(a)}/plain`);
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('IMS_INVALID_CLIENT');
    expect(ImsTokenError.is(seen[0])).toBe(true);
    expect(res.text).not.toContain('wrong-secret-value');
  });

  it('req.ims.fetch follows the allowedHosts rule: no credentials for other hosts', async () => {
    const provider = env.make();
    const a = express();
    a.use(imsAuth({ provider })); // default *.adobe.io: the emulator on 127.0.0.1 is not allowed
    a.get('/whoami', async (req, res) => {
      const r = await req.ims.fetch(`${env.emu.url}/api/v1/whoami`);
      res.status(r.status).end();
    });
    const res = await env.call(`${await env.serve(a)}/whoami`);
    expect(res.status).toBe(401);
    expect(provider.status().counters.misses).toBe(0);
  });

  it('rejects bad options with IMS_CONFIG', () => {
    expect(() => imsAuth({} as never)).toThrow(expect.objectContaining({ code: 'IMS_CONFIG' }));
    expect(() => imsAuth({ provider: env.make(), allowedHosts: ['*'] })).toThrow(expect.objectContaining({ code: 'IMS_CONFIG' }));
  });
});

import { ImsTokenError, ImsTokenErrorCode } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsAuth, imsErrorHandler, imsProxy } from './index';
import { EXPRESSES, recordingLogger, setup, startUpstream } from './test/helpers';
import type { Env } from './test/helpers';

describe.each(EXPRESSES)('imsErrorHandler (%s)', (_name, express) => {
  let env: Env;
  const lines: string[] = [];
  beforeAll(async () => {
    env = await setup();
  });
  beforeEach(() => {
    env.emu.clearFaults();
    lines.length = 0;
  });
  afterAll(async () => {
    env.seen.push(...lines);
    env.expectNoLeaks();
    await env.cleanup();
  });

  /** An app whose `/whoami` calls the sample API through req.ims.fetch; errors go through imsErrorHandler. */
  async function serve(provider = env.make({ maxRetries: 0 }), imsUrl?: string) {
    const a = express();
    a.use(imsAuth({ provider, allowedHosts: ['127.0.0.1'] }));
    a.get('/whoami', (async (req, res, next) => {
      try {
        const r = await req.ims.fetch(`${imsUrl ?? env.emu.url}/api/v1/whoami`);
        res.status(r.status).json(await r.json());
      } catch (err) {
        next(err);
      }
    }) as RequestHandler);
    a.use(imsErrorHandler({ logger: recordingLogger(lines) }));
    return env.serve(a);
  }

  function expectProblem(res: { status: number; headers: Headers; json: () => any }, status: number, code: string): void {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = res.json();
    expect(body).toMatchObject({ status, code, instance: '/whoami' });
    expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'instance']));
    expect(body.type).toMatch(/^https:\/\/.*#ims-(unavailable|credential-rejected|bad-response|configuration-error)$/);
    expect(JSON.stringify(body)).not.toContain(env.clientId);
  }

  it('IMS down (emulator stopped) → 503 problem+json IMS_NETWORK, full error to the logger', async () => {
    const down = await startEmulator();
    const provider = env.make({ imsUrl: down.url, maxRetries: 0 });
    await down.stop();
    const res = await env.call(`${await serve(provider)}/whoami?secret=x`);
    expectProblem(res, 503, 'IMS_NETWORK');
    expect(res.headers.get('retry-after')).toBeNull();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).err).toMatchObject({ name: 'ImsTokenError', code: 'IMS_NETWORK', retryable: true });
  });

  it('rejected secret → 502 IMS_INVALID_CLIENT with the IMS debug id', async () => {
    const res = await env.call(`${await serve(env.make({ clientSecret: 'not-the-secret-123' }))}/whoami`);
    expectProblem(res, 502, 'IMS_INVALID_CLIENT');
    expect(res.json().debugId).toEqual(expect.any(String));
    expect(res.text).not.toContain('not-the-secret-123');
    expect(lines.join()).not.toContain('not-the-secret-123');
  });

  it('IMS throttling (429 with Retry-After) → 503 with Retry-After', async () => {
    env.emu.fault({ kind: 'status', status: 429, retryAfter: 7, times: Infinity });
    const res = await env.call(`${await serve()}/whoami`);
    expectProblem(res, 503, 'IMS_RATE_LIMITED');
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('a malformed IMS answer → 502 IMS_BAD_RESPONSE', async () => {
    env.emu.fault({ kind: 'malformed', times: Infinity });
    expectProblem(await env.call(`${await serve()}/whoami`), 502, 'IMS_BAD_RESPONSE');
  });

  it.each([
    ['IMS_TIMEOUT', 503],
    ['IMS_SERVER_ERROR', 503],
    ['IMS_INVALID_SCOPE', 502],
    ['IMS_UNAUTHORIZED_CLIENT', 502],
    ['IMS_CONFIG', 500],
  ] as [ImsTokenErrorCode, number][])('maps %s to %i', async (code, status) => {
    const a = express();
    a.get('/whoami', (_req, _res, next) => next(new ImsTokenError(code, 'from a handler')));
    a.use(imsErrorHandler({ logger: recordingLogger(lines) }));
    expectProblem(await env.call(`${await env.serve(a)}/whoami`), status, code);
  });

  it('answers every ImsTokenErrorCode: only IMS_CONFIG is a configuration error; IMS_SECRET_LIMIT is a 409', async () => {
    const a = express();
    a.get('/fail/:code', (req, _res, next) => next(new ImsTokenError(req.params['code'] as ImsTokenErrorCode, 'from a handler')));
    a.use(imsErrorHandler({ logger: recordingLogger(lines) }));
    const url = await env.serve(a);
    const answers: Record<string, [number, string]> = {};
    for (const code of Object.values(ImsTokenErrorCode)) {
      const res = await env.call(`${url}/fail/${code}`);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      answers[code] = [res.status, res.json().type.split('#')[1]];
    }
    for (const [code, [, anchor]] of Object.entries(answers)) {
      expect(anchor === 'ims-configuration-error', code).toBe(code === 'IMS_CONFIG');
    }
    expect(answers['IMS_SECRET_LIMIT']).toEqual([409, 'ims-secret-limit']);
    expect(answers['IMS_ROTATION_FAILED']).toEqual([502, 'ims-rotation-failed']);
  });

  it('logs through the request-scoped req.log (and its request id) even when a logger is given', async () => {
    const appLines: string[] = [];
    const a = express();
    a.use(((req, _res, next) => {
      const log = recordingLogger(lines);
      (req as unknown as { log: unknown }).log = { error: (obj: object, msg?: string) => log.error({ reqId: 'req-7', ...obj }, msg) };
      next();
    }) as RequestHandler);
    a.get('/x', (_req, _res, next) => next(new ImsTokenError('IMS_TIMEOUT', 'slow')));
    a.use(imsErrorHandler({ logger: recordingLogger(appLines) }));
    expect((await env.call(`${await env.serve(a)}/x`)).status).toBe(503);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ reqId: 'req-7', err: expect.objectContaining({ code: 'IMS_TIMEOUT' }) }),
    ]);
    expect(appLines).toEqual([]);
  });

  it('gives the logger the request id (req.id, else x-request-id) when there is no req.log', async () => {
    const a = express();
    a.get('/with-id', ((req, _res, next) => {
      (req as unknown as { id: string }).id = 'req-8';
      next(new ImsTokenError('IMS_NETWORK', 'down'));
    }) as RequestHandler);
    a.get('/with-header', (_req, _res, next) => next(new ImsTokenError('IMS_NETWORK', 'down')));
    a.use(imsErrorHandler({ logger: recordingLogger(lines) }));
    const url = await env.serve(a);
    await env.call(`${url}/with-id`);
    await env.call(`${url}/with-header`, { headers: { 'x-request-id': 'lb-9' } });
    expect(lines.map((l) => JSON.parse(l).reqId)).toEqual(['req-8', 'lb-9']);
  });

  it("logs the proxy's own 5xx answers with the request id", async () => {
    const gone = await startUpstream(false);
    await gone.stop();
    const a = express();
    a.use(((req, _res, next) => {
      (req as unknown as { id: string }).id = 'req-10';
      next();
    }) as RequestHandler);
    a.use('/adobe', imsProxy({ provider: env.make(), target: gone.url, logger: recordingLogger(lines) }));
    expect((await env.call(`${await env.serve(a)}/adobe/x`)).status).toBe(502);
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ reqId: 'req-10', status: 502 })]);
  });

  it('prefers req.log (pino-http) when no logger is given', async () => {
    const a = express();
    a.use(((req, _res, next) => {
      (req as unknown as { log: unknown }).log = recordingLogger(lines);
      next();
    }) as RequestHandler);
    a.get('/x', (_req, _res, next) => next(new ImsTokenError('IMS_TIMEOUT', 'slow')));
    a.use(imsErrorHandler());
    expect((await env.call(`${await env.serve(a)}/x`)).status).toBe(503);
    expect(JSON.parse(lines[0]!).err.code).toBe('IMS_TIMEOUT');
  });

  it('passes other errors, and errors after the headers were sent, to the next handler untouched', async () => {
    const other = new Error('not ours');
    const late = new ImsTokenError('IMS_NETWORK', 'late');
    const got: unknown[] = [];
    const a = express();
    a.get('/other', (_req, _res, next) => next(other));
    a.get('/late', (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      next(late);
    });
    a.use(imsErrorHandler({ logger: recordingLogger(lines) }));
    a.use(((err, _req, res, _next) => {
      got.push(err);
      if (res.headersSent) res.end();
      else res.status(418).send('next handler');
    }) as ErrorRequestHandler);
    const url = await env.serve(a);
    const res = await env.call(`${url}/other`);
    expect(res.status).toBe(418);
    expect(res.text).toBe('next handler');
    const lateRes = await env.call(`${url}/late`);
    expect(lateRes.status).toBe(200);
    expect(lateRes.text).toBe('partial');
    expect(got).toEqual([other, late]);
    expect(got[0]).toBe(other);
    expect(lines).toHaveLength(0);
  });
});

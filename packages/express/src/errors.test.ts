import { ImsTokenError } from '@ims-token/core';
import type { ImsTokenErrorCode } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imsAuth, imsErrorHandler } from './index';
import { EXPRESSES, recordingLogger, setup } from './test/helpers';
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

import { randomUUID } from 'node:crypto';
import { createTokenProvider, decodeImsToken } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { imsAuth, imsErrorHandler, imsHealth } from '@ims-token/express';
import express from 'express';
import type { Express, Request, RequestHandler, Response } from 'express';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import * as z from 'zod';
import { createJobsClient, isFinal } from './adobe-jobs';
import type { Job } from './adobe-jobs';
import type { AppConfig } from './config';
import { AppError, problemHandler } from './problem';

/** What {@link createApp} returns. */
export interface ExampleApp {
  app: Express;
  /** The one token provider every request shares. */
  provider: TokenProvider;
  logger: Logger;
  /** Closes the provider. */
  close(): Promise<void>;
}

/** The body of `POST /jobs` and `POST /jobs/run`. Change it to what your Adobe API takes. */
export const JobInput = z.object({
  prompt: z.string().trim().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
});

const JOB_ID = /^[\w.-]{1,128}$/;

/**
 * The Express app: one token provider for the process, `req.ims` on every request, the job routes,
 * `/livez` and `/readyz`, problem+json errors, and one JSON log line per request with its id.
 */
export function createApp(config: AppConfig, options: { logger?: Logger } = {}): ExampleApp {
  // Logs are JSON lines on stdout; pino redacts these fields should anything put a secret in one.
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL, redact: ['*.authorization', '*.clientSecret', '*.accessToken'] });
  const provider = createTokenProvider({ ...config.ims, logger: logger.child({ component: 'ims-token' }) });
  provider.on('token', (e) => logger.info({ source: e.source, expiresAt: new Date(e.expiresAt).toISOString() }, 'got an IMS access token'));

  const app = express();
  app.disable('x-powered-by');
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      // The path without its query string (it may carry data), and no request headers.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      },
      quietReqLogger: true, // req.log adds only reqId
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    }),
  );

  // Liveness says only "the process answers": a probe that minted a token would restart every pod when IMS is down.
  app.get('/livez', (_req, res) => void res.json({ status: 'ok' }));
  // Readiness: can this service get a token? (never shows the token)
  app.get('/readyz', imsHealth({ provider }));
  // The IMS lines: req.ims.fetch adds Authorization and x-api-key for allowedHosts only.
  app.use(imsAuth({ provider, allowedHosts: config.allowedHosts }));

  app.get('/whoami', async (req, res) => {
    // The token's claims are for display only (never trust them for security); the token itself is not shown.
    const token = await req.ims.token();
    const claims = decodeImsToken(token.accessToken);
    res.json({
      clientId: claims.clientId,
      scopes: claims.scopes,
      authServer: claims.authServer,
      expiresAt: new Date(token.expiresAt).toISOString(),
    });
  });

  const json = express.json({ limit: '64kb' });

  app.post('/jobs', requireJson, json, async (req, res) => {
    const jobs = createJobsClient(req.ims.fetch, config.ADOBE_API_URL);
    const job = await jobs.submit(parseInput(req), abortOnClose(res));
    req.log.info({ jobId: job.jobId }, 'job submitted');
    const statusUrl = ownUrl(req, job.jobId);
    res
      .status(202)
      .location(statusUrl)
      .json({ ...job, statusUrl });
  });

  app.post('/jobs/run', requireJson, json, async (req, res) => {
    const input = parseInput(req);
    const signal = abortOnClose(res);
    const deadline = Date.now() + config.JOB_RUN_TIMEOUT_MS;
    const jobs = createJobsClient(req.ims.fetch, config.ADOBE_API_URL);
    const submitted = await jobs.submit(input, signal);
    req.log.info({ jobId: submitted.jobId }, 'job submitted; waiting for it');
    let job: Job;
    try {
      job = await jobs.waitFor(submitted.jobId, { deadline, intervalMs: config.JOB_POLL_INTERVAL_MS, signal });
    } catch (err) {
      if (err instanceof AppError && err.code === 'JOB_TIMEOUT')
        err.more.extra = { ...err.more.extra, statusUrl: ownUrl(req, submitted.jobId) };
      throw err;
    }
    req.log.info({ jobId: job.jobId, status: job.status }, 'job finished');
    if (job.status !== 'succeeded') {
      throw new AppError(502, 'JOB_FAILED', `The job ended with status ${job.status}.`, {
        extra: { jobId: job.jobId, jobStatus: job.status },
      });
    }
    res.json(job);
  });

  app.get('/jobs/:id', async (req, res) => {
    const id = String(req.params['id']);
    if (!JOB_ID.test(id)) throw new AppError(400, 'INVALID_JOB_ID', 'A job id is 1–128 letters, digits, ".", "_" or "-".');
    const job = await createJobsClient(req.ims.fetch, config.ADOBE_API_URL).get(id, abortOnClose(res));
    if (!isFinal(job.status)) res.set('retry-after', String(Math.max(1, Math.round(config.JOB_POLL_INTERVAL_MS / 1000))));
    res.json({ ...job, statusUrl: ownUrl(req, job.jobId) });
  });

  app.use((req: Request) => {
    throw new AppError(404, 'NOT_FOUND', `No route ${req.method} ${req.path}.`);
  });
  app.use(imsErrorHandler()); // ImsTokenError → 502/503 problem+json, logged through req.log (with the request id)
  app.use(problemHandler()); // everything else

  return { app, provider, logger, close: () => provider.close() };
}

/** A job is sent as JSON; anything else (a form, text) gets 415 saying so, not a confusing validation error. */
const requireJson: RequestHandler = (req, _res, next) => {
  if (req.is('application/json')) return next();
  next(
    new AppError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the job as JSON with content-type: application/json, e.g. {"prompt":"a lighthouse at dusk"}.',
    ),
  );
};

function parseInput(req: Request): z.infer<typeof JobInput> {
  const parsed = JobInput.safeParse(req.body ?? {});
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
    throw new AppError(400, 'INVALID_INPUT', 'The job input is not valid: send JSON like {"prompt":"a lighthouse at dusk"}.', {
      extra: { errors },
    });
  }
  return parsed.data;
}

/** This server's URL of a job, as the client reached it. */
function ownUrl(req: Request, jobId: string): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}/jobs/${encodeURIComponent(jobId)}`;
}

/** A signal that aborts the Adobe calls of a request whose client went away (saves polls nobody reads). */
function abortOnClose(res: Response): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort(new AppError(499, 'CLIENT_CLOSED', 'The client closed the connection.'));
  });
  return ac.signal;
}

import { randomUUID } from 'node:crypto';
import { createTokenProvider, decodeImsToken } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { imsAuth, imsErrorHandler, imsHealth } from '@ims-token/express';
import express from 'express';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import * as z from 'zod';
import { createJobsClient, isFinal } from './adobe-jobs';
import type { Job } from './adobe-jobs';
import type { AppConfig } from './config';
import { createLogger } from './logger';
import { AppError, notFound, problemHandler } from './problem';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** A pino child logger with this request's id. */
      log: Logger;
    }
  }
}

/** What {@link createApp} returns. */
export interface ExampleApp {
  /** The Express application (mount it, or listen with {@link startServer}). */
  app: Express;
  /** The token provider every route shares. */
  provider: TokenProvider;
  logger: Logger;
  /** Closes the provider (a provider passed in by the caller is left open). */
  close(): Promise<void>;
}

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /** Default: a pino logger from `config.logLevel` / `config.logFormat`. */
  logger?: Logger;
  /** Default: `createTokenProvider(config.ims)`. */
  provider?: TokenProvider;
}

/** The body of `POST /jobs` and `POST /jobs/run`. Change it to what your Adobe API takes. */
export const JobInput = z.object({
  prompt: z.string().trim().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
});

const JOB_ID = /^[\w.-]{1,128}$/;

/**
 * Builds the Express app: one token provider for the process, `req.ims` on every request, the job
 * routes, `/healthz`, and problem+json errors.
 *
 * @example
 * ```ts
 * const { app, close } = createApp(loadConfig())
 * const server = app.listen(3000)
 * ```
 */
export function createApp(config: AppConfig, options: CreateAppOptions = {}): ExampleApp {
  const logger = options.logger ?? createLogger(config);
  const ownsProvider = options.provider === undefined;
  const provider = options.provider ?? createTokenProvider({ ...config.ims, logger: logger.child({ component: 'ims-token' }) });
  if (ownsProvider) {
    provider.on('token', (e) =>
      logger.info({ source: e.source, expiresAt: new Date(e.expiresAt).toISOString(), scopes: e.scopes }, 'got an IMS access token'),
    );
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestLog(logger));

  // The only IMS-specific lines: req.ims.fetch adds the credentials for config.allowedHosts.
  app.get('/healthz', imsHealth({ provider }));
  app.use(imsAuth({ provider, allowedHosts: config.allowedHosts }));

  app.get('/', (_req, res) => {
    res.json({
      name: '@ims-token/example',
      adobe: config.emulator ? 'emulator' : config.adobeApiUrl,
      routes: {
        'POST /jobs': 'submit a job, answers 202 with its status URL',
        'GET /jobs/:id': 'the status of a job',
        'POST /jobs/run': 'submit a job and wait for its result',
        'GET /healthz': 'IMS token health',
        'GET /whoami': 'which credential and scopes this service uses',
      },
    });
  });

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

  app.post('/jobs', json, async (req, res) => {
    const input = parseInput(req);
    const jobs = createJobsClient(req.ims.fetch, config.adobeApiUrl);
    const job = await jobs.submit(input, abortOnClose(res));
    req.log.info({ jobId: job.jobId }, 'job submitted');
    const statusUrl = ownUrl(req, `/jobs/${encodeURIComponent(job.jobId)}`);
    res
      .status(202)
      .location(statusUrl)
      .json({ ...job, statusUrl });
  });

  app.post('/jobs/run', json, async (req, res) => {
    const input = parseInput(req);
    const signal = abortOnClose(res);
    const deadline = Date.now() + config.jobRunTimeoutMs;
    const jobs = createJobsClient(req.ims.fetch, config.adobeApiUrl);
    const submitted = await jobs.submit(input, signal);
    req.log.info({ jobId: submitted.jobId }, 'job submitted; waiting for it');
    let polls = 0;
    let job: Job;
    try {
      job = await jobs.waitFor(submitted.jobId, { deadline, intervalMs: config.jobPollIntervalMs, signal, onPoll: () => polls++ });
    } catch (err) {
      if (err instanceof AppError && err.code === 'JOB_TIMEOUT') {
        err.extra['statusUrl'] = ownUrl(req, `/jobs/${encodeURIComponent(submitted.jobId)}`);
      }
      throw err;
    }
    req.log.info({ jobId: job.jobId, status: job.status, polls }, 'job finished');
    if (job.status !== 'succeeded')
      throw new AppError(502, 'JOB_FAILED', `The job ended with status ${job.status}.`, {
        extra: { jobId: job.jobId, jobStatus: job.status },
      });
    res.json(job);
  });

  app.get('/jobs/:id', async (req, res) => {
    const id = String(req.params['id']);
    if (!JOB_ID.test(id)) throw new AppError(400, 'INVALID_JOB_ID', 'A job id is 1–128 letters, digits, ".", "_" or "-".');
    const job = await createJobsClient(req.ims.fetch, config.adobeApiUrl).get(id, abortOnClose(res));
    if (!isFinal(job.status)) res.set('retry-after', String(Math.max(1, Math.round(config.jobPollIntervalMs / 1000))));
    res.json({ ...job, statusUrl: ownUrl(req, `/jobs/${encodeURIComponent(job.jobId)}`) });
  });

  app.use(notFound());
  app.use(imsErrorHandler({ logger: logger.child({ component: 'ims-token' }) })); // token errors → 502/503
  app.use(problemHandler(logger)); // everything else

  return {
    app,
    provider,
    logger,
    close: async () => {
      if (ownsProvider) await provider.close();
    },
  };
}

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

/** An absolute URL on this server, as the client reached it. */
function ownUrl(req: Request, path: string): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${path}`;
}

/** A signal that aborts the Adobe calls of a request whose client went away (saves polls nobody reads). */
function abortOnClose(res: Response): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort(new AppError(499, 'CLIENT_CLOSED', 'The client closed the connection.'));
  });
  return ac.signal;
}

/** One log line per request: id, method, path (no query string: it may carry data), status, duration. */
function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
    const start = process.hrtime.bigint();
    req.log = logger.child({ reqId: id });
    res.setHeader('x-request-id', id);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      req.log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms) }, 'request');
    });
    next();
  };
}

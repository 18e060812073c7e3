/**
 * The Adobe API this app calls, in one file: "submit a job, then poll its status" — the shape of Firefly
 * Services' async endpoints and the Workflow Builder API. The paths below are those of the emulator's
 * sample API; to call a real Adobe API, change `SUBMIT_PATH` / `statusPath()` and `toJob()` to its
 * documented paths and fields. Authentication is not here at all: `fetch` is `req.ims.fetch`, which adds
 * `Authorization` and `x-api-key` (and retries a 401 once with a fresh token).
 */
import { ImsTokenError } from '@ims-token/core';
import type { ImsFetch } from '@ims-token/fetch';
import { AppError } from './problem';

/** Where a submitted job goes. */
export const SUBMIT_PATH = '/api/v1/jobs';

/** The status URL of a job. */
export function statusPath(jobId: string): string {
  return `/api/v1/jobs/${encodeURIComponent(jobId)}`;
}

/** Job states; `succeeded`, `failed` and `canceled` are final. */
export type JobStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** A job as this app reports it. */
export interface Job {
  jobId: string;
  status: JobStatus;
  result?: unknown;
}

const FINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'canceled']);
const STATUSES: ReadonlySet<string> = new Set(['pending', 'running', 'succeeded', 'failed', 'canceled']);

/** True for a status that will not change any more. */
export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

/** Calls to the Adobe jobs API. */
export interface JobsClient {
  submit(input: unknown, signal?: AbortSignal): Promise<Job>;
  get(jobId: string, signal?: AbortSignal): Promise<Job>;
  /** Polls until the job is final or `deadline` (epoch ms) passes; then throws `JOB_TIMEOUT` (504). */
  waitFor(
    jobId: string,
    options: { deadline: number; intervalMs: number; signal?: AbortSignal; onPoll?: (job: Job) => void },
  ): Promise<Job>;
}

/**
 * A client for the jobs API at `apiUrl` that sends every request through `fetch`.
 *
 * @example
 * ```ts
 * const jobs = createJobsClient(req.ims.fetch, 'https://firefly-api.adobe.io')
 * const { jobId } = await jobs.submit({ prompt: 'a lighthouse at dusk' })
 * const done = await jobs.waitFor(jobId, { deadline: Date.now() + 30_000, intervalMs: 1000 })
 * ```
 */
export function createJobsClient(fetch: ImsFetch, apiUrl: string): JobsClient {
  async function call(path: string, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${apiUrl}${path}`, { ...init, headers: { accept: 'application/json', ...init.headers } });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      // A token failure (ImsTokenError) goes to imsErrorHandler as it is; anything else is a network error.
      if (ImsTokenError.is(err)) throw err;
      throw new AppError(502, 'ADOBE_API_UNREACHABLE', 'The Adobe API could not be reached.', { cause: err });
    }
    const text = await res.text();
    if (res.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new AppError(502, 'ADOBE_API_BAD_RESPONSE', 'The Adobe API answered something that is not JSON.');
      }
    }
    throw upstreamError(res, path);
  }

  async function get(jobId: string, signal?: AbortSignal): Promise<Job> {
    return toJob(await call(statusPath(jobId), { method: 'GET', ...(signal ? { signal } : {}) }), jobId);
  }

  return {
    async submit(input, signal) {
      const body = await call(SUBMIT_PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
        ...(signal ? { signal } : {}),
      });
      return toJob(body);
    },
    get,
    async waitFor(jobId, { deadline, intervalMs, signal, onPoll }) {
      for (;;) {
        const job = await get(jobId, signal);
        onPoll?.(job);
        if (isFinal(job.status)) return job;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new AppError(504, 'JOB_TIMEOUT', 'The job did not finish in time; poll its status URL.', {
            extra: { jobId, jobStatus: job.status },
          });
        }
        await sleep(Math.min(intervalMs, left), signal);
      }
    },
  };
}

/** Reads a job from the API's JSON; a field missing is a bad upstream answer, not a crash. */
function toJob(body: unknown, knownId?: string): Job {
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const jobId = typeof o['jobId'] === 'string' ? o['jobId'] : knownId;
  const status = typeof o['status'] === 'string' && STATUSES.has(o['status']) ? (o['status'] as JobStatus) : undefined;
  if (jobId === undefined || status === undefined) {
    throw new AppError(502, 'ADOBE_API_BAD_RESPONSE', 'The Adobe API answered without a job id or a known status.');
  }
  return { jobId, status, ...(o['result'] !== undefined ? { result: o['result'] } : {}) };
}

/** Maps an Adobe API error to ours, without passing its body on (it may echo headers or internals). */
function upstreamError(res: Response, path: string): AppError {
  const upstream = { upstreamStatus: res.status };
  if (res.status === 404 && path !== SUBMIT_PATH) return new AppError(404, 'JOB_NOT_FOUND', 'No job with this id.', { extra: upstream });
  if (res.status === 400 || res.status === 422) {
    return new AppError(400, 'ADOBE_API_REJECTED_INPUT', 'The Adobe API rejected the job input.', { extra: upstream });
  }
  if (res.status === 429 || res.status === 503) {
    const retryAfter = res.headers.get('retry-after');
    return new AppError(503, 'ADOBE_API_UNAVAILABLE', 'The Adobe API is busy or unavailable; try again later.', {
      extra: upstream,
      ...(retryAfter && /^\d+$/.test(retryAfter) ? { headers: { 'retry-after': retryAfter } } : {}),
    });
  }
  if (res.status === 401 || res.status === 403) {
    return new AppError(
      502,
      'ADOBE_API_FORBIDDEN',
      "The Adobe API refused this service's credential (check the API and scopes on the credential).",
      {
        extra: upstream,
      },
    );
  }
  return new AppError(502, 'ADOBE_API_ERROR', 'The Adobe API answered with an error.', { extra: upstream });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

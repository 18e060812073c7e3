import type { IncomingMessage, ServerResponse } from 'node:http';
import { ACCESS_ERROR, API_KEY_INVALID, BACKPRESSURE_LIMITED, TOKEN_INVALID } from './gateway';
import { JSON_TYPE, positiveNumber, randomHex, sendJson } from './http';
import type { EmulatorState } from './state';
import type { FaultKind, FaultRule, FaultTarget } from './types';

// Real timers, captured at load: a test that installs fake timers after importing the emulator must not freeze it.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const FAULT_KINDS: readonly FaultKind[] = [
  'status',
  'latency',
  'reset',
  'reset-mid-body',
  'hang',
  'malformed',
  'html',
  'response',
  'token-invalid',
  'api-key-invalid',
  'access-error',
  'backpressure-limited',
];
/** Fault kinds that imitate the API gateway; their default target is the sample API. */
const GATEWAY_FAULT_KINDS: readonly FaultKind[] = ['token-invalid', 'api-key-invalid', 'access-error', 'backpressure-limited'];
const FAULT_TARGETS: readonly FaultTarget[] = ['token', 'api', 'secrets', 'any'];

/** Which area a request belongs to: faults target areas, stats count them. */
export type Category = 'token' | 'api' | 'secrets' | 'control' | 'other';

export interface QueuedFault {
  rule: FaultRule;
  remaining: number;
  /** Draws in `[0, 1)` for `rule.probability`: seeded (mulberry32) or `Math.random`. */
  random: () => number;
}

/** mulberry32: a small, fast 32-bit PRNG, good enough to pick which requests fail; the same seed gives the same draws. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Queues a normalized rule with its counter and its generator. */
export function queueFault(rule: FaultRule): QueuedFault {
  return { rule, remaining: rule.times ?? 1, random: rule.seed === undefined ? Math.random : seededRandom(rule.seed) };
}

/**
 * Checks and normalizes a fault rule (also accepts `times: "Infinity"` as sent over JSON).
 *
 * @example
 * normalizeFaultRule({ kind: 'status', status: 429, retryAfter: 2, times: 'Infinity' });
 * // → { kind: 'status', target: 'token', times: Infinity, status: 429, retryAfter: 2 }
 * @throws TypeError / RangeError when the rule is not valid.
 */
export function normalizeFaultRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null) throw new TypeError('a fault rule must be an object');
  const raw = input as Record<string, unknown>;
  const kind = raw['kind'];
  if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind as FaultKind)) {
    throw new TypeError(`fault kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const target = raw['target'] ?? (GATEWAY_FAULT_KINDS.includes(kind as FaultKind) ? 'api' : 'token');
  if (typeof target !== 'string' || !FAULT_TARGETS.includes(target as FaultTarget)) {
    throw new TypeError(`fault target must be one of ${FAULT_TARGETS.join(', ')}`);
  }
  let times = raw['times'] ?? 1;
  if (times === 'Infinity' || times === 'infinity') times = Infinity;
  if (typeof times !== 'number' || Number.isNaN(times) || times < 1) throw new RangeError('fault times must be a number >= 1 or Infinity');
  const rule: FaultRule = { kind: kind as FaultKind, target: target as FaultTarget, times };
  if (raw['probability'] !== undefined) {
    const p = raw['probability'];
    if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw new RangeError('fault probability must be a number in (0, 1]');
    rule.probability = p;
  }
  if (raw['seed'] !== undefined) {
    const seed = raw['seed'];
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new TypeError('fault seed must be an integer');
    rule.seed = seed;
  }
  if (raw['status'] !== undefined) {
    const status = raw['status'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new RangeError('fault status must be an HTTP status code');
    }
    rule.status = status;
  }
  if (raw['retryAfter'] !== undefined) {
    const ra = raw['retryAfter'];
    if (typeof ra !== 'string' && typeof ra !== 'number') throw new TypeError('fault retryAfter must be a string or a number');
    rule.retryAfter = ra;
  }
  if (raw['retryAfterDate'] !== undefined) rule.retryAfterDate = positiveNumber('fault retryAfterDate', raw['retryAfterDate'], true);
  if (raw['latencyMs'] !== undefined) rule.latencyMs = positiveNumber('fault latencyMs', raw['latencyMs'], true);
  if (kind === 'latency' && rule.latencyMs === undefined) throw new TypeError('a latency fault needs latencyMs');
  if ('body' in raw) rule.body = raw['body'];
  if (raw['headers'] !== undefined) {
    const h = raw['headers'];
    if (typeof h !== 'object' || h === null) throw new TypeError('fault headers must be an object');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) headers[k] = String(v);
    rule.headers = headers;
  }
  return rule;
}

// ASSUMED: IMS's own error bodies for 429 and 5xx (IMS documents the `{error, error_description}` form, not these texts).
function faultErrorBody(status: number): { error: string; error_description: string } {
  if (status === 429) return { error: 'too_many_requests', error_description: 'Too many requests, please retry later' };
  if (status === 503) return { error: 'server_error', error_description: 'Service temporarily unavailable' };
  if (status >= 500) return { error: 'server_error', error_description: 'Internal server error' };
  return { error: 'invalid_request', error_description: `Request failed with status ${status}` };
}

function htmlPage(status: number): string {
  const title = `${status} ${status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}

/** Takes the first queued fault that targets `category` (never the control API) and, by its `probability`, applies; counts it down. */
export function takeFault(state: EmulatorState, category: Category): FaultRule | undefined {
  if (category === 'control') return undefined;
  const faults = state.faults;
  for (let i = 0; i < faults.length; i++) {
    const q = faults[i] as QueuedFault;
    const target = q.rule.target ?? 'token';
    if (target === 'any' || target === category) {
      // A request the rule skips by chance goes on to the next rule.
      if (q.rule.probability !== undefined && q.random() >= q.rule.probability) continue;
      q.remaining--;
      if (q.remaining <= 0) faults.splice(i, 1);
      state.stats.faultsApplied++;
      return q.rule;
    }
  }
  return undefined;
}

function faultHeaders(state: EmulatorState, rule: FaultRule): Record<string, string> {
  const headers: Record<string, string> = {};
  if (rule.retryAfter !== undefined) headers['retry-after'] = String(rule.retryAfter);
  if (rule.retryAfterDate !== undefined) headers['retry-after'] = new Date(state.now() + rule.retryAfterDate * 1000).toUTCString();
  for (const [k, v] of Object.entries(rule.headers ?? {})) headers[k.toLowerCase()] = v;
  return headers;
}

/** Applies a fault. Returns true when the request is answered (or dropped) by the fault. */
export async function applyFault(
  state: EmulatorState,
  rule: FaultRule,
  req: IncomingMessage,
  res: ServerResponse,
  category: Category,
): Promise<boolean> {
  const answer = (status: number, body: unknown): true => {
    if (status === 401 && category === 'api') state.stats.apiUnauthorized++;
    req.resume();
    sendJson(res, status, body, faultHeaders(state, rule));
    return true;
  };
  switch (rule.kind) {
    case 'token-invalid':
      return answer(401, TOKEN_INVALID);
    case 'api-key-invalid':
      return answer(403, API_KEY_INVALID);
    case 'access-error':
      return answer(403, ACCESS_ERROR);
    case 'backpressure-limited':
      return answer(429, BACKPRESSURE_LIMITED);
    case 'latency': {
      const timers = state.timers;
      await new Promise<void>((resolve) => {
        const t = realSetTimeout(() => {
          timers.delete(t);
          resolve();
        }, rule.latencyMs ?? 0);
        timers.add(t);
        res.once('close', () => {
          realClearTimeout(t);
          timers.delete(t);
          resolve();
        });
      });
      return res.destroyed;
    }
    case 'reset':
      req.socket.destroy();
      return true;
    case 'hang':
      // Never answer; stop() closes the connection.
      return true;
    case 'reset-mid-body': {
      const full = JSON.stringify({ access_token: `eyJ${randomHex(64)}`, token_type: 'bearer', expires_in: 86399 });
      const half = full.slice(0, Math.floor(full.length / 2));
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(full), ...(rule.headers ?? {}) });
      res.write(half, () => req.socket.destroy());
      return true;
    }
    case 'malformed': {
      const text = '{"access_token": "abc';
      res.writeHead(rule.status ?? 200, {
        'content-type': JSON_TYPE,
        'content-length': Buffer.byteLength(text),
        ...faultHeaders(state, rule),
      });
      res.end(text);
      return true;
    }
    case 'html': {
      const status = rule.status ?? 502;
      const text = htmlPage(status);
      res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text), ...faultHeaders(state, rule) });
      res.end(text);
      return true;
    }
    case 'status':
      return answer(rule.status ?? 500, faultErrorBody(rule.status ?? 500));
    case 'response': {
      const status = rule.status ?? 200;
      const headers = faultHeaders(state, rule);
      if (rule.body === undefined) {
        res.writeHead(status, { 'content-length': 0, ...headers });
        res.end();
      } else if (typeof rule.body === 'string') {
        res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(rule.body), ...headers });
        res.end(rule.body);
      } else {
        sendJson(res, status, rule.body, headers);
      }
      return true;
    }
  }
}

/** Stops every latency timer (`stop()`). */
export function clearFaultTimers(state: EmulatorState): void {
  for (const t of state.timers) realClearTimeout(t);
  state.timers.clear();
}

import type { Dispatcher } from 'undici';
import { ImsTokenError, configError } from './errors';
import { DEFAULT_IMS_URL, DEFAULT_MIN_REMAINING_MS, normalizeImsUrl, normalizeScopes } from './cache';
export { DEFAULT_IMS_URL, isLoopbackHost, normalizeImsUrl, normalizeScopes } from './cache';
import type { TokenStore } from './store';

/** A pino-compatible logger: ims-token calls `logger.warn({ code, debugId }, 'message')`. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

/** A client secret source: one or two secrets, or a function returning them (sync or async), read on every mint. */
export type ClientSecretInput = string | readonly string[] | (() => string | readonly string[] | Promise<string | readonly string[]>);

/** Options of {@link createTokenProvider}. */
export interface TokenProviderOptions {
  /** The credential's client ID (API key). */
  clientId: string;
  /**
   * The client secret, or two during a rotation (the first is tried first; on `invalid_client` the
   * provider fails over to the second and keeps it), or a function returning them.
   * Give either this or `clientSecretFile`.
   */
  clientSecret?: ClientSecretInput;
  /** A file holding one or two secrets, one per line; re-read whenever it changes and after `invalid_client`. */
  clientSecretFile?: string;
  /** Scopes to request: an array or a comma-separated string. */
  scopes: string | readonly string[];
  /** IMS base URL. Default `https://ims-na1.adobelogin.com`. Plain http only for a loopback host (the emulator). */
  imsUrl?: string;
  /** Where tokens are shared beyond this provider. Default: a new {@link MemoryStore}. */
  store?: TokenStore;
  /** Timeout of each IMS request in ms. Default 10 000. */
  timeoutMs?: number;
  /** Retries after a network error, timeout, 5xx or 429. Default 3. */
  maxRetries?: number;
  /** First backoff step in ms (full jitter, doubling). Default 250. */
  retryBaseDelayMs?: number;
  /** Longest wait between two tries, including a `Retry-After`. Default 30 000. */
  retryMaxDelayMs?: number;
  /** Refresh this long before expiry, in the background. Default: 1 h, or 10 % of shorter lifetimes, plus up to 20 % jitter. */
  refreshWindowMs?: number;
  /** Never hand out a token with less life left than this. Default 60 000 (at most 5 % of the lifetime). */
  minRemainingMs?: number;
  /** After `invalid_client` / `invalid_scope` / `unauthorized_client`, do not call IMS again for this long unless the secret changes. Default 30 000. */
  negativeCacheMs?: number;
  /** A pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** An undici dispatcher for IMS requests. Default: Node's own `http`/`https` keep-alive agents (undici's `EnvHttpProxyAgent` when `HTTPS_PROXY` / `HTTP_PROXY` is set). */
  dispatcher?: Dispatcher;
  /** The clock, in epoch ms (tests). Default `Date.now`. */
  clock?: () => number;
}

/** Options after validation and defaults. */
export interface ResolvedOptions {
  clientId: string;
  secretInput: ClientSecretInput | undefined;
  clientSecretFile: string | undefined;
  scopes: readonly string[];
  imsUrl: string;
  tokenUrl: string;
  store: TokenStore | undefined;
  timeoutMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  refreshWindowMs: number | undefined;
  minRemainingMs: number;
  negativeCacheMs: number;
  logger: Required<Logger>;
  dispatcher: Dispatcher | undefined;
  clock: () => number;
  /** True when no clock was injected (the hot path may then use the coarse clock). */
  defaultClock: boolean;
}

const isFn = (v: unknown): v is (...args: never[]) => unknown => typeof v === 'function';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
/** A real array whose every slot (holes too) holds a string. */
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && Array.from(v as unknown[]).every((s) => typeof s === 'string');

/** A string with something left after trimming, trimmed. */
function nonEmpty(value: unknown, field: string, notAString = 'must be a string'): string {
  if (typeof value !== 'string') throw configError(field, notAString);
  const s = value.trim();
  if (s === '') throw configError(field, 'must not be empty');
  return s;
}

/** The numeric options: [least, most, what a value is]. Checked in this order, after the fields above them. */
const WHOLE_NUMBERS = {
  timeoutMs: [1, 600_000, 'number of milliseconds'],
  maxRetries: [0, 20, 'number'],
  retryBaseDelayMs: [0, 60_000, 'number of milliseconds'],
  retryMaxDelayMs: [0, 600_000, 'number of milliseconds'],
  refreshWindowMs: [0, 7 * 86_400_000, 'number of milliseconds'],
  minRemainingMs: [0, 86_400_000, 'number of milliseconds'],
  negativeCacheMs: [0, 86_400_000, 'number of milliseconds'],
} as const satisfies Record<string, readonly [number, number, string]>;

function checkWholeNumber(field: keyof typeof WHOLE_NUMBERS, value: unknown): void {
  if (value === undefined) return;
  const [least, most, unit] = WHOLE_NUMBERS[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw configError(field, `must be a ${unit}`);
  if (!Number.isSafeInteger(value)) throw configError(field, `must be a whole ${unit}`);
  if (value < least) throw configError(field, least === 0 ? 'must not be negative' : `must be at least ${least}`);
  if (value > most) throw configError(field, `must be at most ${most}`);
}

/** `clientSecret` as given, strings trimmed; a function is called only when a token is minted. */
function checkSecretInput(value: unknown): ClientSecretInput | undefined {
  if (value === undefined || isFn(value)) return value as ClientSecretInput | undefined;
  if (typeof value === 'string') return nonEmpty(value, 'clientSecret');
  if (isStrings(value)) {
    if (value.length === 0) throw configError('clientSecret', 'must hold one or two secrets');
    if (value.length > 2) throw configError('clientSecret', 'may hold at most two secrets (Adobe allows two per credential)');
    return value.map((s, i) => nonEmpty(s, `clientSecret.${i}`));
  }
  throw configError('clientSecret', 'must be a non-empty string, an array of one or two strings, or a function returning them');
}

const noop = (): void => {};

/** Validates options; throws `IMS_CONFIG` naming the field (never its value). */
export function resolveOptions(input: TokenProviderOptions): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ImsTokenError(
      'IMS_CONFIG',
      'createTokenProvider needs an options object: { clientId, clientSecret, scopes } (or use fromEnv()).',
    );
  }
  // Field by field, in this order, naming the field and never its value: the first problem is the one reported.
  const clientId = nonEmpty(input.clientId, 'clientId', 'is required (the API key of the OAuth Server-to-Server credential)');
  if (/[\s,]/.test(clientId)) throw configError('clientId', 'must not contain spaces or commas');
  const secretInput = checkSecretInput(input.clientSecret);
  const clientSecretFile = input.clientSecretFile === undefined ? undefined : nonEmpty(input.clientSecretFile, 'clientSecretFile');
  if (typeof input.scopes !== 'string' && !isStrings(input.scopes)) {
    throw configError('scopes', 'must be an array of scopes or a comma-separated string');
  }
  if (input.imsUrl !== undefined && typeof input.imsUrl !== 'string') throw configError('imsUrl', 'must be a URL string');
  const { store, logger, dispatcher, clock } = input;
  if (store !== undefined && !(isObject(store) && isFn(store.get) && isFn(store.set) && isFn(store.delete))) {
    throw configError('store', 'must implement get, set and delete (a TokenStore)');
  }
  for (const field of Object.keys(WHOLE_NUMBERS) as (keyof typeof WHOLE_NUMBERS)[]) checkWholeNumber(field, input[field]);
  if (logger !== undefined && !isObject(logger)) throw configError('logger', 'must be a logger object (pino-compatible)');
  if (dispatcher !== undefined && !(isObject(dispatcher) && isFn(dispatcher.dispatch))) {
    throw configError('dispatcher', 'must be an undici Dispatcher');
  }
  if (clock !== undefined && !isFn(clock)) throw configError('clock', 'must be a function returning epoch milliseconds');
  if (secretInput === undefined && clientSecretFile === undefined) {
    throw configError('clientSecret', 'is required (or give clientSecretFile / IMS_CLIENT_SECRET_FILE)');
  }
  if (secretInput !== undefined && clientSecretFile !== undefined) {
    throw configError('clientSecretFile', 'is set together with clientSecret; give only one of them');
  }
  const imsUrl = normalizeImsUrl(input.imsUrl ?? DEFAULT_IMS_URL);
  const log: Logger = logger ?? {};
  const bind = (m: keyof Logger): ((obj: object, msg?: string) => void) => {
    const f = log[m];
    return typeof f === 'function' ? f.bind(log) : noop;
  };
  return {
    clientId,
    secretInput,
    clientSecretFile,
    scopes: normalizeScopes(input.scopes),
    imsUrl,
    tokenUrl: `${imsUrl}/ims/token/v3`,
    store,
    timeoutMs: input.timeoutMs ?? 10_000,
    maxRetries: input.maxRetries ?? 3,
    retryBaseDelayMs: input.retryBaseDelayMs ?? 250,
    retryMaxDelayMs: input.retryMaxDelayMs ?? 30_000,
    refreshWindowMs: input.refreshWindowMs,
    minRemainingMs: input.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS,
    negativeCacheMs: input.negativeCacheMs ?? 30_000,
    logger: { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') },
    dispatcher,
    clock: clock ?? ((): number => Date.now()),
    defaultClock: clock === undefined,
  };
}

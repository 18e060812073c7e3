import * as z from 'zod/mini';
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
  /** The undici dispatcher for IMS requests. Default: one keep-alive `Agent` per provider. */
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

// Built on first use, not at import: constructing zod schemas costs load time that a CLI or a cold
// serverless start would pay even when it never validates anything.
let schemaCache: ReturnType<typeof buildSchema> | undefined;
function buildSchema() {
  const nonEmpty = z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, { error: 'must not be empty' }));
  const isFn = (v: unknown): boolean => typeof v === 'function';
  const ms = (max: number) =>
    z.optional(
      z
        .number({ error: 'must be a number of milliseconds' })
        .check(
          z.int({ error: 'must be a whole number of milliseconds' }),
          z.gte(0, { error: 'must not be negative' }),
          z.lte(max, { error: `must be at most ${max}` }),
        ),
    );

  return z.object({
    clientId: z
      .string({ error: 'is required (the API key of the OAuth Server-to-Server credential)' })
      .check(
        z.trim(),
        z.minLength(1, { error: 'must not be empty' }),
        z.regex(/^[^\s,]+$/, { error: 'must not contain spaces or commas' }),
      ),
    clientSecret: z.optional(
      z.union(
        [
          nonEmpty,
          z
            .array(nonEmpty)
            .check(
              z.minLength(1, { error: 'must hold one or two secrets' }),
              z.maxLength(2, { error: 'may hold at most two secrets (Adobe allows two per credential)' }),
            ),
          z.custom<() => unknown>(isFn),
        ],
        { error: 'must be a non-empty string, an array of one or two strings, or a function returning them' },
      ),
    ),
    clientSecretFile: z.optional(nonEmpty),
    scopes: z.union([z.string(), z.array(z.string({ error: 'must be strings' }))], {
      error: 'must be an array of scopes or a comma-separated string',
    }),
    imsUrl: z.optional(z.string({ error: 'must be a URL string' })),
    store: z.optional(
      z.custom<TokenStore>(
        (v) =>
          typeof v === 'object' && v !== null && ['get', 'set', 'delete'].every((m) => isFn((v as unknown as Record<string, unknown>)[m])),
        { error: 'must implement get, set and delete (a TokenStore)' },
      ),
    ),
    timeoutMs: z.optional(
      z
        .number({ error: 'must be a number of milliseconds' })
        .check(
          z.int({ error: 'must be a whole number of milliseconds' }),
          z.gte(1, { error: 'must be at least 1' }),
          z.lte(600_000, { error: 'must be at most 600000' }),
        ),
    ),
    maxRetries: z.optional(
      z
        .number({ error: 'must be a number' })
        .check(
          z.int({ error: 'must be a whole number' }),
          z.gte(0, { error: 'must not be negative' }),
          z.lte(20, { error: 'must be at most 20' }),
        ),
    ),
    retryBaseDelayMs: ms(60_000),
    retryMaxDelayMs: ms(600_000),
    refreshWindowMs: ms(7 * 86_400_000),
    minRemainingMs: ms(86_400_000),
    negativeCacheMs: ms(86_400_000),
    logger: z.optional(
      z.custom<Logger>((v) => typeof v === 'object' && v !== null, { error: 'must be a logger object (pino-compatible)' }),
    ),
    dispatcher: z.optional(
      z.custom<Dispatcher>((v) => typeof v === 'object' && v !== null && isFn((v as unknown as Record<string, unknown>).dispatch), {
        error: 'must be an undici Dispatcher',
      }),
    ),
    clock: z.optional(z.custom<() => number>(isFn, { error: 'must be a function returning epoch milliseconds' })),
  });
}

const noop = (): void => {};

/** Validates options; throws `IMS_CONFIG` naming the field (never its value). */
export function resolveOptions(input: TokenProviderOptions): ResolvedOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ImsTokenError(
      'IMS_CONFIG',
      'createTokenProvider needs an options object: { clientId, clientSecret, scopes } (or use fromEnv()).',
    );
  }
  const parsed = (schemaCache ??= buildSchema()).safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.map(String).join('.') : 'options';
    throw configError(field, issue.message === 'Invalid input' ? 'is invalid' : issue.message);
  }
  const o = parsed.data;
  if (o.clientSecret === undefined && o.clientSecretFile === undefined) {
    throw configError('clientSecret', 'is required (or give clientSecretFile / IMS_CLIENT_SECRET_FILE)');
  }
  if (o.clientSecret !== undefined && o.clientSecretFile !== undefined) {
    throw configError('clientSecretFile', 'is set together with clientSecret; give only one of them');
  }
  const imsUrl = normalizeImsUrl(o.imsUrl ?? DEFAULT_IMS_URL);
  const logger = input.logger ?? {};
  const bind = (m: keyof Logger): ((obj: object, msg?: string) => void) => {
    const f = logger[m];
    return typeof f === 'function' ? f.bind(logger) : noop;
  };
  return {
    clientId: o.clientId,
    secretInput:
      input.clientSecret === undefined
        ? undefined
        : typeof input.clientSecret === 'function'
          ? input.clientSecret
          : (o.clientSecret as string | string[]),
    clientSecretFile: o.clientSecretFile,
    scopes: normalizeScopes(o.scopes),
    imsUrl,
    tokenUrl: `${imsUrl}/ims/token/v3`,
    store: input.store,
    timeoutMs: o.timeoutMs ?? 10_000,
    maxRetries: o.maxRetries ?? 3,
    retryBaseDelayMs: o.retryBaseDelayMs ?? 250,
    retryMaxDelayMs: o.retryMaxDelayMs ?? 30_000,
    refreshWindowMs: o.refreshWindowMs,
    minRemainingMs: o.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS,
    negativeCacheMs: o.negativeCacheMs ?? 30_000,
    logger: { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') },
    dispatcher: input.dispatcher,
    clock: input.clock ?? (() => Date.now()),
    defaultClock: input.clock === undefined,
  };
}

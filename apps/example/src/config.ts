import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ImsTokenError, fromEnv, isLoopbackHost } from '@ims-token/core';
import type { TokenProviderOptions } from '@ims-token/core';
import * as z from 'zod';

/** Everything the app needs, validated. Build it with {@link loadConfig}; tests may spread and override it. */
export interface AppConfig {
  /** Interface to listen on (`HOST`). */
  host: string;
  /** Port to listen on (`PORT`); `0` picks a free one. */
  port: number;
  /** `false` when `PORT` was not set: then a busy default port falls back to a free one instead of failing. */
  portIsExplicit: boolean;
  /** pino level (`LOG_LEVEL`). */
  logLevel: LogLevel;
  /** `json`, `pretty`, or `auto` = pretty on a terminal when pino-pretty is installed (`LOG_FORMAT`). */
  logFormat: 'json' | 'pretty' | 'auto';
  /** Base URL of the Adobe API the job routes call (`ADOBE_API_URL`), without a trailing slash. */
  adobeApiUrl: string;
  /** Hosts that get the IMS credentials: `*.adobe.io` plus the host of `adobeApiUrl`. */
  allowedHosts: string[];
  /** Options for `createTokenProvider()` of `@ims-token/core`, from the `IMS_*` variables. */
  ims: TokenProviderOptions;
  /** Pause between two status requests while `POST /jobs/run` waits (`JOB_POLL_INTERVAL_MS`). */
  jobPollIntervalMs: number;
  /** How long `POST /jobs/run` waits for a job before it answers 504 (`JOB_RUN_TIMEOUT_MS`). */
  jobRunTimeoutMs: number;
  /** How long a shutdown waits for requests in flight before it closes them (`SHUTDOWN_TIMEOUT_MS`). */
  shutdownTimeoutMs: number;
  /** True when the app talks to the built-in emulator instead of Adobe. */
  emulator: boolean;
}

/** pino's levels. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** A bad or missing environment variable. `variables` names them; the message never contains their values. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The variables at fault, e.g. `['PORT']`. */
  readonly variables: string[];

  constructor(message: string, variables: string[]) {
    super(message);
    this.variables = variables;
  }
}

type Env = Record<string, string | undefined>;

// '' counts as unset, so a copied .env.example with empty values means "use the default".
const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());
const integer = (min: number, max: number, what: string) =>
  z.coerce.number({ error: `must be ${what}` }).refine((n) => Number.isInteger(n) && n >= min && n <= max, `must be ${what}`);

const httpUrl = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    if (!URL.canParse(s)) return void ctx.addIssue({ code: 'custom', message: 'must be a URL such as https://firefly-api.adobe.io' });
    const u = new URL(s);
    if (!(u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname)))) {
      ctx.addIssue({ code: 'custom', message: 'must use https (plain http only for a loopback host such as the emulator)' });
    } else if (u.username || u.password || u.search || u.hash) {
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials, a query string or a fragment' });
    }
  });

const schema = z.object({
  PORT: optional(integer(0, 65535, 'a port number from 0 to 65535')),
  HOST: optional(
    z
      .string()
      .trim()
      .regex(/^[\w.:[\]-]+$/, 'must be a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0'),
  ),
  LOG_LEVEL: optional(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
  ),
  LOG_FORMAT: optional(z.enum(['json', 'pretty', 'auto'], { error: 'must be json, pretty or auto' })),
  ADOBE_API_URL: optional(httpUrl),
  JOB_POLL_INTERVAL_MS: optional(integer(10, 60_000, 'a number of milliseconds from 10 to 60000')),
  JOB_RUN_TIMEOUT_MS: optional(integer(100, 600_000, 'a number of milliseconds from 100 to 600000')),
  SHUTDOWN_TIMEOUT_MS: optional(integer(0, 600_000, 'a number of milliseconds from 0 to 600000')),
});

/** The variables `.env.example` documents, in the order it lists them. */
export const CONFIG_VARIABLES = [
  'IMS_CLIENT_ID',
  'IMS_CLIENT_SECRET',
  'IMS_CLIENT_SECRET_NEXT',
  'IMS_CLIENT_SECRET_FILE',
  'IMS_SCOPES',
  'IMS_URL',
  'IMS_TOKEN_CACHE',
  'ADOBE_API_URL',
  ...(Object.keys(schema.shape).filter((k) => k !== 'ADOBE_API_URL') as string[]),
  'ENV_FILE',
] as const;

/**
 * Validates the environment and returns the app's configuration. Throws {@link ConfigError} naming every
 * bad variable (never its value). `IMS_*` variables are checked by `fromEnv()` of `@ims-token/core`.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env)
 * const server = await startServer(config)
 * ```
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])} ${i.message}`);
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`, names);
  }
  const v = parsed.data;

  let ims: TokenProviderOptions;
  try {
    ims = fromEnv(env);
  } catch (err) {
    if (!ImsTokenError.is(err)) throw err;
    const name = /^(IMS_[A-Z_]+)/.exec(err.message)?.[1] ?? 'IMS_*';
    throw new ConfigError(`Invalid configuration:\n  ${err.message}`, [name]);
  }
  if (v.ADOBE_API_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  ADOBE_API_URL is not set (the base URL of the Adobe API to call, e.g. https://firefly-api.adobe.io)',
      ['ADOBE_API_URL'],
    );
  }
  const adobeApiUrl = v.ADOBE_API_URL.replace(/\/+$/, '');
  const apiHost = new URL(adobeApiUrl).hostname;

  return {
    host: v.HOST ?? '127.0.0.1',
    port: v.PORT ?? 3000,
    portIsExplicit: v.PORT !== undefined,
    logLevel: v.LOG_LEVEL ?? 'info',
    logFormat: v.LOG_FORMAT ?? 'auto',
    adobeApiUrl,
    allowedHosts: [...new Set(['*.adobe.io', apiHost])],
    ims,
    jobPollIntervalMs: v.JOB_POLL_INTERVAL_MS ?? 1000,
    jobRunTimeoutMs: v.JOB_RUN_TIMEOUT_MS ?? 25_000,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS ?? 30_000,
    emulator: false,
  };
}

/** True when no credential is configured, so the app should start the built-in emulator. */
export function wantsEmulator(env: Env = process.env): boolean {
  return (env['IMS_CLIENT_ID'] ?? '').trim() === '';
}

/** The `IMS_*` / `ADOBE_*` variables that emulator mode replaces (reported so that nothing is ignored silently). */
export function ignoredInEmulatorMode(env: Env): string[] {
  return Object.keys(env).filter((k) => (k.startsWith('IMS_') || k === 'ADOBE_API_URL') && (env[k] ?? '').trim() !== '');
}

/**
 * `env` pointed at an emulator: its default client, its IMS and its sample API, with an in-memory token
 * cache. Every other variable (PORT, LOG_LEVEL, …) is kept.
 *
 * @example
 * ```ts
 * const emu = await startEmulator()
 * const config = loadConfig(emulatorEnv(process.env, emu.url, { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }))
 * ```
 */
export function emulatorEnv(env: Env, emulatorUrl: string, client: { clientId: string; clientSecret: string }): Env {
  const out: Env = {};
  for (const [k, val] of Object.entries(env)) if (!k.startsWith('IMS_') && k !== 'ADOBE_API_URL') out[k] = val;
  return {
    ...out,
    IMS_CLIENT_ID: client.clientId,
    IMS_CLIENT_SECRET: client.clientSecret,
    IMS_SCOPES: 'openid,AdobeID,firefly_api',
    IMS_URL: emulatorUrl,
    IMS_TOKEN_CACHE: 'memory',
    ADOBE_API_URL: emulatorUrl,
  };
}

/**
 * Loads `KEY=value` lines from a `.env` file into `env` without overriding variables that are already
 * set (the same rule as `node --env-file`). Uses `process.loadEnvFile` (Node ≥ 20.12) when `env` is
 * `process.env`, else a small parser. Returns the path it read, or `undefined` when there is no file.
 *
 * @example
 * ```ts
 * loadDotEnv(process.env.ENV_FILE ?? '.env')
 * const config = loadConfig()
 * ```
 */
export function loadDotEnv(path: string, env: Env = process.env): string | undefined {
  const file = resolve(path);
  if (!existsSync(file)) return undefined;
  if (env === process.env && typeof process.loadEnvFile === 'function') {
    process.loadEnvFile(file);
    return file;
  }
  for (const [k, val] of Object.entries(parseDotEnv(readFileSync(file, 'utf8')))) if (env[k] === undefined) env[k] = val;
  return file;
}

/** Parses a `.env` file: `KEY=value`, optional `export `, `#` comments, single or double quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let value = m[2] ?? '';
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n');
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    out[m[1]!] = value;
  }
  return out;
}

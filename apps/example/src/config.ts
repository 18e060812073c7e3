import { existsSync } from 'node:fs';
import { ImsTokenError, fromEnv, isLoopbackHost } from '@ims-token/core';
import type { TokenProviderOptions } from '@ims-token/core';
import * as z from 'zod';

type Env = Record<string, string | undefined>;

const whole = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: `must be ${what}` })
    .int(`must be ${what}`)
    .min(min, `must be ${what}`)
    .max(max, `must be ${what}`);

const schema = z.object({
  ADOBE_API_URL: z
    .string({ error: 'is not set (the base URL of the Adobe API to call, e.g. https://firefly-api.adobe.io)' })
    .refine((s) => URL.canParse(s), { error: 'must be a URL such as https://firefly-api.adobe.io', abort: true })
    .refine((s) => {
      const u = new URL(s);
      return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
    }, 'must use https (plain http only for a loopback host such as the emulator)'),
  PORT: whole(0, 65535, 'a port number from 0 to 65535').default(3000),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  JOB_POLL_INTERVAL_MS: whole(10, 60_000, 'a number of milliseconds from 10 to 60000').default(1000),
  JOB_RUN_TIMEOUT_MS: whole(100, 600_000, 'a number of milliseconds from 100 to 600000').default(25_000),
  SHUTDOWN_TIMEOUT_MS: whole(0, 600_000, 'a number of milliseconds from 0 to 600000').default(30_000),
});

/** The app's configuration: the variables above with their defaults, plus the token provider's options. */
export type AppConfig = z.infer<typeof schema> & {
  /** Hosts that get the IMS credentials: `*.adobe.io` plus the host of `ADOBE_API_URL`. */
  allowedHosts: string[];
  /** `createTokenProvider()` options from the `IMS_*` variables, read by `fromEnv()` of `@ims-token/core`. */
  ims: TokenProviderOptions;
};

/** Bad or missing variables: the message lists every one of them (never a value). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.message}`).join('\n')}`);
  }
}

/**
 * Validates the environment and returns the configuration, or throws a {@link ConfigError} that names
 * every bad variable at once. An empty value counts as unset (a copied `.env.example` means "defaults").
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const set: Env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const problems: Array<{ variable: string; message: string }> = [];
  const parsed = schema.safeParse(set);
  if (!parsed.success)
    for (const i of parsed.error.issues) problems.push({ variable: String(i.path[0]), message: `${String(i.path[0])} ${i.message}` });
  const ims = imsOptions(set, problems);
  if (!parsed.success || ims === undefined) throw new ConfigError(problems);
  const adobeApiUrl = parsed.data.ADOBE_API_URL.replace(/\/+$/, '');
  return { ...parsed.data, ADOBE_API_URL: adobeApiUrl, allowedHosts: [...new Set(['*.adobe.io', new URL(adobeApiUrl).hostname])], ims };
}

/**
 * `fromEnv()` of `@ims-token/core` checks the `IMS_*` variables and stops at the first bad one. To name all
 * of them in one start, ask again with the one at fault stood in for (dropped if set, a placeholder if not).
 */
function imsOptions(env: Env, problems: Array<{ variable: string; message: string }>): TokenProviderOptions | undefined {
  const trial = { ...env };
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    try {
      const options = fromEnv(trial);
      return seen.size === 0 ? options : undefined;
    } catch (err) {
      if (!ImsTokenError.is(err) || err.code !== 'IMS_CONFIG' || err.field === undefined) throw err;
      if (!seen.has(err.field)) problems.push({ variable: err.field, message: err.message.replace(/\.$/, '') });
      seen.add(err.field);
      if (trial[err.field] !== undefined) delete trial[err.field];
      else trial[err.field] = 'placeholder';
    }
  }
  return undefined;
}

/**
 * Loads `.env` (or the file `ENV_FILE` names) into `process.env`. Variables already set in the real
 * environment win over the file — the same rule as `node --env-file` and the `ims-token` CLI.
 * Returns the path read, or `undefined` when there is no `.env`.
 */
export function loadDotEnv(): string | undefined {
  const named = process.env['ENV_FILE'];
  const file = named ?? '.env';
  if (!existsSync(file)) {
    if (named !== undefined) throw new ConfigError([{ variable: 'ENV_FILE', message: `ENV_FILE names ${file}, which does not exist` }]);
    return undefined;
  }
  process.loadEnvFile(file);
  return file;
}

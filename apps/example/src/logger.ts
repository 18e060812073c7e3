import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from './config';

/** Never log these, wherever they appear (our code does not log them; this is the seat belt). */
const REDACT = [
  'authorization',
  '*.authorization',
  'clientSecret',
  '*.clientSecret',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
];

/**
 * The app's pino logger: JSON lines on stdout, or pino-pretty's format when `logFormat` is `pretty`
 * (or `auto` on a terminal) and the optional dev dependency pino-pretty is installed.
 *
 * @example
 * ```ts
 * const logger = createLogger({ logLevel: 'info', logFormat: 'auto' })
 * ```
 */
export function createLogger(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } };
  const wantPretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const pretty = wantPretty ? loadPretty() : undefined;
  // Synchronous writes: lines stay in order with the start-up banner and none is lost at process.exit().
  // For a very high log volume, `pino.destination({ sync: false })` is faster.
  const logger = pino(options, pretty ?? pino.destination({ dest: 1, sync: true }));
  if (config.logFormat === 'pretty' && !pretty) logger.warn('LOG_FORMAT=pretty needs the dev dependency pino-pretty; logging JSON');
  return logger;
}

/** pino-pretty as an in-process stream (no worker thread, so nothing is lost at exit), or undefined. */
function loadPretty(): DestinationStream | undefined {
  try {
    const req = createRequire(import.meta.url);
    const mod = req('pino-pretty') as PrettyFactory | { default?: PrettyFactory };
    const factory = typeof mod === 'function' ? mod : mod.default;
    return factory?.({ sync: true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });
  } catch {
    return undefined;
  }
}

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

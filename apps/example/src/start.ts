/**
 * What `node dist/main.js` (and `dist/dev.js`) run: read `.env`, validate the configuration, listen,
 * and on SIGTERM / SIGINT stop gracefully. Exit codes: 0 after a clean stop, 1 when it could not start
 * or had to cut requests off, 2 for a bad configuration.
 */
import { ConfigError, loadConfig, loadDotEnv } from './config';
import type { AppConfig } from './config';
import { startMetrics } from './metrics';
import type { Metrics } from './metrics';
import { startServer } from './server';

/** `note`: a line for the start-up banner (the dev entry says it is talking to the emulator). */
export async function start(options: { note?: string } = {}): Promise<void> {
  let config: AppConfig;
  let metrics: Metrics | undefined;
  try {
    loadDotEnv();
    config = loadConfig();
    metrics = await startMetrics(process.env, config.HOST); // before the app creates its token provider
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(
      `${err.message}\nEvery variable is described in .env.example. To try the app without an Adobe credential, run \`npm run dev\` (a local IMS emulator).\n`,
    );
    process.exit(2);
  }

  const server = await startServer(config).catch((err: NodeJS.ErrnoException) => {
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${config.PORT} on ${config.HOST} is in use (set PORT to another one; 0 picks a free one)`
        : err.message;
    process.stderr.write(`Could not start: ${why}\n`);
    process.exit(1);
  });
  const { logger } = server.example;

  let stopping = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping > 0) {
      // Ctrl+C reaches us twice at once (from the terminal, and passed on by npm/pnpm): only a later one forces.
      if (Date.now() - stopping < 1000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = Date.now();
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    void server.close().then(async ({ forced }) => {
      await metrics?.close();
      logger.info({ forced }, 'stopped');
      process.exit(forced ? 1 : 0);
    });
  };
  // Handlers first, then the lines that say we are up: a signal sent on seeing them always finds a handler.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logger.info({ url: server.url, ...(metrics ? { metrics: metrics.url } : {}) }, 'listening');
  if (options.note !== undefined || process.stdout.isTTY) process.stdout.write(banner(server.url, options.note));
}

function banner(url: string, note = 'Talking to Adobe with the credential in IMS_CLIENT_ID.'): string {
  const job = `-H 'content-type: application/json' -d '{"prompt":"a lighthouse at dusk"}'`;
  return [
    '',
    `ims-token example listening on ${url}`,
    note,
    '',
    'Try:',
    `  curl -s ${url}/readyz`,
    `  curl -s -X POST ${url}/jobs/run ${job}`,
    `  curl -s -X POST ${url}/jobs ${job}`,
    '',
    'Routes, errors and how to point it at your Adobe API: README.md. Stop with Ctrl+C.',
    '',
    '',
  ].join('\n');
}

/**
 * The entry point (`node dist/main.js`): reads `.env`, validates the configuration, starts the built-in
 * IMS emulator when no credential is set, listens, and shuts down gracefully on SIGTERM / SIGINT.
 *
 * Exit codes: 0 after a clean shutdown, 1 when it could not start or had to cut requests off at
 * shutdown, 2 for a bad configuration.
 */
import type { Emulator } from '@ims-token/emulator';
import { ConfigError, emulatorEnv, ignoredInEmulatorMode, loadConfig, loadDotEnv, wantsEmulator } from './config';
import type { AppConfig } from './config';
import { startMetrics } from './metrics';
import type { Metrics } from './metrics';
import { PortInUseError, startServer } from './server';
import type { RunningServer } from './server';

async function main(): Promise<void> {
  let config: AppConfig;
  let emulator: Emulator | undefined;
  let metrics: Metrics | undefined;
  let ignored: string[] = [];
  try {
    const envFile = process.env['ENV_FILE'];
    const read = loadDotEnv(envFile ?? '.env');
    if (envFile !== undefined && read === undefined)
      throw new ConfigError(`Invalid configuration:\n  ENV_FILE points to a file that does not exist`, ['ENV_FILE']);
    let env: Record<string, string | undefined> = process.env;
    if (wantsEmulator(env)) {
      ignored = ignoredInEmulatorMode(env);
      // Loaded only in emulator mode; a service that always has credentials can drop this branch.
      const { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = await import('@ims-token/emulator');
      emulator = await startEmulator();
      env = emulatorEnv(env, emulator.url, { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET });
    }
    config = { ...loadConfig(env), emulator: emulator !== undefined };
    metrics = await startMetrics(env, config.host); // before the app creates its token provider
  } catch (err) {
    await emulator?.stop();
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable and its format.\n`);
      process.exit(2);
    }
    throw err;
  }

  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (err) {
    await metrics?.close();
    await emulator?.stop();
    if (err instanceof PortInUseError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { logger } = server.example;
  if (ignored.length > 0)
    logger.warn({ ignored }, 'IMS_CLIENT_ID is not set, so the built-in emulator is used and these variables are ignored');
  logger.info(
    {
      url: server.url,
      adobe: emulator ? 'emulator' : config.adobeApiUrl,
      imsUrl: emulator ? 'emulator' : (config.ims.imsUrl ?? 'default'),
      ...(metrics ? { metrics: metrics.url } : {}),
    },
    'listening',
  );
  if (emulator || process.stdout.isTTY) {
    const text = banner(server.url, emulator?.url, server.portFellBack ? config.port : undefined);
    process.stdout.write(text);
  }

  let stoppingSince = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (stoppingSince > 0) {
      // Ctrl+C reaches us twice at once (from the terminal, and forwarded by pnpm/npm): only a later one forces.
      if (Date.now() - stoppingSince < 1000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    server
      .close()
      .then(async ({ forced }) => {
        await metrics?.close();
        await emulator?.stop();
        logger.info({ forced }, 'stopped');
        process.exit(forced ? 1 : 0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop); // a second signal forces the exit
  process.on('SIGINT', stop);
}

function banner(url: string, emulatorUrl: string | undefined, busyPort: number | undefined): string {
  const job = `-H 'content-type: application/json' -d '{"prompt":"a lighthouse at dusk"}'`;
  const mode = emulatorUrl
    ? `Talking to the built-in Adobe IMS emulator at ${emulatorUrl} (no IMS_CLIENT_ID set).\nFor real Adobe credentials, see apps/example/README.md.`
    : 'Talking to Adobe with the credential in IMS_CLIENT_ID.';
  return [
    '',
    `ims-token example listening on ${url}`,
    ...(busyPort === undefined ? [] : [`(port ${busyPort} is in use, so a free port was taken; set PORT to choose one)`]),
    mode,
    '',
    'Try:',
    `  curl -s ${url}/healthz`,
    `  curl -s -X POST ${url}/jobs/run ${job}`,
    `  curl -s -X POST ${url}/jobs ${job}`,
    '',
    'Stop with Ctrl+C.',
    '',
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`Could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

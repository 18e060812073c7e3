import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import type { CreateAppOptions, ExampleApp } from './app';
import type { AppConfig } from './config';

/** A running server from {@link startServer}. */
export interface RunningServer {
  /** e.g. `http://127.0.0.1:3000` */
  url: string;
  port: number;
  server: Server;
  /** The app, its provider and logger. */
  example: ExampleApp;
  /** True when the configured default port was busy and a free one was taken instead. */
  portFellBack: boolean;
  /**
   * Graceful stop: stop accepting connections, let requests in flight finish (closing their connections
   * afterwards), wait at most `config.shutdownTimeoutMs`, then close the token provider. Resolves with
   * `forced: true` when requests had to be cut off. Calling it again returns the same promise.
   */
  close(): Promise<{ forced: boolean }>;
}

/** The port is taken and `PORT` was set explicitly. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly port: number;
  constructor(host: string, port: number) {
    super(`Port ${port} on ${host} is already in use. Stop what is using it, or set PORT to another port (PORT=0 picks a free one).`);
    this.port = port;
  }
}

/**
 * Creates the app and listens on `config.host:config.port`. When `PORT` was not set and the default port
 * is busy, it takes a free port instead (and says so in the log); an explicit busy `PORT` throws
 * {@link PortInUseError}.
 *
 * @example
 * ```ts
 * const server = await startServer(loadConfig())
 * console.log(server.url)
 * process.once('SIGTERM', () => server.close().then(() => process.exit(0)))
 * ```
 */
export async function startServer(config: AppConfig, options: CreateAppOptions = {}): Promise<RunningServer> {
  const example = createApp(config, options);
  const server = createServer(example.app);
  const inFlight = new Set<ServerResponse>();
  let closing: Promise<{ forced: boolean }> | undefined;

  // Runs before Express sees the request: track it, and once we are closing, ask the client to
  // reconnect elsewhere for its next request (the one it sent is still answered).
  server.prependListener('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    if (closing) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
  });

  let portFellBack = false;
  try {
    await listen(server, config.port, config.host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      await example.close();
      throw err;
    }
    if (config.portIsExplicit || config.port === 0) {
      await example.close();
      throw new PortInUseError(config.host, config.port);
    }
    await listen(server, 0, config.host);
    portFellBack = true;
    example.logger.warn(
      { wanted: config.port },
      `port ${config.port} is in use; listening on a free port instead (set PORT to choose one)`,
    );
  }
  const port = (server.address() as AddressInfo).port;
  const host =
    config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;

  function close(): Promise<{ forced: boolean }> {
    closing ??= new Promise((resolve) => {
      let forced = false;
      const timer = setTimeout(() => {
        forced = inFlight.size > 0;
        if (forced) example.logger.warn({ inFlight: inFlight.size }, 'shutdown timeout: closing requests still in flight');
        server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      server.close(() => {
        clearTimeout(timer);
        example.close().then(
          () => resolve({ forced }),
          () => resolve({ forced }),
        );
      });
      server.closeIdleConnections();
    });
    return closing;
  }

  return { url: `http://${host}:${port}`, port, server, example, portFellBack, close };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

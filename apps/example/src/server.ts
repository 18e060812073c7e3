import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApp } from './app';
import type { ExampleApp } from './app';
import type { AppConfig } from './config';

/** A running server from {@link startServer}. */
export interface RunningServer {
  /** e.g. `http://127.0.0.1:3000` */
  url: string;
  server: Server;
  example: ExampleApp;
  /**
   * Graceful stop: stop accepting connections, let requests in flight finish (closing their connections
   * afterwards), at most `SHUTDOWN_TIMEOUT_MS`, then close the token provider. `forced` is true when
   * requests had to be cut off. Calling it again returns the same promise.
   */
  close(): Promise<{ forced: boolean }>;
}

/** Creates the app and listens on `HOST:PORT` (`PORT=0` picks a free port). */
export async function startServer(config: AppConfig, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const example = createApp(config, options);
  const server = createServer(example.app);
  const inFlight = new Set<ServerResponse>();
  let closing: Promise<{ forced: boolean }> | undefined;

  // Track requests in flight; once closing, ask each client to reconnect elsewhere for its next request.
  server.prependListener('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    if (closing) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, resolve);
    });
  } catch (err) {
    await example.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const host =
    config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;

  function close(): Promise<{ forced: boolean }> {
    closing ??= new Promise((resolve) => {
      let forced = false;
      const timer = setTimeout(() => {
        forced = inFlight.size > 0;
        if (forced) example.logger.warn({ inFlight: inFlight.size }, 'shutdown timeout: closing requests still in flight');
        server.closeAllConnections();
      }, config.SHUTDOWN_TIMEOUT_MS);
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      server.close(() => {
        clearTimeout(timer);
        example.close().finally(() => resolve({ forced }));
      });
      server.closeIdleConnections();
    });
    return closing;
  }

  return { url: `http://${host}:${port}`, server, example, close };
}

/**
 * Token metrics for Prometheus, when `METRICS=prometheus`: `@ims-token/otel` records them through the
 * OpenTelemetry SDK, whose Prometheus exporter serves them at `http://HOST:METRICS_PORT/metrics` (default port
 * 9464, the exporter's registered one). A port of its own, so the scrape endpoint is not on the public API.
 * Nothing is loaded unless it is enabled. See README.md ("Metrics") for the scrape config and alert rules.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './config';

export interface Metrics {
  /** Where Prometheus scrapes, e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the metrics endpoint when `env.METRICS` is `prometheus`; `undefined` when it is unset. Call it
 * before the token provider is created, so the provider is observed from its first call.
 */
export async function startMetrics(env: Record<string, string | undefined>, host = '127.0.0.1'): Promise<Metrics | undefined> {
  const mode = env['METRICS'];
  if (mode === undefined || mode === '') return undefined;
  if (mode !== 'prometheus') throw new ConfigError([{ variable: 'METRICS', message: 'METRICS must be "prometheus" (or unset)' }]);
  const port = Number(env['METRICS_PORT'] ?? 9464);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError([{ variable: 'METRICS_PORT', message: 'METRICS_PORT must be a port number from 0 to 65535' }]);

  const [{ PrometheusExporter }, { MeterProvider }, { instrumentImsToken }] = await Promise.all([
    import('@opentelemetry/exporter-prometheus'),
    import('@opentelemetry/sdk-metrics'),
    import('@ims-token/otel'),
  ]);
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const instrumentation = instrumentImsToken({ meterProvider });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?', 1)[0] === '/metrics') return exporter.getMetricsRequestHandler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: scrape /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    async close() {
      instrumentation.disable();
      await new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections());
      await meterProvider.shutdown();
    },
  };
}

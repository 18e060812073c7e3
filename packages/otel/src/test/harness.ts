/**
 * The OpenTelemetry SDK as a user wires it, with in-memory ends: a MetricReader we collect on demand (no
 * timer) and the InMemorySpanExporter. The instrumentation under test is the real one, over real core.
 */
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Attributes } from '@opentelemetry/api';
import { instrumentImsToken } from '../index';
import type { ImsTokenInstrumentation } from '../index';

class OnDemandReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Point {
  attributes: Attributes;
  value: number;
  /** Histograms: how many values were recorded. */
  count?: number;
}

export interface Otel {
  instrumentation: ImsTokenInstrumentation;
  /** Every metric of the last collection, by name. */
  collect(): Promise<Map<string, MetricData>>;
  /** The points of one metric (histograms: value = sum, count = count), optionally only those whose attributes include `match`. */
  points(name: string, match?: Attributes): Promise<Point[]>;
  /** The sum of the matching points' values (histograms: of their counts). */
  total(name: string, match?: Attributes): Promise<number>;
  spans(): ReadableSpan[];
  /** Everything recorded, as text, for leak scans. */
  dump(): Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * `delta`: each collection shows only what was observed since the last one. With the default, cumulative
 * temporality, the SDK keeps repeating the last value of a series it no longer observes.
 */
export function startOtel(options: { temporality?: 'delta' } = {}): Otel {
  const reader = new OnDemandReader(
    options.temporality === 'delta' ? { aggregationTemporalitySelector: () => AggregationTemporality.DELTA } : {},
  );
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const instrumentation = instrumentImsToken({ meterProvider, tracerProvider });

  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    const out = new Map<string, MetricData>();
    for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  const points = async (name: string, match: Attributes = {}): Promise<Point[]> => {
    const m = (await collect()).get(name);
    if (!m) return [];
    return (m.dataPoints as DataPoint<number | Histogram>[])
      .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
      .map((p) =>
        typeof p.value === 'number'
          ? { attributes: p.attributes, value: p.value }
          : { attributes: p.attributes, value: p.value.sum ?? 0, count: p.value.count },
      );
  };
  return {
    instrumentation,
    collect,
    points,
    async total(name, match) {
      return (await points(name, match)).reduce((n, p) => n + (p.count ?? p.value), 0);
    },
    spans: () => exporter.getFinishedSpans(),
    async dump() {
      const metrics = [...(await collect()).values()];
      const spans = exporter
        .getFinishedSpans()
        .map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events }));
      return JSON.stringify({ metrics, spans });
    },
    async shutdown() {
      instrumentation.disable();
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}

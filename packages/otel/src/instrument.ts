import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import type { ChannelListener } from 'node:diagnostics_channel';
import { metrics, trace } from '@opentelemetry/api';
import type { Attributes, MeterProvider, Span, TracerProvider } from '@opentelemetry/api';
import { ATTR, credentialAttributes, errorType } from './attributes';
import { DIAGNOSTICS_CHANNELS as CHANNELS } from '@ims-token/core';
import type {
  FailoverMessage,
  ImsRequestContext,
  InvalidateMessage,
  MintContext,
  ProviderMessage,
  RefreshErrorMessage,
  SecretReloadMessage,
  StoreContext,
  StoreFallbackMessage,
} from '@ims-token/core';
import { createInstruments } from './metrics';
import { ProviderRegistry } from './providers';
import { MintSpans } from './spans';
import { secondsSince, traced } from './traced';
import type { TracedContext } from './traced';

/** The instrumentation scope name: what a backend shows as the meter's and tracer's name. */
export const INSTRUMENTATION_NAME = '@ims-token/otel';

/** Options of {@link instrumentImsToken}. */
export interface InstrumentImsTokenOptions {
  /** Where metrics go. Default: the global one (`metrics.getMeterProvider()` of `@opentelemetry/api`). */
  meterProvider?: MeterProvider;
  /** Where spans go. Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** What {@link instrumentImsToken} returns. */
export interface ImsTokenInstrumentation {
  /** Unsubscribes from every channel and stops observing providers; instruments already exported stay. */
  disable(): void;
}

/**
 * Records OpenTelemetry metrics and spans for every ims-token provider in the process, from core's
 * diagnostics channels: mints by outcome and error code, their latency, refresh failures, 401
 * invalidations, failovers, store latency and errors, getToken hits and misses, the current token's
 * remaining life and the secret in use. Call it once, before creating providers (a provider created earlier
 * is seen in mints, not in the per-provider gauges). Nothing is recorded that could identify a token.
 *
 * @example
 * ```ts
 * import { instrumentImsToken } from '@ims-token/otel'
 * instrumentImsToken() // the global MeterProvider and TracerProvider your SDK set up
 * ```
 * @see https://opentelemetry.io/docs/specs/semconv/general/naming/
 */
export function instrumentImsToken(options: InstrumentImsTokenOptions = {}): ImsTokenInstrumentation {
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME);
  const i = createInstruments(meter);
  const registry = new ProviderRegistry();
  const spans = new MintSpans(tracer);
  const observe = registry.callback(i);
  meter.addBatchObservableCallback(observe, [i.getTokenCalls, i.remainingLife, i.lifetime, i.secretIndex]);

  const outcome = (ctx: TracedContext, extra: Attributes): Attributes =>
    ctx.error === undefined
      ? { ...credentialAttributes(ctx), ...extra, [ATTR.outcome]: 'success' }
      : { ...credentialAttributes(ctx), ...extra, [ATTR.outcome]: 'failure', [ATTR.errorType]: errorType(ctx.error) };

  const mint = traced<MintContext, { t0: number; span: Span }>(
    (ctx) => ({ t0: performance.now(), span: spans.startMint(ctx) }),
    (ctx, s) => {
      const attrs = outcome(ctx, typeof ctx.reason === 'string' ? { [ATTR.mintReason]: ctx.reason } : {});
      i.mints.add(1, attrs);
      i.mintDuration.record(secondsSince(s.t0), attrs);
      spans.endMint(ctx, s.span);
    },
  );
  const imsRequest = traced<ImsRequestContext, { t0: number; span: Span }>(
    (ctx) => ({ t0: performance.now(), span: spans.startRequest(ctx) }),
    (ctx, s) => {
      const attrs = credentialAttributes(ctx);
      if (typeof ctx.status === 'number') attrs[ATTR.httpStatus] = ctx.status;
      if (ctx.error !== undefined) attrs[ATTR.errorType] = errorType(ctx.error);
      else if (typeof ctx.status === 'number' && ctx.status >= 400) attrs[ATTR.errorType] = String(ctx.status);
      i.imsRequestDuration.record(secondsSince(s.t0), attrs);
      spans.endRequest(ctx, s.span);
    },
  );
  const store = traced<StoreContext, number>(
    () => performance.now(),
    (ctx, t0) => {
      const extra: Attributes = { [ATTR.storeOperation]: String(ctx.op), [ATTR.storeName]: String(ctx.store) };
      if (ctx.op === 'get' && ctx.error === undefined && typeof ctx.hit === 'boolean') extra[ATTR.cacheResult] = ctx.hit ? 'hit' : 'miss';
      const attrs = outcome(ctx, extra);
      i.storeDuration.record(secondsSince(t0), attrs);
      if (ctx.error !== undefined) i.storeErrors.add(1, attrs);
    },
  );

  const plain: Array<[string, ChannelListener]> = [
    [CHANNELS.provider, (m) => registry.onMessage(m as ProviderMessage)],
    [
      CHANNELS.invalidate,
      (m) =>
        i.invalidations.add(1, {
          ...credentialAttributes(m as InvalidateMessage),
          [ATTR.verdict]: String((m as InvalidateMessage).verdict),
        }),
    ],
    [
      CHANNELS.failover,
      (m) => {
        const f = m as FailoverMessage;
        i.failovers.add(1, { ...credentialAttributes(f), [ATTR.fromIndex]: Number(f.fromIndex), [ATTR.toIndex]: Number(f.toIndex) });
      },
    ],
    [
      CHANNELS.secretReload,
      (m) => {
        const r = m as SecretReloadMessage;
        i.secretReloads.add(1, { ...credentialAttributes(r), [ATTR.secretSource]: String(r.source) });
      },
    ],
    [
      CHANNELS.refreshError,
      (m) => {
        const r = m as RefreshErrorMessage;
        i.refreshFailures.add(1, { ...credentialAttributes(r), [ATTR.errorType]: errorType(r.error) });
      },
    ],
    [
      CHANNELS.storeFallback,
      (m) => {
        const f = m as StoreFallbackMessage;
        i.storeFallbacks.add(1, { [ATTR.storeName]: String(f.store), [ATTR.errorType]: errorType(f.error) });
      },
    ],
  ];
  const tracing = [
    [tracingChannel<string, MintContext>(CHANNELS.mint), mint],
    [tracingChannel<string, ImsRequestContext>(CHANNELS.imsRequest), imsRequest],
    [tracingChannel<string, StoreContext>(CHANNELS.store), store],
  ] as const;

  for (const [name, fn] of plain) subscribe(name, fn);
  for (const [channel, handlers] of tracing) (channel as ReturnType<typeof tracingChannel>).subscribe(handlers as never);

  let enabled = true;
  return {
    disable(): void {
      if (!enabled) return;
      enabled = false;
      for (const [name, fn] of plain) unsubscribe(name, fn);
      for (const [channel, handlers] of tracing) (channel as ReturnType<typeof tracingChannel>).unsubscribe(handlers as never);
      meter.removeBatchObservableCallback(observe, [i.getTokenCalls, i.remainingLife, i.lifetime, i.secretIndex]);
      registry.clear();
    },
  };
}

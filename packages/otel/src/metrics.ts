import type { Counter, Histogram, Meter, ObservableCounter, ObservableGauge } from '@opentelemetry/api';

/**
 * The metric names, one place (the README's table lists them with units and attributes). Dotted lowercase
 * under `ims_token.`, units in UCUM (`s`) or a `{annotation}`, no `total` suffix: OpenTelemetry's naming rules.
 * OpenTelemetry JS's Prometheus exporter turns `ims_token.mints` into `ims_token_mints_total` and
 * `ims_token.mint.duration` into `ims_token_mint_duration` (+ `_bucket`/`_sum`/`_count`), the unit in `# UNIT`;
 * the Collector's exporter also appends the unit (`ims_token_mint_duration_seconds`).
 */
export const METRIC = {
  getTokenCalls: 'ims_token.get_token.calls',
  mints: 'ims_token.mints',
  mintDuration: 'ims_token.mint.duration',
  imsRequestDuration: 'ims_token.ims.request.duration',
  refreshFailures: 'ims_token.refresh.failures',
  invalidations: 'ims_token.invalidations',
  failovers: 'ims_token.secret.failovers',
  secretReloads: 'ims_token.secret.reloads',
  storeDuration: 'ims_token.store.duration',
  storeErrors: 'ims_token.store.errors',
  storeFallbacks: 'ims_token.store.fallbacks',
  remainingLife: 'ims_token.token.remaining_life',
  lifetime: 'ims_token.token.lifetime',
  secretIndex: 'ims_token.secret.index',
} as const;

/** A mint takes tens of milliseconds when IMS is well, up to a minute with retries and timeouts. */
const MINT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Memory and file stores answer in microseconds, Redis in milliseconds; a lock can wait for a mint. */
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

export interface Instruments {
  getTokenCalls: ObservableCounter;
  remainingLife: ObservableGauge;
  lifetime: ObservableGauge;
  secretIndex: ObservableGauge;
  mints: Counter;
  mintDuration: Histogram;
  imsRequestDuration: Histogram;
  refreshFailures: Counter;
  invalidations: Counter;
  failovers: Counter;
  secretReloads: Counter;
  storeDuration: Histogram;
  storeErrors: Counter;
  storeFallbacks: Counter;
}

export function createInstruments(meter: Meter): Instruments {
  return {
    getTokenCalls: meter.createObservableCounter(METRIC.getTokenCalls, {
      description: 'getToken() calls, by ims_token.cache.result: hit (answered from memory) or miss (needed the store or IMS).',
      unit: '{call}',
    }),
    remainingLife: meter.createObservableGauge(METRIC.remainingLife, {
      description: "Seconds of life left on the provider's current token.",
      unit: 's',
    }),
    lifetime: meter.createObservableGauge(METRIC.lifetime, {
      description: "Full lifetime of the provider's current token (expiry minus issue time), to compare remaining_life with.",
      unit: 's',
    }),
    secretIndex: meter.createObservableGauge(METRIC.secretIndex, {
      description: 'Which configured client secret the provider uses: 0 the first, 1 the second (after a failover).',
    }),
    mints: meter.createCounter(METRIC.mints, {
      description: 'Tokens asked of IMS (retries included in one), by ims_token.outcome and error.type.',
      unit: '{mint}',
    }),
    mintDuration: meter.createHistogram(METRIC.mintDuration, {
      description: 'Time to obtain one token from IMS, retries and back-off included.',
      unit: 's',
      advice: { explicitBucketBoundaries: MINT_BUCKETS },
    }),
    imsRequestDuration: meter.createHistogram(METRIC.imsRequestDuration, {
      description: "One HTTP attempt at IMS's token endpoint, by http.response.status_code and error.type.",
      unit: 's',
      advice: { explicitBucketBoundaries: MINT_BUCKETS },
    }),
    refreshFailures: meter.createCounter(METRIC.refreshFailures, {
      description: 'Background refreshes that failed while the current token was still served.',
      unit: '{failure}',
    }),
    invalidations: meter.createCounter(METRIC.invalidations, {
      description: '401-driven invalidate() calls, by ims_token.invalidation.verdict.',
      unit: '{invalidation}',
    }),
    failovers: meter.createCounter(METRIC.failovers, {
      description: 'Switches to the other client secret after IMS rejected the one in use.',
      unit: '{failover}',
    }),
    secretReloads: meter.createCounter(METRIC.secretReloads, {
      description: 'Times a secret source (a file, a function) was read again.',
      unit: '{reload}',
    }),
    storeDuration: meter.createHistogram(METRIC.storeDuration, {
      description: 'One token store call, by ims_token.store.operation (get, set, delete, lock).',
      unit: 's',
      advice: { explicitBucketBoundaries: STORE_BUCKETS },
    }),
    storeErrors: meter.createCounter(METRIC.storeErrors, {
      description: 'Token store calls that threw, by ims_token.store.operation and error.type.',
      unit: '{error}',
    }),
    storeFallbacks: meter.createCounter(METRIC.storeFallbacks, {
      description: 'Times a shared store (Redis) was unreachable and the process minted on its own.',
      unit: '{fallback}',
    }),
  };
}

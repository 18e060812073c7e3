import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import type { CredentialFields } from '@ims-token/core';

/** What every traced context has: the credential, and `error` once it failed. */
export type TracedContext = CredentialFields & { error?: unknown };

/**
 * Subscribers for one TracingChannel operation: `start` opens a state, the operation's last event closes it
 * once. For `tracePromise` that is `asyncEnd` (after `result` or `error` is set on the context); a synchronous
 * operation (`traceSync`, or a throw before the promise) closes at `end`, which then already carries its
 * `result` or `error`.
 */
export function traced<C extends TracedContext, S>(
  open: (ctx: C) => S,
  close: (ctx: C, state: S) => void,
): TracingChannelSubscribers<C> & { asyncStart(ctx: C): void; error(ctx: C): void } {
  const open_ = new WeakMap<object, S>();
  const finish = (ctx: C): void => {
    if (!open_.has(ctx)) return;
    const state = open_.get(ctx) as S;
    open_.delete(ctx);
    close(ctx, state);
  };
  return {
    start(ctx) {
      open_.set(ctx, open(ctx));
    },
    end(ctx) {
      if ('result' in ctx || ctx.error !== undefined) finish(ctx);
    },
    asyncStart() {},
    asyncEnd(ctx) {
      finish(ctx);
    },
    error() {},
  };
}

/** Seconds since `t0` (a `performance.now()` reading), the unit OpenTelemetry asks durations in. */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

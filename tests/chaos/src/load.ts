import type { TokenProvider } from '@ims-token/core';
import type { Meter } from './meter';

/** A clock the test moves by hand, shared by the emulator and the providers: time passes without sleeping. */
export interface ManualClock {
  (): number;
  /** Moves the clock by `ms` (negative moves it back, as an NTP step would). */
  jump(ms: number): void;
}

/**
 * A clock starting now (the Redis store sets key expiries from the real clock, so start near it) that moves only by
 * `jump()`, or with `running: true` also with real time, so that a provider's real waits (backoff, `Retry-After`,
 * timeouts) cost it the same time on this clock as they would in production.
 */
export function manualClock({ running = false }: { running?: boolean } = {}): ManualClock {
  const start = Date.now();
  const t0 = performance.now();
  let offset = 0;
  const clock = (running ? () => start + Math.floor(performance.now() - t0) + offset : () => start + offset) as ManualClock;
  clock.jump = (ms: number): void => {
    offset += ms;
  };
  return clock;
}

/** `callers` concurrent `getToken()` calls on each provider, all recorded by `meter`. */
export async function burst(meter: Meter, providers: readonly TokenProvider[], callers: number): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (const p of providers) for (let i = 0; i < callers; i++) calls.push(meter.call(() => p.getToken()));
  await Promise.all(calls);
}

/** One turn of the event loop with real I/O (lets a rotation or a reconnect run between steps of simulated time). */
export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The chain of probabilities that makes `kinds` share `total` of the matching requests equally: rule i applies to
 * `share / (1 - i × share)` of what the rules before it skipped.
 */
export function equalShares(count: number, total: number): number[] {
  const share = total / count;
  return Array.from({ length: count }, (_, i) => share / (1 - i * share));
}

/** Polls `condition` every 10 ms (real time) until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await tick(10);
  }
}

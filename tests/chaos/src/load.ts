import type { TokenProvider } from '@ims-token/core';
import type { Meter } from './meter';

/** A clock the test moves by hand, shared by the emulator and the providers: time passes without sleeping. */
export interface ManualClock {
  (): number;
  /** Moves the clock by `ms` (negative moves it back, as an NTP step would). */
  jump(ms: number): void;
}

/** A manual clock starting now (the Redis store sets key expiries from the real clock, so start near it). */
export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  const clock = (() => now) as ManualClock;
  clock.jump = (ms: number): void => {
    now += ms;
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

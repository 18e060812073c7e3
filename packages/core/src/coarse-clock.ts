/**
 * A clock for the hot path that costs a property read instead of a `Date.now()` call (which alone halves
 * the speed of a cached `getToken()`). A process-wide timer refreshes it every 200 ms; the provider uses it
 * only to decide "still well before the refresh window" for tokens whose window is at least 10 s wide, so a
 * stale reading can only delay the start of a background refresh, never serve a token about to die.
 * Both the timer and `Date` are captured when this module loads, so a test's fake timers cannot freeze it;
 * while `Date` is replaced (fake timers), the provider uses the precise clock instead.
 */
const NativeDate = Date;
const realSetInterval = setInterval;

export const coarse = { now: 0 };
let timer: ReturnType<typeof setInterval> | undefined;

/** Starts the shared ticker (idempotent) and sets the reading to now. */
export function startCoarseClock(): void {
  coarse.now = NativeDate.now();
  if (timer) return;
  timer = realSetInterval(() => {
    coarse.now = NativeDate.now();
  }, 200);
  timer.unref?.();
}

/** False while `Date` is replaced (fake timers): then only the precise clock may be used. */
export function coarseClockUsable(): boolean {
  return Date === NativeDate;
}

/** How wide the refresh window must be for the coarse clock to decide alone. */
export const COARSE_MIN_MARGIN_MS = 10_000;

/**
 * Time as the Sender and Receiver see it: the hour, a monotonic reading, and timers. The real
 * one is the system's; tests pass a fake (clock.fake.ts) and move time by hand, so that waits of
 * seconds (deadlines, pauses, backoff, key grace) are checked in microseconds and without a race.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch (Date.now). */
  now(): number;
  /** A monotonic reading in milliseconds (performance.now): for rates, never for dates. */
  monotonic(): number;
  /** Calls `fn` once after `ms`. `weak`: the timer alone does not keep the process running. */
  after(ms: number, fn: () => void, options?: { weak?: boolean }): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void, options?: { weak?: boolean }): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  after(ms, fn, options) {
    const handle = setTimeout(fn, ms);
    if (options?.weak) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  every(ms, fn, options) {
    const handle = setInterval(fn, ms);
    if (options?.weak) handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};

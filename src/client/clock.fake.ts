import type { Clock, Timer } from './clock.js';

interface Scheduled {
  at: number;
  every?: number;
  fn(): void;
  order: number;
}

/**
 * A clock for tests: time stands still until `advance` moves it, and then every timer due runs,
 * in the order of its time (and, at one time, the order it was set), as the event loop would.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly timers = new Set<Scheduled>();
  private order = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current;
  }

  after(ms: number, fn: () => void): Timer {
    return this.schedule({ at: this.current + Math.max(0, ms), fn, order: this.order++ });
  }

  every(ms: number, fn: () => void): Timer {
    return this.schedule({ at: this.current + Math.max(1, ms), every: Math.max(1, ms), fn, order: this.order++ });
  }

  /** Timers set and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the next timer is due, if any. */
  get nextDue(): number | undefined {
    return this.due(Infinity)?.at;
  }

  /** Moves time on by `ms`, running each timer as its time comes. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (let timer = this.due(end); timer; timer = this.due(end)) {
      this.current = timer.at;
      if (timer.every === undefined) this.timers.delete(timer);
      else timer.at += timer.every;
      timer.fn();
    }
    this.current = end;
  }

  private schedule(timer: Scheduled): Timer {
    this.timers.add(timer);
    return { cancel: () => this.timers.delete(timer) };
  }

  private due(end: number): Scheduled | undefined {
    let first: Scheduled | undefined;
    for (const t of this.timers) if (t.at <= end && (!first || t.at < first.at || (t.at === first.at && t.order < first.order))) first = t;
    return first;
  }
}

/**
 * Recent failures per key (an account, an address, a user…) over a sliding window: the one
 * counting mechanism behind the throttles (login-throttle.ts, code-guess-throttle.ts). It keeps
 * at most `limit` timestamps per key, and at most MAX_TRACKED_KEYS keys, so an attacker failing
 * with ever new keys cannot make it grow without bound.
 */

// Bounds the memory an attacker can make us spend by failing with many distinct keys.
export const MAX_TRACKED_KEYS = 100_000;

export class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until another attempt is allowed for this key (0: allowed now). */
  waitMs(key: string, now: number, limit = this.limit): number {
    const recent = this.recent(key, now);
    if (recent.length < limit) return 0;
    const oldest = recent[recent.length - limit] ?? now;
    return oldest + this.windowMs - now;
  }

  /**
   * Milliseconds until another attempt is allowed when the first `free` failures cost nothing
   * and each one after makes the next attempt wait, from the latest failure, twice as long as
   * the one before: `firstMs`, 2×, 4×… up to `maxMs` (0: allowed now). The wait depends only
   * on the failures, so asking while refused does not lengthen it.
   */
  growingWaitMs(key: string, now: number, growth: { free: number; firstMs: number; maxMs: number }): number {
    const recent = this.recent(key, now);
    const past = recent.length - growth.free;
    if (past < 0) return 0;
    const latest = recent[recent.length - 1] ?? now;
    const wait = Math.min(growth.maxMs, growth.firstMs * 2 ** past);
    return Math.max(0, latest + wait - now);
  }

  record(key: string, now: number): void {
    const recent = this.recent(key, now);
    recent.push(now);
    if (recent.length > this.limit) recent.splice(0, recent.length - this.limit);
    if (!this.failures.has(key) && this.failures.size >= MAX_TRACKED_KEYS) {
      const first = this.failures.keys().next().value;
      if (first !== undefined) this.failures.delete(first);
    }
    this.failures.set(key, recent);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const all = this.failures.get(key);
    if (!all) return [];
    const kept = all.filter((t) => now - t < this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    return kept;
  }
}

/**
 * Slows password guessing. Failed logins are counted per account and per client address over a
 * sliding window; past the limit, further attempts are refused (429) until the oldest failure
 * leaves the window. The refusal therefore ends at most one window after the failures stop: an
 * attacker can delay a victim's login but never lock it for good.
 */
export interface ThrottlePolicy {
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 20,
  windowSeconds: 15 * 60,
};

// Bounds the memory an attacker can make us spend by failing with many distinct keys.
const MAX_TRACKED_KEYS = 100_000;

class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until another attempt is allowed for this key (0: allowed now). */
  waitMs(key: string, now: number): number {
    const recent = this.recent(key, now);
    if (recent.length < this.limit) return 0;
    const oldest = recent[recent.length - this.limit] ?? now;
    return oldest + this.windowMs - now;
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

export class LoginThrottle {
  private readonly byAccount: FailureWindow;
  private readonly byAddress: FailureWindow;

  constructor(
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    this.byAccount = new FailureWindow(policy.maxFailuresPerAccount, policy.windowSeconds * 1000);
    this.byAddress = new FailureWindow(policy.maxFailuresPerAddress, policy.windowSeconds * 1000);
  }

  /** Seconds the caller must wait before trying again (0: go ahead). */
  retryAfterSeconds(email: string, address: string): number {
    const t = this.now();
    const waitMs = Math.max(this.byAccount.waitMs(email, t), this.byAddress.waitMs(address, t));
    return Math.ceil(waitMs / 1000);
  }

  recordFailure(email: string, address: string): void {
    const t = this.now();
    this.byAccount.record(email, t);
    this.byAddress.record(address, t);
  }

  recordSuccess(email: string): void {
    this.byAccount.clear(email);
  }
}

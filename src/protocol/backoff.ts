/**
 * The waits between attempts to reach something that is away: doubling from the first up to a
 * ceiling (`{ firstMs, maxMs }`), or a list of waits whose last one repeats. Pure (no timers,
 * no I/O), so that the sender, the agent and the web UI count their retries the same way.
 */
export type BackoffPolicy = { firstMs: number; maxMs: number } | { steps: readonly number[] };

export class Backoff {
  private attempt = 0;

  constructor(private readonly policy: BackoffPolicy) {
    if ('steps' in policy && policy.steps.length === 0) throw new Error('a backoff needs at least one step');
  }

  /** The wait before the next attempt; each call counts one more failure. */
  next(): number {
    const wait = this.peek();
    this.attempt++;
    return wait;
  }

  /** The wait `next()` would give, without counting. */
  peek(): number {
    const { policy, attempt } = this;
    if ('steps' in policy) return policy.steps[Math.min(attempt, policy.steps.length - 1)]!;
    // The first wait as given; then doubling up to the ceiling (the exponent capped: no overflow
    // however long it runs).
    if (attempt === 0) return policy.firstMs;
    return Math.min(policy.firstMs * 2 ** Math.min(attempt, 52), policy.maxMs);
  }

  /** Success: the next failure waits the first wait again. */
  reset(): void {
    this.attempt = 0;
  }
}

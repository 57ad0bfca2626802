/**
 * How fast one user may send messages over TCP: a token bucket per user, shared by all of the
 * user's connections (opening more connections gives no more messages). A bucket holds at most
 * `burst` tokens and refills at `perSecond`; each `send` takes one. `perSecond: 0` turns the
 * limit off.
 */
export interface SendRatePolicy {
  perSecond: number;
  burst: number;
  /**
   * After a refusal, how much longer than the token wait the connection's later sends are
   * refused too (default RATE_LIMIT_GRACE_MS): see Connection.rateWait in ingest.ts.
   */
  graceMs?: number;
}

// Well over a LAN round trip: what a client pipelined before it read a refusal arrives within it.
export const RATE_LIMIT_GRACE_MS = 250;

// A person types far below this; a script piping a file or a bot gets `burst` at once and then
// 50 a second. bench/messaging.ts measures the server, not this policy, and turns it off.
export const DEFAULT_SEND_RATE: SendRatePolicy = { perSecond: 50, burst: 500 };

// Past this many buckets, full ones are forgotten: a full bucket is what a new one would be.
const SWEEP_ABOVE = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class SendRateLimiter {
  private readonly buckets = new Map<number, Bucket>();

  constructor(
    readonly policy: SendRatePolicy,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes a token for `userId` and returns 0, or returns the milliseconds until one is free. */
  take(userId: number): number {
    const { perSecond, burst } = this.policy;
    if (perSecond <= 0) return 0;
    const t = this.now();
    let bucket = this.buckets.get(userId);
    if (bucket) {
      bucket.tokens = this.level(bucket, t);
      bucket.at = t;
    } else {
      if (this.buckets.size >= SWEEP_ABOVE) this.sweep(t);
      bucket = { tokens: burst, at: t };
      this.buckets.set(userId, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / perSecond));
  }

  /** Users currently tracked (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private level(bucket: Bucket, t: number): number {
    return Math.min(this.policy.burst, bucket.tokens + ((t - bucket.at) * this.policy.perSecond) / 1000);
  }

  private sweep(t: number): void {
    for (const [userId, bucket] of this.buckets) {
      if (this.level(bucket, t) >= this.policy.burst) this.buckets.delete(userId);
    }
  }
}

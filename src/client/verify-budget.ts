/**
 * How many signature checks one chat's datagrams may cost a receiver: a token bucket per stream.
 * An Ed25519 check costs 0.1-0.3 ms, and anyone on the network can send datagrams with a valid
 * header and a chat's stream id (both in clear) and a random signature: 213,000 a second cost
 * every receiver a whole core. Past the budget a datagram is dropped before it is checked; what
 * a genuine one carried is fetched from history, as any loss is (heartbeats, and the receiver's
 * own catch-up while it is dropping).
 *
 * The default is well above what the server sends one chat: under load it packs many messages
 * into each datagram and signs a run of up to 32 datagrams once (a VOUCH, datagram.ts), and the
 * VOUCHED DATA of a run cost no check at all.
 */
export interface VerifyBudgetPolicy {
  /** Checks a second, sustained. */
  perSecond: number;
  /** Checks at once, after a quiet spell. */
  burst: number;
}

export const DEFAULT_VERIFY_BUDGET: VerifyBudgetPolicy = { perSecond: 2000, burst: 2000 };

export class VerifyBudget {
  private tokens: number;
  private last: number;

  /** `nowMs`: a monotonic clock reading (performance.now()); tests pass their own. */
  constructor(
    private readonly policy: VerifyBudgetPolicy,
    nowMs: number,
  ) {
    this.tokens = policy.burst;
    this.last = nowMs;
  }

  /** True if one more check fits the budget (and counts it), false if the datagram is to be dropped. */
  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.last);
    this.last = Math.max(this.last, nowMs);
    this.tokens = Math.min(this.policy.burst, this.tokens + (elapsed * this.policy.perSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

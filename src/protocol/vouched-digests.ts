import { MAX_VOUCHED_DIGESTS_KEPT, VOUCHED_DIGEST_TTL_MS } from './limits.js';

/**
 * The digests of VOUCHED DATA datagrams that checked VOUCHes named (datagram.ts): one chat's, on
 * a receiver. Bounded in number and age, oldest out first, so that replayed VOUCHes cannot grow
 * it; a digest stays after use (a datagram held for its key is read again), and a replayed
 * datagram is the ordering's to drop, as any replay is.
 */
export class VouchedDigests {
  /** Digest (latin1 string of its bytes) → when it was vouched for. Maps iterate in insertion order: oldest first. */
  private readonly added = new Map<string, number>();

  /** `now`: a monotonic clock in milliseconds; tests pass their own. */
  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly limit = MAX_VOUCHED_DIGESTS_KEPT,
    private readonly ttlMs = VOUCHED_DIGEST_TTL_MS,
  ) {}

  add(digests: readonly Buffer[]): void {
    const now = this.now();
    for (const digest of digests) {
      const id = digest.toString('latin1');
      // Re-added (a replayed VOUCH): it moves to the back, as new.
      this.added.delete(id);
      this.added.set(id, now);
    }
    this.forgetOld(now);
  }

  has(digest: Buffer): boolean {
    const at = this.added.get(digest.toString('latin1'));
    return at !== undefined && this.now() - at <= this.ttlMs;
  }

  get size(): number {
    return this.added.size;
  }

  private forgetOld(now: number): void {
    for (const [id, at] of this.added) {
      if (this.added.size <= this.limit && now - at <= this.ttlMs) return;
      this.added.delete(id);
    }
  }
}

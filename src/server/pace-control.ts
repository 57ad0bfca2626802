import type { Clock, MulticastRate } from './pacer.js';

/**
 * How the multicast pace follows receivers' reports (AIMD, as NORM and PGM do with receiver
 * feedback). Time is cut into windows; a window in which some receiver repaired too much is a
 * congested one.
 */
export interface PacePolicy {
  windowMs: number;
  /** A receiver repairing more than this share of the messages multicast makes a window congested… */
  repairShare: number;
  /** …or more than this many, whatever was multicast (N)… */
  repairCeiling: number;
  /** …but never fewer than this: a lost datagram now and then is not congestion. */
  minRepairs: number;
  /** A congested window multiplies the rate by this. */
  decrease: number;
  /** The rate never goes below this share of the configured one. */
  floor: number;
  /** After this long without a congested window the rate climbs again… */
  quietMs: number;
  /** …by this share of the configured rate per window, up to the configured rate. */
  increase: number;
}

/**
 * Receivers report once a second at most, and a report speaks of repairs made up to a second
 * before it arrives: a 1 s window judged against what was multicast in it and the window before.
 * 0.5% is what a receiver that keeps up loses now and then on a busy LAN; the ceiling of 100
 * stands for a burst that overflowed a socket buffer (about 10 full datagrams). ×0.7 down to 1/8
 * and +1/16 a second after 3 quiet seconds: a rate halved twice comes back in about 15 s.
 */
export const DEFAULT_PACE_POLICY: PacePolicy = {
  windowMs: 1000,
  repairShare: 0.005,
  repairCeiling: 100,
  minRepairs: 3,
  decrease: 0.7,
  floor: 1 / 8,
  quietMs: 3000,
  increase: 1 / 16,
};

/**
 * The current multicast rate: the configured one, lowered multiplicatively when receivers
 * report repairs beyond what is expected, raised additively back once they stop. Never above
 * the configured rate, never below its floor; an unpaced configuration (0) stays unpaced.
 *
 * Pure and lazy: windows are judged when the rate is read, so nothing runs on an idle server.
 */
export class PaceControl {
  /** The current rate as a share of the configured one. */
  private factor = 1;
  private windowEnd: number;
  /** Messages multicast and skipped (never multicast: receivers repair them) in this window and the one before. */
  private sent = 0;
  private sentBefore = 0;
  private skipped = 0;
  private skippedBefore = 0;
  /** Messages repaired this window, per reporter (a connection). */
  private readonly repairs = new Map<object, number>();
  private lastCongestion = -Infinity;
  private rate: MulticastRate;
  readonly stats = { reports: 0, decreases: 0, increases: 0 };

  constructor(
    private readonly configured: MulticastRate,
    private readonly policy: PacePolicy = DEFAULT_PACE_POLICY,
    private readonly clock: Clock = () => performance.now(),
  ) {
    this.rate = configured;
    this.windowEnd = clock() + policy.windowMs;
  }

  private get paced(): boolean {
    return this.configured.bytesPerSecond > 0 && this.configured.datagramsPerSecond > 0;
  }

  /** The fan-out multicast a datagram of `messages` messages. */
  multicast(messages: number): void {
    this.advance();
    this.sent += messages;
  }

  /** The fan-out skipped these queued messages (its backlog was too long): every receiver repairs them, and that is no congestion. */
  skippedMessages(messages: number): void {
    this.advance();
    this.skipped += messages;
  }

  /** A receiver (`reporter`: its connection) had to repair this many messages since its last report. */
  reported(reporter: object, repaired: number): void {
    this.advance();
    this.stats.reports++;
    if (repaired > 0) this.repairs.set(reporter, (this.repairs.get(reporter) ?? 0) + repaired);
  }

  /** The rate to pace at now. */
  current(): MulticastRate {
    this.advance();
    return this.rate;
  }

  /** The current rate as a share of the configured one (1 when unpaced). */
  get share(): number {
    this.advance();
    return this.factor;
  }

  /** Judges every window that ended. Idle windows after the first are cheap: the loop ends once the rate is back up. */
  private advance(): void {
    const now = this.clock();
    while (now >= this.windowEnd) {
      const idle = this.sent === 0 && this.sentBefore === 0 && this.repairs.size === 0 && this.skipped === 0;
      if (idle && this.factor === 1) {
        this.windowEnd += Math.ceil((now - this.windowEnd + 1) / this.policy.windowMs) * this.policy.windowMs;
        break;
      }
      this.judge(this.windowEnd);
      this.windowEnd += this.policy.windowMs;
    }
  }

  private judge(end: number): void {
    const p = this.policy;
    const sent = this.sent + this.sentBefore;
    let worst = 0;
    for (const repaired of this.repairs.values()) worst = Math.max(worst, repaired);
    // Skipped messages every receiver must repair: those are expected, not lost.
    const excess = worst - (this.skipped + this.skippedBefore);
    const threshold = Math.max(p.minRepairs, Math.min(p.repairShare * sent, p.repairCeiling));
    if (this.paced && excess > threshold) {
      this.setFactor(Math.max(p.floor, this.factor * p.decrease));
      this.lastCongestion = end;
      this.stats.decreases++;
    } else if (this.factor < 1 && end - this.lastCongestion >= p.quietMs) {
      this.setFactor(Math.min(1, this.factor + p.increase));
      this.stats.increases++;
    }
    this.sentBefore = this.sent;
    this.sent = 0;
    this.skippedBefore = this.skipped;
    this.skipped = 0;
    this.repairs.clear();
  }

  private setFactor(factor: number): void {
    this.factor = factor;
    this.rate =
      factor === 1
        ? this.configured
        : { bytesPerSecond: this.configured.bytesPerSecond * factor, datagramsPerSecond: this.configured.datagramsPerSecond * factor };
  }
}

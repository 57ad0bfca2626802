import { MAX_PROGRESS_REPAIRED, PROGRESS_INTERVAL_MS } from '../protocol/limits.js';

export interface Progress {
  /** The last seq delivered in order. */
  delivered: number;
  /** Messages repaired from history since the last report. */
  repaired: number;
}

/**
 * When one chat's receiver tells the server how it fares on multicast (a `progress` frame,
 * docs/protocol.md): at most once every PROGRESS_INTERVAL_MS, and only when there is news for
 * the pace: repairs since the last report, or, after a report of repairs, a delivered position
 * that moved (one report of none: the repairs stopped). A chat that repairs nothing says
 * nothing. Pure: the receiver owns the timer and the link.
 */
export class ProgressReport {
  private unreported = 0;
  private lastAt = -Infinity;
  /** What the last report said: its position, and whether it carried repairs. */
  private lastDelivered = 0;
  private lastRepaired = false;

  constructor(private readonly intervalMs = PROGRESS_INTERVAL_MS) {}

  /** Messages fetched from history because multicast did not bring them. */
  repaired(count: number): void {
    this.unreported += count;
  }

  /** Whether a report may be due (now or later): repairs to tell, or a last report with repairs to follow up. */
  get pending(): boolean {
    return this.unreported > 0 || this.lastRepaired;
  }

  /** Milliseconds until a report may go (0: now). */
  waitMs(now: number): number {
    return Math.max(0, this.lastAt + this.intervalMs - now);
  }

  /** The report to send now, if one is due; `sent` once it went. */
  due(now: number, delivered: number): Progress | undefined {
    if (this.waitMs(now) > 0) return undefined;
    if (this.unreported > 0) return { delivered, repaired: Math.min(this.unreported, MAX_PROGRESS_REPAIRED) };
    if (this.lastRepaired && delivered !== this.lastDelivered) return { delivered, repaired: 0 };
    return undefined;
  }

  sent(report: Progress, now: number): void {
    this.unreported -= report.repaired;
    this.lastAt = now;
    this.lastDelivered = report.delivered;
    this.lastRepaired = report.repaired > 0;
  }

  /** Nothing to follow up (the position did not move since a report of repairs): the next repair starts over. */
  settle(): void {
    if (this.unreported === 0) this.lastRepaired = false;
  }

  /** What was repaired while the chat was not on multicast, or could not be told, is not news for the pace. */
  forget(): void {
    this.unreported = 0;
    this.lastRepaired = false;
  }
}

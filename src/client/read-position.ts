import { READ_FLUSH_MS } from '../protocol/limits.js';
import { type Clock, type Timer, systemClock } from './clock.js';

export interface ReadPositionOptions {
  /** Stores the position on the server (ApiClient.setReadPosition); its failure is reported, not thrown. */
  write(seq: number): Promise<unknown>;
  /** A write failed: the position is tried again with the next message seen. */
  failed?(error: unknown): void;
  clock?: Clock;
  /** At most one write per this interval. */
  intervalMs?: number;
}

/**
 * A chat's read position as a client advances it while it shows messages: only forward, and
 * coalesced, so that a burst of a hundred messages is one write, not a hundred (the first at
 * once, then at most one per READ_FLUSH_MS, the last one always). Writes never overlap: a
 * position seen while one is on its way goes in the next.
 */
export class ReadPosition {
  private readonly clock: Clock;
  /** The highest seq shown, and the highest the server has been told of. */
  private seen = 0;
  private written = 0;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private timer?: Timer;
  private inFlight?: Promise<void>;
  private closed = false;

  constructor(private readonly options: ReadPositionOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Where the server already has it (the chat's readSeq): nothing at or below it is written. */
  startAt(seq: number): void {
    this.seen = Math.max(this.seen, seq);
    this.written = Math.max(this.written, seq);
  }

  /** A message with this seq has been shown. */
  shown(seq: number): void {
    if (this.closed || seq <= this.seen) return;
    this.seen = seq;
    this.schedule();
  }

  /** Writes what is left now (leaving the chat), and resolves once it is written or failed. */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.inFlight;
    if (this.seen > this.written) await this.write();
    this.closed = true;
  }

  private schedule(): void {
    if (this.timer || this.inFlight) return;
    const wait = this.lastWriteAt + (this.options.intervalMs ?? READ_FLUSH_MS) - this.clock.monotonic();
    if (wait <= 0) void this.write();
    else this.timer = this.clock.after(wait, () => {
      this.timer = undefined;
      void this.write();
    }, { weak: true });
  }

  private write(): Promise<void> {
    const seq = this.seen;
    if (seq <= this.written) return Promise.resolve();
    this.lastWriteAt = this.clock.monotonic();
    const done = this.options.write(seq).then(
      () => {
        this.written = Math.max(this.written, seq);
        return true;
      },
      (error: unknown) => {
        this.options.failed?.(error);
        return false;
      },
    );
    this.inFlight = done.then((ok) => {
      this.inFlight = undefined;
      // What was seen meanwhile goes next; after a failure, only once another message is shown.
      if (ok && !this.closed && this.seen > this.written) this.schedule();
    });
    return this.inFlight;
  }
}

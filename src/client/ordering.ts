/**
 * Exactly-once, in-order delivery for one chat. Messages may arrive late, twice, out of order or
 * not at all (multicast) and again from history (repair); this class hands each sequence number
 * to `deliver` once, in order, and says what is missing so that the caller can fetch it.
 * Pure: no sockets, no timers.
 */
export interface Sequenced {
  seq: number;
}

export const DEFAULT_BUFFER_LIMIT = 10_000;

export class ChatOrdering<M extends Sequenced> {
  private readonly waiting = new Map<number, M>();
  private highestKnown: number;
  readonly counts = { delivered: 0, duplicates: 0, overflowed: 0 };

  constructor(
    /** Everything up to and including this sequence number is already delivered. */
    private deliveredUpTo: number,
    private readonly deliver: (message: M) => void,
    private readonly bufferLimit = DEFAULT_BUFFER_LIMIT,
  ) {
    this.highestKnown = deliveredUpTo;
  }

  get lastDelivered(): number {
    return this.deliveredUpTo;
  }

  /** Offers messages from any source; delivers all that are next in line. */
  offer(messages: Iterable<M>): void {
    for (const message of messages) {
      this.highestKnown = Math.max(this.highestKnown, message.seq);
      if (message.seq <= this.deliveredUpTo || this.waiting.has(message.seq)) {
        this.counts.duplicates++;
        continue;
      }
      if (message.seq === this.deliveredUpTo + 1) {
        this.emit(message);
        this.flush();
      } else if (this.waiting.size < this.bufferLimit) {
        this.waiting.set(message.seq, message);
      } else {
        // Past the bound we keep nothing more: the missing range is fetched from history.
        this.counts.overflowed++;
      }
    }
  }

  /** A heartbeat (or any signed hint) says the chat has reached `seq`. */
  noteLatest(seq: number): void {
    this.highestKnown = Math.max(this.highestKnown, seq);
  }

  /** The range still to fetch: everything after `after` up to `upTo`, or undefined if complete. */
  missing(): { after: number; upTo: number } | undefined {
    if (this.highestKnown <= this.deliveredUpTo) return undefined;
    return { after: this.deliveredUpTo, upTo: this.highestKnown };
  }

  /**
   * The first run of missing sequence numbers, at most `maxLength` long: from the next one to
   * deliver up to just before the first message already waiting (or the highest known). What a
   * repair should fetch: not the messages that did arrive, and not holes further on that may
   * still be filling from the network.
   */
  firstHole(maxLength: number): { after: number; upTo: number } | undefined {
    if (this.highestKnown <= this.deliveredUpTo) return undefined;
    const limit = Math.min(this.highestKnown, this.deliveredUpTo + Math.max(1, maxLength));
    let upTo = this.deliveredUpTo + 1;
    while (upTo < limit && !this.waiting.has(upTo + 1)) upTo++;
    return { after: this.deliveredUpTo, upTo };
  }

  private flush(): void {
    for (let next = this.waiting.get(this.deliveredUpTo + 1); next; next = this.waiting.get(this.deliveredUpTo + 1)) {
      this.waiting.delete(next.seq);
      this.emit(next);
    }
  }

  private emit(message: M): void {
    this.deliveredUpTo = message.seq;
    this.counts.delivered++;
    this.deliver(message);
  }
}

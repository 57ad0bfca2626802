/**
 * Stamps for EVENTS datagrams (docs/protocol.md, The EVENTS datagram). Events carry no sequence
 * number, so a receiver tells a replayed EVENTS datagram by its stamp: it takes only a stamp
 * above every stamp it took under that key epoch. An epoch lives in one process (chat-keys.ts),
 * so stamps need only never repeat or go back within this process; one counter serves every chat.
 *
 * A stamp is the clock in microseconds since the Unix epoch, or the last stamp + 1 when that is
 * not above it: a clock stepping back, or over a thousand events in a millisecond, never make a
 * stamp go back. No one compares stamps across processes, so the clock need agree with no
 * other; it makes a stamp read as about when it was sent, and a restarted server's stamps start
 * above its last run's unless its clock went back.
 */
export class EventStamps {
  private last = 0;

  /** `nowMs`: the wall clock in milliseconds (tests pass their own). */
  constructor(private readonly nowMs: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.last + 1, Math.floor(this.nowMs() * 1000));
    return this.last;
  }
}

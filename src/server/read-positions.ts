import type { Logger } from 'pino';
import { READ_FLUSH_MS } from '../protocol/limits.js';
import type { ReadPositionRow, ReadPositionStore } from './store/read-positions.js';

type PositionStore = Pick<ReadPositionStore, 'upsertMany' | 'get' | 'sharesReceipts'>;

/** A position that moved, as flushed: who, where, how far, and whether they share it. */
export interface MovedPosition extends ReadPositionRow {
  name: string;
  shared: boolean;
}

export interface ReadPositionsDeps {
  store: PositionStore;
  logger: Pick<Logger, 'error'>;
  /** Told of the positions each flush wrote (read events go out from here). */
  onFlushed?: (moved: MovedPosition[]) => void;
  /** How long a position waits before it is written (READ_FLUSH_MS). */
  flushMs?: number;
}

interface Pending {
  seq: number;
  name: string;
}

/**
 * Members' read positions, written coalesced: a position set ten times in a second costs one
 * write, of its last value, at the next flush (every READ_FLUSH_MS while anything is pending,
 * and once more when the server closes, so nothing acknowledged is lost). Reads merge what is
 * pending with what is stored. Positions only move forward; the caller clamps them to the
 * chat's latest seq. The cost is one row per position change, never per member × message.
 */
export class ReadPositions {
  /** Not yet written, by chat then user. */
  private pending = new Map<string, Map<number, Pending>>();
  /**
   * Taken from `pending` by the flush being written: still counted by reads until the write is
   * done, or a read in between would find it neither pending nor stored (and a position
   * acknowledged a moment before would seem to have gone back).
   */
  private writing = new Map<string, Map<number, Pending>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats = { rowsWritten: 0, flushes: 0, updates: 0 };

  constructor(private readonly deps: ReadPositionsDeps) {}

  /**
   * Moves the user's position in the chat to `seq` if that is forward, and returns the position
   * (the higher of the two). Written at the next flush.
   */
  async set(chatCode: string, user: { id: number; name: string }, seq: number): Promise<number> {
    this.stats.updates++;
    const current = await this.get(chatCode, user.id);
    if (seq <= current) return current;
    let ofChat = this.pending.get(chatCode);
    if (!ofChat) {
      ofChat = new Map();
      this.pending.set(chatCode, ofChat);
    }
    // Another set may have moved it further while the store was read.
    const now = ofChat.get(user.id)?.seq ?? 0;
    if (seq > now) ofChat.set(user.id, { seq, name: user.name });
    this.arm();
    return Math.max(seq, now);
  }

  async get(chatCode: string, userId: number): Promise<number> {
    const stored = await this.deps.store.get(chatCode, userId);
    return Math.max(stored, this.pendingSeq(chatCode, userId));
  }

  /** The user's positions not yet written (pending or being written), by chat: to merge into a stored listing. */
  unwrittenOf(userId: number): ReadonlyMap<string, number> {
    const positions = new Map<string, number>();
    for (const unwritten of [this.writing, this.pending]) {
      for (const [chatCode, ofChat] of unwritten) {
        const p = ofChat.get(userId);
        if (p && p.seq > (positions.get(chatCode) ?? 0)) positions.set(chatCode, p.seq);
      }
    }
    return positions;
  }

  /** What is pending (or being written) for the chat, by user (to merge into a stored listing). */
  pendingOf(chatCode: string): ReadonlyMap<number, number> {
    const positions = new Map<number, number>();
    for (const unwritten of [this.writing, this.pending]) {
      for (const [userId, p] of unwritten.get(chatCode) ?? []) positions.set(userId, Math.max(p.seq, positions.get(userId) ?? 0));
    }
    return positions;
  }

  /** Writes what is pending now; resolves once it is written. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** Writes what is pending and stops the timer: positions acknowledged before close are kept. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private pendingSeq(chatCode: string, userId: number): number {
    return Math.max(this.pending.get(chatCode)?.get(userId)?.seq ?? 0, this.writing.get(chatCode)?.get(userId)?.seq ?? 0);
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.deps.flushMs ?? READ_FLUSH_MS);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    this.writing = taken;
    const rows: (ReadPositionRow & { name: string })[] = [];
    for (const [chatCode, ofChat] of taken) for (const [userId, p] of ofChat) rows.push({ chatCode, userId, seq: p.seq, name: p.name });
    try {
      await this.deps.store.upsertMany(rows, Date.now());
    } catch (error) {
      // The database away for a moment: put them back (unless moved further meanwhile) and try again later.
      this.deps.logger.error({ err: error }, 'read positions could not be written; retrying');
      for (const row of rows) {
        let ofChat = this.pending.get(row.chatCode);
        if (!ofChat) {
          ofChat = new Map();
          this.pending.set(row.chatCode, ofChat);
        }
        if ((ofChat.get(row.userId)?.seq ?? 0) < row.seq) ofChat.set(row.userId, { seq: row.seq, name: row.name });
      }
      if (!this.closed) this.arm();
      return;
    } finally {
      // Written, or put back into pending: counted there from now on.
      this.writing = new Map();
    }
    this.stats.rowsWritten += rows.length;
    this.stats.flushes++;
    if (this.deps.onFlushed) await this.announce(rows);
  }

  /** Whether each writer shares receipts is read once per user and flush: the cost follows the changes. */
  private async announce(rows: (ReadPositionRow & { name: string })[]): Promise<void> {
    const shares = new Map<number, boolean>();
    try {
      for (const row of rows) if (!shares.has(row.userId)) shares.set(row.userId, await this.deps.store.sharesReceipts(row.userId));
    } catch (error) {
      this.deps.logger.error({ err: error }, 'receipts settings could not be read: no read events this flush');
      return;
    }
    this.deps.onFlushed!(rows.map((row) => ({ ...row, shared: shares.get(row.userId) === true })));
  }
}

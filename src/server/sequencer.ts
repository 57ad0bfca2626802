import type { Committed, NewMessage } from './store/messages.js';
import type { Store } from './store/store.js';

/** A message as committed: what fan-out multicasts and what an ack reports. */
export interface CommittedMessage {
  chatCode: string;
  seq: number;
  senderId: number;
  senderName: string;
  clientMsgId: string;
  text: string;
  sentAt: number;
}

export interface Submission extends NewMessage {
  senderName: string;
}

interface Pending {
  message: Submission;
  resolve(result: Committed): void;
  reject(error: unknown): void;
}

// Bounds one transaction, so a burst cannot make a single commit (and its acks) wait too long.
const MAX_BATCH = 4096;

/**
 * Group commit. Messages that arrive while a transaction is running wait for the next one, so
 * one durable commit (one fsync) covers many messages and durability does not cost throughput.
 * Sequence numbers are assigned by the store inside the transaction; a submission resolves only
 * once its transaction has committed, which is what makes an ack a promise of durability.
 */
export class Sequencer {
  private queue: Pending[] = [];
  private running = false;
  private readonly listeners: ((batch: CommittedMessage[]) => void)[] = [];
  private idle: (() => void)[] = [];
  /** Counts for /api/metrics: messages over transactions is the group-commit batch size. */
  readonly stats = { transactions: 0, committed: 0, duplicates: 0, failedTransactions: 0 };

  constructor(private readonly store: Store) {}

  submit(message: Submission): Promise<Committed> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Called after each commit with its new (non-duplicate) messages, in commit order. */
  onCommitted(listener: (batch: CommittedMessage[]) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves once nothing is queued or being committed (for shutdown). */
  async settled(): Promise<void> {
    if (!this.running && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      let results: Committed[];
      try {
        results = await this.store.log.append(batch.map((p) => p.message));
      } catch (error) {
        this.stats.failedTransactions++;
        for (const p of batch) p.reject(error);
        continue;
      }
      this.stats.transactions++;
      const fresh: CommittedMessage[] = [];
      batch.forEach((p, i) => {
        const result = results[i]!;
        if (!result.duplicate) {
          const { chatCode, senderId, senderName, clientMsgId, text } = p.message;
          fresh.push({ chatCode, seq: result.seq, senderId, senderName, clientMsgId, text, sentAt: result.sentAt });
        }
      });
      this.stats.committed += fresh.length;
      this.stats.duplicates += batch.length - fresh.length;
      // Fan-out first, acks second: by the time a sender learns its sequence number, the
      // datagram carrying it is already on its way to every member.
      if (fresh.length > 0) for (const listener of this.listeners) listener(fresh);
      batch.forEach((p, i) => p.resolve(results[i]!));
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

import { ChorusError } from '../protocol/errors.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS, isConnectionLoss } from './store/database.js';
import { type Committed, type CommittedMessage, type Fence, LeaseLostError, type NewMessage } from './store/messages.js';
import type { Store } from './store/store.js';

export type { CommittedMessage };

export interface Submission extends NewMessage {
  senderName: string;
}

/** What ingest hands a send to: the sequencer itself on a single server, the cluster's router in a cluster. */
export interface MessageSink {
  submit(message: Submission): Promise<Committed>;
}

interface Pending {
  message: Submission;
  resolve(result: Committed): void;
  reject(error: unknown): void;
}

export interface SequencerOptions {
  /** How long a batch waits for a lost database to come back before its sends are refused UNAVAILABLE. */
  holdMs: number;
  /**
   * Cluster mode: the leases a commit of these chats relies on (cluster/leases.ts). A chat
   * whose lease moved on has its sends refused with LeaseLostError, and the rest of the batch
   * is committed without them.
   */
  fence?: (chatCodes: readonly string[]) => Fence;
  /** Told of chats found taken over at a commit, before their sends are refused. */
  onLeaseLost?: (chatCodes: readonly string[]) => void;
}

export const DEFAULT_SEQUENCER_OPTIONS: SequencerOptions = { holdMs: 10_000 };

// Bounds one transaction, so a burst cannot make a single commit (and its acks) wait too long.
const MAX_BATCH = 4096;
// Between attempts to reach a lost database: doubling from the first, up to the last.
const RETRY_DELAYS_MS = { first: 50, max: 1000 };

/**
 * Group commit. Messages that arrive while a transaction is running wait for the next one, so
 * one durable commit (one fsync) covers many messages and durability does not cost throughput.
 * Sequence numbers are assigned by the store inside the transaction; a submission resolves only
 * once its transaction has committed, which is what makes an ack a promise of durability.
 *
 * One sender's message must never fail another's: a batch the store refuses is split in halves
 * until the message it refused is alone, and only that one fails. A lost database
 * connection is no message's fault: the batch is tried again on a fresh one until the database
 * answers or `holdMs` has passed.
 */
export class Sequencer implements MessageSink {
  private queue: Pending[] = [];
  private running = false;
  /** After the database stayed away: sends before this time (ms) are refused at once (refuseUnavailable). */
  private refusingUntil = 0;
  private readonly listeners: ((batch: CommittedMessage[]) => void)[] = [];
  private idle: (() => void)[] = [];
  /** Counts for /api/metrics: messages over transactions is the group-commit batch size. */
  readonly stats = { transactions: 0, committed: 0, duplicates: 0, failedTransactions: 0, retriedTransactions: 0, fencedTransactions: 0 };

  constructor(
    private readonly store: Store,
    private readonly options: SequencerOptions = DEFAULT_SEQUENCER_OPTIONS,
  ) {}

  submit(message: Submission): Promise<Committed> {
    return new Promise((resolve, reject) => {
      if (Date.now() < this.refusingUntil) return reject(unavailable());
      this.queue.push({ message, resolve, reject });
      if (this.running) return;
      // The first commit starts once this turn of the event loop is done, not at the first
      // submission: sends read from one chunk of a connection reach here one by one, and would
      // otherwise commit the first alone and the rest after it, two fsyncs where one does.
      this.running = true;
      setImmediate(() => void this.drain());
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
    while (this.queue.length > 0) await this.commit(this.queue.splice(0, MAX_BATCH));
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Commits `batch`, or the largest parts of it the store takes; false when the database stayed away. */
  private async commit(batch: Pending[]): Promise<boolean> {
    let outcome: Committed[] | 'lost' | { refused: unknown };
    const lostSince = Date.now();
    let retried = false;
    for (let attempt = 0; ; attempt++) {
      outcome = await this.append(batch);
      if (outcome !== 'lost') break;
      if (Date.now() - lostSince >= this.options.holdMs) return this.refuseUnavailable(batch);
      retried = true;
      this.stats.retriedTransactions++;
      await sleep(Math.min(RETRY_DELAYS_MS.first * 2 ** attempt, RETRY_DELAYS_MS.max));
    }
    if (Array.isArray(outcome)) {
      this.committed(batch, outcome, retried);
      return true;
    }
    this.stats.failedTransactions++;
    if (outcome.refused instanceof LeaseLostError) return this.leaseLost(batch, outcome.refused);
    if (batch.length === 1) {
      batch[0]!.reject(outcome.refused);
      return true;
    }
    // In order, halves first then quarters…: the store's order of the good messages is kept.
    const middle = Math.ceil(batch.length / 2);
    if (await this.commit(batch.slice(0, middle))) return this.commit(batch.slice(middle));
    for (const p of batch.slice(middle)) p.reject(unavailable());
    return false;
  }

  /** Refuses the sends of chats taken over (the router sends them to the new owner) and commits the rest. */
  private leaseLost(batch: Pending[], error: LeaseLostError): Promise<boolean> {
    this.stats.fencedTransactions++;
    const lost = new Set(error.chatCodes);
    this.options.onLeaseLost?.(error.chatCodes);
    for (const p of batch) if (lost.has(p.message.chatCode)) p.reject(error);
    const rest = batch.filter((p) => !lost.has(p.message.chatCode));
    return rest.length > 0 ? this.commit(rest) : Promise.resolve(true);
  }

  private async append(batch: Pending[]): Promise<Committed[] | 'lost' | { refused: unknown }> {
    try {
      const messages = batch.map((p) => p.message);
      const fence = this.options.fence?.([...new Set(messages.map((m) => m.chatCode))]);
      return await this.store.log.append(messages, fence);
    } catch (error) {
      return isConnectionLoss(error) ? 'lost' : { refused: error };
    }
  }

  /**
   * The database stayed away: this batch, and everything queued behind it, is refused with a
   * retryable error. Refusing what is queued too keeps each sender's order: nothing sent after a
   * refused message is committed before the sender sends that one again. So is everything
   * submitted during the wait the refusal asks for: sends a client pipelined before it read the
   * refusal arrive within a round trip, and must not be committed ahead of the refused ones it
   * sends again once the wait is over.
   */
  private refuseUnavailable(batch: Pending[]): false {
    this.stats.failedTransactions++;
    this.refusingUntil = Date.now() + UNAVAILABLE_RETRY_AFTER_SECONDS * 1000;
    for (const p of [...batch, ...this.queue.splice(0)]) p.reject(unavailable());
    return false;
  }

  private committed(batch: Pending[], results: Committed[], retried: boolean): void {
    this.stats.transactions++;
    const fresh: CommittedMessage[] = [];
    batch.forEach((p, i) => {
      const result = results[i]!;
      // A commit whose answer was lost with its connection may have happened: retried, its
      // messages come back as duplicates of themselves (same client id, same sentAt), and
      // were never fanned out. A true duplicate (a client's retry) has its first sentAt.
      const ours = !result.duplicate || (retried && result.sentAt === p.message.sentAt);
      if (ours) {
        const { chatCode, senderId, senderName, clientMsgId, text } = p.message;
        fresh.push({ chatCode, seq: result.seq, senderId, senderName, clientMsgId, text, sentAt: result.sentAt });
      }
    });
    this.stats.committed += fresh.length;
    this.stats.duplicates += batch.length - fresh.length;
    // Fan-out first, acks second: by the time a sender learns its sequence number, the
    // datagram carrying it is already on its way to every member.
    if (fresh.length > 0) for (const listener of this.listeners) listener(fresh);
    batch.forEach((p, i) => {
      const result = results[i]!;
      if (result.reused) p.reject(new ChorusError('CLIENT_ID_REUSED', `The message id ${p.message.clientMsgId} was already used for another message; send this one with a new id`));
      else p.resolve(result);
    });
  }
}

function unavailable(): ChorusError {
  return new ChorusError('UNAVAILABLE', 'The server cannot reach its database; try again shortly', undefined, UNAVAILABLE_RETRY_AFTER_SECONDS);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

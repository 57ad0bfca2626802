import type { Logger } from 'pino';
import { HISTORY_PAGE_MAX } from '../../protocol/limits.js';
import type { ChatProgress } from '../store/cluster.js';
import { type CommittedMessage, groupByChat } from '../store/messages.js';

export interface SiteFeedDeps {
  /** Hands a chat's next messages, consecutive and in order, to this site (recent window, multicast, push). */
  deliver(batch: CommittedMessage[]): void;
  /** The log after `after` (the durable log is the retransmission buffer between sites too). */
  readAfter(chatCode: string, after: number, limit: number): Promise<CommittedMessage[]>;
  /** Each chat's log end and membership version, from the database. */
  progress(chatCodes: readonly string[]): Promise<ChatProgress[]>;
  /** Chats this server holds state of besides those with traffic (cached members, keys). */
  watchedChats(): Iterable<string>;
  /** Another server removed a member: drop what this server cached of the chat's members, and its key. */
  membershipMoved(chatCode: string): void;
  logger: Pick<Logger, 'warn'>;
}

interface ChatState {
  /** The last seq handed to this site; undefined until the first message seen. */
  delivered?: number;
  /** Work on the chat, one step at a time, so that its messages go out in order. */
  chain: Promise<void>;
  /** The log's end the previous sweep saw: still not delivered at the next one means it was missed. */
  seenLast?: number;
  membershipVersion?: number;
  /** Removals this server already acted on (its own, or heard on the bus) that the version will show. */
  expectedRemovals: number;
}

/**
 * What a site multicasts and pushes, in order and without a hole, whichever way it came: the
 * committed batches of the chats this server owns (straight from its sequencer) and those of
 * the other servers (over the bus). A batch that starts past the next expected seq means bus
 * traffic was lost: the missing run is read from the database first. Bus traffic lost at a
 * chat's end shows in a sweep (every `SWEEP_MS`, and at once when the bus comes back): a log
 * end the previous sweep saw and that is still not delivered is read from the database too.
 */
export class SiteFeed {
  private readonly chats = new Map<string, ChatState>();
  readonly stats = { repaired: 0 };

  constructor(private readonly deps: SiteFeedDeps) {}

  /** A committed batch (any chats), each chat's messages in seq order. */
  offer(batch: readonly CommittedMessage[]): void {
    for (const [code, messages] of groupByChat(batch)) this.enqueue(code, (state) => this.take(code, state, messages));
  }

  /** This server acted on a removal already (its own, or one heard on the bus): the sweep need not. */
  removalSeen(chatCode: string): void {
    this.state(chatCode).expectedRemovals++;
  }

  /** Compares every chat with the database; `now`: do not wait a sweep for what is in flight (the bus was down). */
  async sweep(now = false): Promise<void> {
    const codes = new Set([...this.chats.keys(), ...this.deps.watchedChats()]);
    let rows: ChatProgress[];
    try {
      rows = await this.deps.progress([...codes]);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'cluster sweep could not read the database');
      return;
    }
    for (const row of rows) {
      const state = this.state(row.code);
      this.noticeMembership(row.code, state, row.membershipVersion);
      const behind = state.delivered !== undefined && row.lastSeq > state.delivered;
      const missed = behind && (now || (state.seenLast !== undefined && state.delivered! < state.seenLast));
      state.seenLast = behind ? row.lastSeq : undefined;
      if (missed) this.enqueue(row.code, (s) => this.repair(row.code, s, row.lastSeq));
    }
  }

  private noticeMembership(code: string, state: ChatState, version: number): void {
    if (state.membershipVersion === undefined) {
      state.membershipVersion = version;
      state.expectedRemovals = 0;
      return;
    }
    const moved = version - state.membershipVersion;
    state.membershipVersion = version;
    if (moved <= 0) return;
    if (moved > state.expectedRemovals) this.deps.membershipMoved(code);
    state.expectedRemovals = Math.max(0, state.expectedRemovals - moved);
  }

  private async take(code: string, state: ChatState, messages: CommittedMessage[]): Promise<void> {
    const first = messages[0]!.seq;
    if (state.delivered === undefined) state.delivered = first - 1;
    if (first > state.delivered + 1) await this.repair(code, state, first - 1);
    const fresh = messages.filter((m) => m.seq > state.delivered!);
    if (fresh.length === 0) return;
    this.deps.deliver(fresh);
    state.delivered = fresh.at(-1)!.seq;
  }

  /** Reads and delivers the log from the next expected seq up to `upTo`; on failure leaves the rest to receivers' own repair. */
  private async repair(code: string, state: ChatState, upTo: number): Promise<void> {
    try {
      while (state.delivered! < upTo) {
        const page = await this.deps.readAfter(code, state.delivered!, Math.min(HISTORY_PAGE_MAX, upTo - state.delivered!));
        if (page.length === 0) return;
        this.deps.deliver(page);
        this.stats.repaired += page.length;
        state.delivered = page.at(-1)!.seq;
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'cluster could not read missed messages from the database');
    }
  }

  private enqueue(code: string, step: (state: ChatState) => Promise<void>): void {
    const state = this.state(code);
    state.chain = state.chain.then(() => step(state)).catch((error) => this.deps.logger.warn({ err: error }, 'cluster feed step failed'));
  }

  private state(code: string): ChatState {
    let state = this.chats.get(code);
    if (!state) {
      state = { chain: Promise.resolve(), expectedRemovals: 0 };
      this.chats.set(code, state);
    }
    return state;
  }

  /** Resolves once every queued step has run (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.chats.values()].map((s) => s.chain));
  }
}

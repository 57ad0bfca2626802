import type { CommittedMessage } from './store/messages.js';

export interface RecentLimits {
  /** Messages kept per chat. */
  messagesPerChat: number;
  /** UTF-8 bytes of text kept per chat (a few 16 KiB messages must not pin megabytes). */
  bytesPerChat: number;
  /** Chats kept; the one least recently written to is forgotten first. */
  chats: number;
}

export const DEFAULT_RECENT_LIMITS: RecentLimits = { messagesPerChat: 1024, bytesPerChat: 512 * 1024, chats: 256 };

interface Window {
  /** Consecutive sequence numbers, ascending, from rows[head] on (before head: forgotten). */
  rows: CommittedMessage[];
  head: number;
  bytes: number;
}

/**
 * The tail of each busy chat's log, in memory, so that gap repair (history pages `after` a recent
 * sequence number, asked by every receiver that lost the same datagram) is answered without a
 * query. Fed in commit order by the sequencer, so a window is always a run of consecutive
 * sequence numbers that matches the store; anything older than a window is read from the store.
 */
export class RecentMessages {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly limits: RecentLimits = DEFAULT_RECENT_LIMITS) {}

  /** A committed batch, in commit order. */
  add(batch: readonly CommittedMessage[]): void {
    for (const message of batch) this.append(message);
  }

  /**
   * The first `limit` messages after `after`, or undefined when the window does not reach back
   * that far (or holds nothing for the chat): then the store must answer.
   */
  after(chatCode: string, after: number, limit: number): CommittedMessage[] | undefined {
    const window = this.windows.get(chatCode);
    const first = window?.rows[window.head]?.seq;
    if (!window || first === undefined || after < first - 1) return undefined;
    const start = window.head + after - first + 1;
    return window.rows.slice(start, start + limit);
  }

  /** The chat's latest committed sequence number, if the window holds the chat. */
  latest(chatCode: string): number | undefined {
    return this.windows.get(chatCode)?.rows.at(-1)?.seq;
  }

  private append(message: CommittedMessage): void {
    let window = this.windows.get(message.chatCode);
    const last = window?.rows.at(-1)?.seq;
    if (!window || (last !== undefined && message.seq !== last + 1)) {
      // A jump (a commit this process did not see) breaks the run: start a new window.
      window = { rows: [], head: 0, bytes: 0 };
    }
    // Re-inserting keeps the Map in least-recently-written order, for eviction.
    this.windows.delete(message.chatCode);
    this.windows.set(message.chatCode, window);
    window.rows.push(message);
    window.bytes += Buffer.byteLength(message.text, 'utf8');
    this.trim(window);
    if (this.windows.size > this.limits.chats) this.windows.delete(this.windows.keys().next().value!);
  }

  private trim(window: Window): void {
    const { rows } = window;
    while (
      rows.length - window.head > 1 &&
      (rows.length - window.head > this.limits.messagesPerChat || window.bytes > this.limits.bytesPerChat)
    ) {
      window.bytes -= Buffer.byteLength(rows[window.head]!.text, 'utf8');
      window.head++;
    }
    // Forgotten rows are cut off in one go once they are half the array: amortised O(1) per
    // message, where cutting one at every message would move the whole window each time.
    if (window.head > 0 && window.head >= rows.length - window.head) {
      rows.splice(0, window.head);
      window.head = 0;
    }
  }
}

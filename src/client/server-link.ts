import type { ChorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import type { ChatMessage } from '../protocol/message.js';

/**
 * What the Receiver asks of the server over the client's TCP connection, to find out whether
 * multicast reaches it and to be pushed a chat's messages when it does not (docs/protocol.md,
 * Delivery). The Sender implements it on the connection it keeps anyway; tests pass a fake.
 */
export interface ServerLink {
  /**
   * Asks the server to multicast a PROBE with this nonce on the chat's group. Resolves with the
   * latest seq multicast in the chat once the server says the probe went out; rejects when the
   * server refuses it or the connection is lost first (which says nothing about multicast).
   */
  probe(chat: string, nonce: string): Promise<{ latestSeq: number }>;
  /** Asks for the chat's committed messages after `after()` by push, now and after every reconnect. */
  watch(chat: string, after: () => number): void;
  unwatch(chat: string): void;
  /** Pushed messages, consecutive, in order, for a watched chat. */
  onPushed(listener: (chat: string, messages: ChatMessage[]) => void): void;
  /** The server refused or ended a watch (NOT_A_MEMBER after a removal, say). */
  onWatchRefused(listener: (chat: string, error: ChorusError) => void): void;
  /** Events (typing, read, presence) of a watched chat, pushed as multicast would have carried them. */
  onEvents(listener: (chat: string, events: ChatEvent[]) => void): void;
  /**
   * Tells the server how the chat fares on multicast: the last seq delivered in order, and how
   * many messages were repaired since the last report (the server paces multicast by it).
   * Best effort: false, and nothing sent, when not connected or when the server does not take
   * reports (its `welcome` did not say `progress`).
   */
  progress(chat: string, delivered: number, repaired: number): boolean;
}

import type { Logger } from 'pino';
import type { ChatEvent } from '../protocol/events.js';
import type { TypingNow } from './typing-now.js';

/**
 * Where a chat's ephemeral events go: multicast as an EVENTS datagram on the chat's group (one
 * datagram for every member on multicast), and as an `events` frame to each connection watching
 * the chat by push. Never stored, never repaired.
 */
export class ChatEvents {
  readonly stats = { typing: 0, read: 0, presence: 0, membership: 0 };

  constructor(
    private readonly deps: {
      multicast: { events(chatCode: string, events: readonly ChatEvent[]): Promise<void> };
      push: { events(chatCode: string, events: readonly ChatEvent[]): void };
      logger: Pick<Logger, 'warn'>;
      /** Cluster mode: the same events to the other servers, which send them at their sites (`sendHere`). */
      relay?: (chatCode: string, events: readonly ChatEvent[]) => void;
      /** Who is typing, for connections that start watching later (push.ts). */
      typing?: TypingNow;
    },
  ) {}

  send(chatCode: string, events: readonly ChatEvent[]): void {
    if (events.length === 0) return;
    this.deps.relay?.(chatCode, events);
    this.sendHere(chatCode, events);
  }

  /** Events to this server's members only (in a cluster: events another server relayed). */
  sendHere(chatCode: string, events: readonly ChatEvent[]): void {
    if (events.length === 0) return;
    for (const event of events) this.stats[event.kind]++;
    this.deps.typing?.record(chatCode, events);
    this.deps.multicast.events(chatCode, events).catch((error) => this.deps.logger.warn({ err: error }, 'events could not be multicast'));
    this.deps.push.events(chatCode, events);
  }
}

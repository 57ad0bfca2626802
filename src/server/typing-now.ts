import type { ChatEvent } from '../protocol/events.js';
import { TYPING_EXPIRY_MS } from '../protocol/limits.js';

type TypingEvent = Extract<ChatEvent, { kind: 'typing' }>;

/**
 * Who is typing in each chat now, as the typing events that went out say: an `on` holds until
 * the matching `off` or for TYPING_EXPIRY_MS (what a client shows one for), whichever is first.
 * Typing events go only to those listening when they are sent; a connection that starts
 * watching a chat by push is told from this instead, or it would miss a member's `on` until that
 * member's next refresh (TYPING_REFRESH_MS). Memory only, and only chats with someone typing.
 */
export class TypingNow {
  private readonly byChat = new Map<string, Map<number, { event: TypingEvent; until: number }>>();
  private lastSweep: number;

  constructor(private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** Takes note of the typing events among `events`, sent to the chat now. */
  record(chatCode: string, events: readonly ChatEvent[]): void {
    this.sweep();
    for (const event of events) {
      if (event.kind !== 'typing') continue;
      let typers = this.byChat.get(chatCode);
      if (event.on) {
        if (!typers) this.byChat.set(chatCode, (typers = new Map()));
        typers.set(event.userId, { event, until: this.now() + TYPING_EXPIRY_MS });
      } else if (typers) {
        typers.delete(event.userId);
        if (typers.size === 0) this.byChat.delete(chatCode);
      }
    }
  }

  /** The `on` events of those typing in the chat now, in the order they started. */
  in(chatCode: string): TypingEvent[] {
    this.forgetExpired(chatCode, this.now());
    return [...(this.byChat.get(chatCode)?.values() ?? [])].map(({ event }) => event);
  }

  /** Chats nobody asks about would keep a crashed client's `on`: every chat is swept once per TYPING_EXPIRY_MS. */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < TYPING_EXPIRY_MS) return;
    this.lastSweep = now;
    for (const chatCode of [...this.byChat.keys()]) this.forgetExpired(chatCode, now);
  }

  private forgetExpired(chatCode: string, now: number): void {
    const typers = this.byChat.get(chatCode);
    if (!typers) return;
    for (const [userId, { until }] of typers) if (until <= now) typers.delete(userId);
    if (typers.size === 0) this.byChat.delete(chatCode);
  }

  /** Chats with someone typing (for tests: what is held). */
  get chats(): number {
    return this.byChat.size;
  }
}

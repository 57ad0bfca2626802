import type { ChatEvent } from '../protocol/events.js';
import { TYPING_EXPIRY_MS, TYPING_IDLE_MS, TYPING_REFRESH_MS } from '../protocol/limits.js';
import { typingSentence } from '../protocol/typing-text.js';
import { type Clock, type Timer, systemClock } from './clock.js';

/**
 * Typing indicators as clients keep them (docs/protocol.md, Presence, typing and read receipts):
 * when to say "I am typing" (TypingSignal, one per compose box) and who else is (TypingWatch,
 * from the chat's events). Policy only: what is sent and what is shown is the caller's, and time
 * comes from a Clock, so that tests move it by hand.
 */

export interface TypingSignalOptions {
  /** Sends `typing on` or `typing off` for the chat (Sender.typing, best effort). */
  send(on: boolean): void;
  clock?: Clock;
  refreshMs?: number;
  idleMs?: number;
}

/**
 * The sending side. `keystroke()` on every key that changes the text: `on` goes out when typing
 * starts and again every TYPING_REFRESH_MS while it goes on (receivers forget an `on` after
 * TYPING_EXPIRY_MS, so a refresh must come before that); `off` after TYPING_IDLE_MS without a
 * keystroke, or at once on `stop()` (the message was sent, the line cleared, the chat left).
 */
export class TypingSignal {
  private readonly clock: Clock;
  private refresh?: Timer;
  private idle?: Timer;

  constructor(private readonly options: TypingSignalOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get typing(): boolean {
    return this.refresh !== undefined;
  }

  keystroke(): void {
    if (!this.refresh) {
      this.options.send(true);
      this.refresh = this.clock.every(this.options.refreshMs ?? TYPING_REFRESH_MS, () => this.options.send(true), { weak: true });
    }
    this.idle?.cancel();
    this.idle = this.clock.after(this.options.idleMs ?? TYPING_IDLE_MS, () => this.stop(), { weak: true });
  }

  /** Typing stopped now: says `off` if `on` was said. */
  stop(): void {
    this.idle?.cancel();
    this.idle = undefined;
    if (!this.refresh) return;
    this.refresh.cancel();
    this.refresh = undefined;
    this.options.send(false);
  }
}

export interface TypingWatchOptions {
  /** This user: never shown as typing (another device of ours says so too). */
  selfId: number;
  /** Called whenever the set of people typing in a chat changes (a start, a stop, an expiry). */
  changed?(chat: string, names: string[]): void;
  clock?: Clock;
  expiryMs?: number;
}

interface Typist {
  name: string;
  expiry: Timer;
}

/**
 * The receiving side: per chat, who is typing, from `typing` events. An entry expires
 * TYPING_EXPIRY_MS after the last `on` heard from that person, so that a lost `off` (events are
 * never repaired) or a crashed client leaves no ghost; a message from them ends it at once too.
 */
export class TypingWatch {
  private readonly clock: Clock;
  /** By chat, then by user id, in the order they started typing. */
  private readonly chats = new Map<string, Map<number, Typist>>();

  constructor(private readonly options: TypingWatchOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** A chat's events, as Receiver.onEvents hands them on; other kinds are ignored. */
  events(chat: string, events: readonly ChatEvent[]): void {
    for (const event of events) {
      if (event.kind !== 'typing' || event.userId === this.options.selfId) continue;
      if (event.on) this.started(chat, event.userId, event.name);
      else this.stopped(chat, event.userId);
    }
  }

  /** A message from this user arrived: they have stopped typing it. */
  messageFrom(chat: string, userId: number): void {
    this.stopped(chat, userId);
  }

  /** Names of those typing in the chat, in the order they started. */
  names(chat: string): string[] {
    return [...(this.chats.get(chat)?.values() ?? [])].map((t) => t.name);
  }

  /** "Ben is typing…", or undefined when nobody is. */
  sentence(chat: string): string | undefined {
    return typingSentence(this.names(chat));
  }

  close(): void {
    for (const typists of this.chats.values()) for (const t of typists.values()) t.expiry.cancel();
    this.chats.clear();
  }

  private started(chat: string, userId: number, name: string): void {
    let typists = this.chats.get(chat);
    if (!typists) this.chats.set(chat, (typists = new Map()));
    const known = typists.get(userId);
    known?.expiry.cancel();
    const expiry = this.clock.after(this.options.expiryMs ?? TYPING_EXPIRY_MS, () => this.stopped(chat, userId), { weak: true });
    typists.set(userId, { name, expiry });
    if (!known || known.name !== name) this.options.changed?.(chat, this.names(chat));
  }

  private stopped(chat: string, userId: number): void {
    const typists = this.chats.get(chat);
    const known = typists?.get(userId);
    if (!typists || !known) return;
    known.expiry.cancel();
    typists.delete(userId);
    if (typists.size === 0) this.chats.delete(chat);
    this.options.changed?.(chat, this.names(chat));
  }
}

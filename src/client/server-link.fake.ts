import type { ChorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import type { ChatMessage } from '../protocol/message.js';
import type { ServerLink } from './server-link.js';

/** A ServerLink without a server: records probes and watches; the test answers and pushes by hand. */
export class FakeLink implements ServerLink {
  readonly probes: { chat: string; nonce: string; answer(latestSeq: number): void; refuse(error: Error): void }[] = [];
  readonly watching = new Map<string, () => number>();
  readonly calls: string[] = [];
  private readonly pushed: ((chat: string, messages: ChatMessage[]) => void)[] = [];
  private readonly refused: ((chat: string, error: ChorusError) => void)[] = [];
  private readonly events: ((chat: string, events: ChatEvent[]) => void)[] = [];

  probe(chat: string, nonce: string): Promise<{ latestSeq: number }> {
    return new Promise((resolve, reject) => {
      this.probes.push({ chat, nonce, answer: (latestSeq) => resolve({ latestSeq }), refuse: reject });
    });
  }

  watch(chat: string, after: () => number): void {
    this.watching.set(chat, after);
    this.calls.push(`watch ${chat} after ${after()}`);
  }

  unwatch(chat: string): void {
    this.watching.delete(chat);
    this.calls.push(`unwatch ${chat}`);
  }

  onPushed(listener: (chat: string, messages: ChatMessage[]) => void): void {
    this.pushed.push(listener);
  }

  onWatchRefused(listener: (chat: string, error: ChorusError) => void): void {
    this.refused.push(listener);
  }

  onEvents(listener: (chat: string, events: ChatEvent[]) => void): void {
    this.events.push(listener);
  }

  /** The server pushes these events of `chat`. */
  pushEvents(chat: string, events: ChatEvent[]): void {
    for (const listener of this.events) listener(chat, events);
  }

  /** The server pushes these messages of `chat`. */
  push(chat: string, messages: ChatMessage[]): void {
    for (const listener of this.pushed) listener(chat, messages);
  }

  refuseWatch(chat: string, error: ChorusError): void {
    this.watching.delete(chat);
    for (const listener of this.refused) listener(chat, error);
  }

  /** Whether `progress` goes through (connected, to a server that takes it). */
  takesProgress = true;
  readonly progressReports: { chat: string; delivered: number; repaired: number }[] = [];

  progress(chat: string, delivered: number, repaired: number): boolean {
    if (!this.takesProgress) return false;
    this.progressReports.push({ chat, delivered, repaired });
    return true;
  }

  /** The latest probe not yet answered. */
  get lastProbe() {
    return this.probes.at(-1);
  }
}

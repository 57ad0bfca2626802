import { formatChatCode } from '../protocol/chat-code.js';
import { ChorusError, chorusError } from '../protocol/errors.js';
import type { Store } from './store/store.js';

/**
 * Who belongs to which chat, kept in memory so that checking every message sent over TCP does
 * not cost a query. Loaded per chat on first use; joins and leaves go through `Chats`, which
 * updates it, so it never goes stale within this process. Only chats that exist are cached, so
 * sends to made-up codes cannot grow it.
 */
export class MembershipCache {
  private readonly members = new Map<string, Promise<Set<number>>>();
  /** The same sets once loaded, for a check without an await (push checks before every write). */
  private readonly loaded = new Map<string, Set<number>>();

  constructor(private readonly store: Store) {}

  /** Throws CHAT_NOT_FOUND for a chat that does not exist. */
  async isMember(chatCode: string, userId: number): Promise<boolean> {
    return (await this.load(chatCode)).has(userId);
  }

  /** How many members the chat has (typing is not carried in large chats). */
  async memberCount(chatCode: string): Promise<number> {
    return (await this.load(chatCode)).size;
  }

  /** Whether the user is in the chat, if the cache holds the chat already; undefined when it would have to load it. */
  isMemberNow(chatCode: string, userId: number): boolean | undefined {
    return this.loaded.get(chatCode)?.has(userId);
  }

  /** Throws NOT_A_MEMBER when the user is not in the chat (CHAT_NOT_FOUND when there is none). */
  async requireMember(chatCode: string, userId: number): Promise<void> {
    if (!(await this.isMember(chatCode, userId))) throw notAMember(chatCode);
  }

  async added(chatCode: string, userId: number): Promise<void> {
    (await this.load(chatCode)).add(userId);
  }

  async removed(chatCode: string, userId: number): Promise<void> {
    (await this.load(chatCode)).delete(userId);
  }

  private load(chatCode: string): Promise<Set<number>> {
    let entry = this.members.get(chatCode);
    if (!entry) {
      entry = this.fetch(chatCode);
      entry.then(
        (set) => this.loaded.set(chatCode, set),
        () => this.members.delete(chatCode),
      );
      this.members.set(chatCode, entry);
    }
    return entry;
  }

  private async fetch(chatCode: string): Promise<Set<number>> {
    if (!(await this.store.chats.find(chatCode))) {
      throw chorusError('CHAT_NOT_FOUND', formatChatCode(chatCode));
    }
    return new Set((await this.store.chats.listMembers(chatCode)).map((r) => r.id));
  }
}

/** The one refusal for a chat the caller is not in, whichever check finds it. */
export function notAMember(chatCode: string): ChorusError {
  return chorusError('NOT_A_MEMBER', formatChatCode(chatCode));
}

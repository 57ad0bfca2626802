import { formatChatCode } from '../protocol/chat-code.js';
import { ChorusError, chorusError } from '../protocol/errors.js';
import type { Store } from './store/store.js';

/** A join or a removal made through this server (cluster mode tells the other servers). */
export interface MembershipChange {
  chatCode: string;
  userId: number;
  change: 'added' | 'removed';
}

export interface MembershipCacheOptions {
  /**
   * Cluster mode: joins happen at other servers too, so a "not a member" answer is checked
   * once more against the database before it is given (removals are told over the bus).
   */
  recheckMisses: boolean;
}

/**
 * Who belongs to which chat, kept in memory so that checking every message sent over TCP does
 * not cost a query. Loaded per chat on first use; joins and leaves go through `Chats`, which
 * updates it, so it never goes stale within this process (in a cluster, other servers' changes
 * arrive through `apply` and `forget`). Only chats that exist are cached, so sends to made-up
 * codes cannot grow it.
 */
export class MembershipCache {
  private readonly members = new Map<string, Promise<Set<number>>>();
  /** The same sets once loaded, for a check without an await (push checks before every write). */
  private readonly loaded = new Map<string, Set<number>>();
  private readonly listeners: ((change: MembershipChange) => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly options: MembershipCacheOptions = { recheckMisses: false },
  ) {}

  /** Throws CHAT_NOT_FOUND for a chat that does not exist. */
  async isMember(chatCode: string, userId: number): Promise<boolean> {
    if ((await this.load(chatCode)).has(userId)) return true;
    if (!this.options.recheckMisses) return false;
    this.forget(chatCode);
    return (await this.load(chatCode)).has(userId);
  }

  /** Hears every change made through this process (not those applied from elsewhere). */
  onChange(listener: (change: MembershipChange) => void): void {
    this.listeners.push(listener);
  }

  /** A change made at another server (to the chat's cached set, if this server holds one). */
  apply(change: MembershipChange): void {
    const set = this.loaded.get(change.chatCode);
    if (!set) return;
    if (change.change === 'added') set.add(change.userId);
    else set.delete(change.userId);
  }

  /** Drops what is cached of the chat: the next check reads the database. */
  forget(chatCode: string): void {
    this.members.delete(chatCode);
    this.loaded.delete(chatCode);
  }

  forgetAll(): void {
    this.members.clear();
    this.loaded.clear();
  }

  /** The chats whose members are cached. */
  cachedChats(): string[] {
    return [...this.loaded.keys()];
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
    this.tell({ chatCode, userId, change: 'added' });
  }

  async removed(chatCode: string, userId: number): Promise<void> {
    (await this.load(chatCode)).delete(userId);
    this.tell({ chatCode, userId, change: 'removed' });
  }

  private tell(change: MembershipChange): void {
    for (const listener of this.listeners) listener(change);
  }

  private load(chatCode: string): Promise<Set<number>> {
    let entry = this.members.get(chatCode);
    if (!entry) {
      entry = this.fetch(chatCode);
      const pending = entry;
      pending.then(
        (set) => {
          if (this.members.get(chatCode) === pending) this.loaded.set(chatCode, set);
        },
        () => {
          if (this.members.get(chatCode) === pending) this.members.delete(chatCode);
        },
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

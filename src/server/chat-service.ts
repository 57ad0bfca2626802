import { formatChatCode, newChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { ChorusError, chorusError } from '../protocol/errors.js';
import type { ChatMessage } from '../protocol/message.js';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../protocol/limits.js';
import type { Chat, ChatMulticast, Member, ReadPosition } from '../protocol/resources.js';
import { newStreamId } from '../protocol/stream-id.js';
import type { User } from './accounts.js';
import type { ChatKey, ChatKeys } from './chat-keys.js';
import { type Caller, CodeGuessThrottle } from './code-guess-throttle.js';
import { DEFAULTS } from './config.js';
import { type MembershipCache, notAMember } from './membership-cache.js';
import type { MulticastAllocator } from './multicast-allocator.js';
import { fitPageToBytes } from './history-page.js';
import type { Presence } from './presence.js';
import type { ReadPositions } from './read-positions.js';
import type { RecentMessages } from './recent-messages.js';
import type { ChatWithCount, MemberChatRow } from './store/chats.js';
import { isUniqueViolation } from './store/database.js';
import type { CommittedMessage, Page } from './store/messages.js';
import type { Store } from './store/store.js';
import * as validate from './validation.js';

export type { Chat, ChatMulticast, Member };

/** Who asks about a chat by its code: the user, and the address the request came from. */
export interface ChatCaller extends Caller {
  user: User;
}

/** A message of the history API: the one message shape of every part (protocol/message.ts). */


export interface ChatLimits {
  /** Chats one user may create. */
  chatsPerUser: number;
  /** Members one chat may have. */
  membersPerChat: number;
  /** A history page stops before its JSON passes this many bytes (history-page.ts). */
  historyPageBytes?: number;
}

/** Runs one task at a time per key, so that a limit's check and the write it guards do not interleave. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** The caller's read position in the chat, and how many messages others sent after it. */
interface ReadState {
  readSeq: number;
  unreadCount: number;
}

function toChat(row: ChatWithCount, key: ChatKey, { readSeq, unreadCount }: ReadState): Chat {
  return {
    code: formatChatCode(row.code),
    name: row.name,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    latestSeq: row.last_seq,
    memberCount: row.member_count,
    multicast: {
      group: row.multicast_group,
      port: row.multicast_port,
      streamId: row.stream_id,
      keyEpoch: key.epoch,
      key: key.key.toString('base64'),
    },
    readSeq,
    unreadCount,
  };
}

/** A message of the log as the HTTP API and every client show it. */
export function toChatMessage(m: CommittedMessage): ChatMessage {
  return {
    chat: formatChatCode(m.chatCode),
    seq: m.seq,
    sender: { id: m.senderId, name: m.senderName },
    text: m.text,
    sentAt: new Date(m.sentAt).toISOString(),
    clientMsgId: m.clientMsgId,
  };
}


export interface ChatsDeps {
  store: Store;
  multicast: MulticastAllocator;
  membership: MembershipCache;
  keys: ChatKeys;
  /** The tail of busy chats' logs in memory, which answers repair pages. */
  recent: RecentMessages;
  /** Told after a chat's key changes, so receivers hear of the new epoch at once. */
  onKeyRotated?: (chatCode: string) => void;
  limits?: ChatLimits;
  /** Counts unknown codes and refuses callers who try too many (code-guess-throttle.ts). */
  guesses?: CodeGuessThrottle;
  /** Members' read positions, written coalesced (read-positions.ts). */
  reads: ReadPositions;
  /** Who is online (presence.ts), for the member list. */
  presence: Pick<Presence, 'of'>;
}

/**
 * Chats and their membership. Every method that reveals a chat's contents checks membership
 * first, in `requireMember`, so no endpoint can forget it; the same check counts codes that do
 * not exist towards the caller's code-guessing limit, and refuses them past it.
 */
export class Chats {
  private readonly queue = new KeyedQueue();

  private readonly store: Store;
  private readonly membership: MembershipCache;
  private readonly keys: ChatKeys;
  private readonly recent: RecentMessages;
  private readonly limits: ChatLimits;
  private readonly guesses: CodeGuessThrottle;

  constructor(private readonly deps: ChatsDeps) {
    this.store = deps.store;
    this.membership = deps.membership;
    this.keys = deps.keys;
    this.recent = deps.recent;
    this.limits = deps.limits ?? { chatsPerUser: DEFAULTS.chatsPerUser, membersPerChat: DEFAULTS.membersPerChat };
    this.guesses = deps.guesses ?? new CodeGuessThrottle();
  }

  async create(user: User, input: { name: string }): Promise<Chat> {
    const name = validate.chatName(input.name);
    return this.queue.run(`user:${user.id}`, async () => {
      if ((await this.store.chats.countCreatedBy(user.id)) >= this.limits.chatsPerUser) {
        throw chorusError('TOO_MANY_CHATS', this.limits.chatsPerUser);
      }
      return this.insert(user, name);
    });
  }

  private async insert(user: User, name: string): Promise<Chat> {
    const attempts = Math.min(64, this.deps.multicast.capacity * 4);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const code = newChatCode();
      const { group, port } = this.deps.multicast.draw();
      try {
        await this.store.chats.insertWithCreator({
          code,
          name,
          created_by: user.id,
          created_at: Date.now(),
          multicast_group: group,
          multicast_port: port,
          stream_id: newStreamId(),
        });
        await this.membership.added(code, user.id);
        return this.describe(await this.findOrThrow(code), user.id);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    }
    throw chorusError('MULTICAST_EXHAUSTED');
  }

  /**
   * The caller's chats with their keys. Keys first, membership second, as in `get`: each key was
   * current before the list that still names the caller as a member was read. A chat joined
   * between the two reads is left out of this answer (its join answered with it).
   */
  async listFor(user: User): Promise<Chat[]> {
    const before = await this.store.chats.codesForUser(user.id);
    const keys = new Map(await Promise.all(before.map(async (code) => [code, await this.keys.keyFor(code)] as const)));
    // Taken before the list is read: a position written in between is in the list instead.
    const unwritten = this.deps.reads.unwrittenOf(user.id);
    const rows = await this.store.chats.listForUser(user.id);
    const chats = rows.map(async (row) => {
      const key = keys.get(row.code);
      return key ? [toChat(row, key, await this.readStateOf(row, user.id, unwritten.get(row.code) ?? 0))] : [];
    });
    return (await Promise.all(chats)).flat();
  }

  /**
   * The list counts unread messages from the stored read position; a position moved in the last
   * second is not stored yet (read-positions.ts), and the count starts from it instead: one
   * more query, for such chats only.
   */
  private async readStateOf(row: MemberChatRow, userId: number, unwritten: number): Promise<ReadState> {
    if (unwritten <= row.read_seq) return { readSeq: row.read_seq, unreadCount: row.unread_count };
    return { readSeq: unwritten, unreadCount: await this.store.messages.countUnread(row.code, userId, unwritten) };
  }

  /**
   * The chat and its key, to a member. The key is read before the membership check: a key made
   * at a removal exists only once the removal is committed, so a check that comes after reading
   * it sees that removal. Read after the check, the key could be the one made at the caller's
   * removal in between (found by test/key-race.test.ts on PostgreSQL).
   */
  async get(caller: ChatCaller, codeInput: string): Promise<Chat> {
    const code = normalizeChatCode(codeInput);
    const key = code ? this.keys.keyFor(code) : undefined;
    // A code that names no chat: the check below answers it (404), and no key is kept for it.
    key?.catch(() => {});
    const chat = await this.requireMember(caller, codeInput);
    return toChat(chat, await key!, await this.readState(chat.code, caller.user.id));
  }

  /** Joins by code: refused to a caller past the code-guessing limit, whatever the code. */
  async join(caller: ChatCaller, codeInput: string): Promise<Chat> {
    const { user } = caller;
    this.guesses.refuseWhileThrottled(caller);
    const { code } = await this.guesses.guard(caller, () => this.findOrThrow(codeInput));
    // One at a time per chat, with removals too: a removal's ban cannot slip in between this
    // check and the insert, which would let the removed user back in.
    return this.queue.run(`chat:${code}`, async () => {
      const chat = await this.findOrThrow(code);
      if (await this.store.chats.isBanned(code, user.id)) {
        throw chorusError('BANNED', formatChatCode(code));
      }
      // Joining twice stays harmless, even in a full chat.
      if (chat.member_count >= this.limits.membersPerChat && !(await this.store.chats.isMember(code, user.id))) {
        throw chorusError('CHAT_FULL', formatChatCode(code), chat.member_count);
      }
      // A second join changes nothing, and tells nobody (members' clients read the list again at each change).
      if (await this.store.chats.addMember(code, user.id, Date.now())) await this.membership.added(code, user.id);
      return this.describe(await this.findOrThrow(code), user.id);
    });
  }

  async leave(caller: ChatCaller, codeInput: string): Promise<void> {
    const chat = await this.requireMember(caller, codeInput);
    await this.dropMember(chat.code, caller.user.id);
  }

  /**
   * The chat's creator removes a member, which bans them: they may not join again unless the
   * creator lifts the ban. Removing oneself is leaving, and bans nobody.
   */
  async remove(caller: ChatCaller, codeInput: string, memberId: number): Promise<void> {
    const { user } = caller;
    const chat = await this.requireMember(caller, codeInput);
    if (memberId === user.id) return this.dropMember(chat.code, user.id);
    if (chat.created_by !== user.id) {
      throw new ChorusError('FORBIDDEN', `Only the chat's creator may remove its members`);
    }
    await this.queue.run(`chat:${chat.code}`, async () => {
      if (!(await this.store.chats.isMember(chat.code, memberId))) {
        throw new ChorusError('NOT_FOUND', `User ${memberId} is not a member of chat ${formatChatCode(chat.code)}`);
      }
      await this.dropMember(chat.code, memberId, { bannedBy: user.id });
    });
  }

  /** The chat's creator lifts a ban: the user may join again (they are not added back). */
  async liftBan(caller: ChatCaller, codeInput: string, bannedId: number): Promise<void> {
    const chat = await this.requireMember(caller, codeInput);
    if (chat.created_by !== caller.user.id) {
      throw new ChorusError('FORBIDDEN', `Only the chat's creator may lift a ban`);
    }
    await this.queue.run(`chat:${chat.code}`, async () => {
      if (!(await this.store.chats.liftBan(chat.code, bannedId))) {
        throw new ChorusError('NOT_FOUND', `User ${bannedId} is not banned from chat ${formatChatCode(chat.code)}`);
      }
    });
  }

  private async dropMember(chatCode: string, userId: number, ban?: { bannedBy: number }): Promise<void> {
    if (ban) await this.store.chats.removeAndBan(chatCode, userId, { bannedBy: ban.bannedBy, bannedAt: Date.now() });
    else await this.store.chats.removeMember(chatCode, userId);
    // The one who left knows the current key: from now on the chat speaks under a new one.
    // Both start before anything else runs, so from here on fan-out seals under the new key
    // and ingest refuses the former member's sends, even on a connection already open.
    const rotated = this.keys.rotate(chatCode);
    await Promise.all([this.membership.removed(chatCode, userId), rotated]);
    this.deps.onKeyRotated?.(chatCode);
  }

  /**
   * The chat's members, with their presence and, for those who share receipts (and for the
   * caller), their read position: a member in private mode has theirs shown to nobody else.
   */
  async members(caller: ChatCaller, codeInput: string): Promise<Member[]> {
    const chat = await this.requireMember(caller, codeInput);
    const pending = this.deps.reads.pendingOf(chat.code);
    return (await this.store.reads.members(chat.code)).map((row) => {
      const member: Member = {
        id: row.id,
        name: row.name,
        joinedAt: new Date(row.joined_at).toISOString(),
        creator: row.id === chat.created_by,
        ...this.deps.presence.of(row.id),
      };
      if (Number(row.share_receipts) !== 0 || row.id === caller.user.id) member.readSeq = Math.max(row.read_seq ?? 0, pending.get(row.id) ?? 0);
      return member;
    });
  }

  /**
   * Moves the caller's read position forward to `seq`, never past the chat's latest message;
   * behind the same check as history. Answers the position now (written coalesced).
   */
  async markRead(caller: ChatCaller, codeInput: string, seq: number): Promise<ReadPosition> {
    const chat = await this.requireMember(caller, codeInput);
    const position = await this.deps.reads.set(chat.code, caller.user, Math.min(seq, chat.last_seq));
    return { chat: formatChatCode(chat.code), seq: position };
  }

  async history(
    caller: ChatCaller,
    codeInput: string,
    query: { after?: number; before?: number; limit?: number },
  ): Promise<{ messages: ChatMessage[]; latestSeq: number }> {
    const limit = Math.min(query.limit ?? HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX);
    const page = await this.historyPage(caller, codeInput, query, limit);
    const keep = query.after !== undefined ? 'first' : 'last';
    return { messages: fitPageToBytes(page.messages, this.limits.historyPageBytes ?? DEFAULTS.historyPageBytes, keep), latestSeq: page.latestSeq };
  }

  private async historyPage(
    caller: ChatCaller,
    codeInput: string,
    query: { after?: number; before?: number },
    limit: number,
  ): Promise<{ messages: ChatMessage[]; latestSeq: number }> {
    if (query.after !== undefined && query.before === undefined) {
      const recent = await this.recentPage(caller, codeInput, query.after, limit);
      if (recent) return recent;
    }
    const chat = await this.requireMember(caller, codeInput);
    let page: Page;
    if (query.after !== undefined && query.before !== undefined) {
      throw new ChorusError('INVALID_FIELD', 'Give either after or before, not both', 'before');
    } else if (query.after !== undefined) page = { after: query.after, limit };
    else if (query.before !== undefined) page = { before: query.before, limit };
    else page = { latest: true, limit };
    const rows = await this.store.messages.page(chat.code, page);
    return { messages: rows.map(toChatMessage), latestSeq: chat.last_seq };
  }

  /**
   * A repair page from memory: the same membership check as `requireMember`, through the
   * membership cache, and no query. Undefined when the page reaches older than memory holds.
   */
  private async recentPage(caller: ChatCaller, codeInput: string, after: number, limit: number): Promise<{ messages: ChatMessage[]; latestSeq: number } | undefined> {
    const code = normalizeChatCode(codeInput);
    const rows = code ? this.recent.after(code, after, limit) : undefined;
    if (!code || !rows) return undefined;
    await this.guesses.guard(caller, () => this.membership.requireMember(code, caller.user.id));
    return { messages: rows.map(toChatMessage), latestSeq: this.recent.latest(code)! };
  }

  /**
   * The chat, if the caller belongs to it: 404 if there is no such chat (a failure towards the
   * code-guessing limit), 403 if not a member; 429 for either past that limit.
   */
  async requireMember(caller: ChatCaller, codeInput: string): Promise<ChatWithCount> {
    return this.guesses.guard(caller, async () => {
      const chat = await this.findOrThrow(codeInput);
      if (await this.store.chats.isMember(chat.code, caller.user.id)) return chat;
      // Someone the creator removed is told so: "not a member, join it" would send them to a join that is refused.
      if (await this.store.chats.isBanned(chat.code, caller.user.id)) throw chorusError('BANNED', formatChatCode(chat.code));
      throw notAMember(chat.code);
    });
  }

  private async describe(row: ChatWithCount, userId: number): Promise<Chat> {
    return toChat(row, await this.keys.keyFor(row.code), await this.readState(row.code, userId));
  }

  private async readState(chatCode: string, userId: number): Promise<ReadState> {
    const readSeq = await this.deps.reads.get(chatCode, userId);
    return { readSeq, unreadCount: await this.store.messages.countUnread(chatCode, userId, readSeq) };
  }

  private async findOrThrow(codeInput: string): Promise<ChatWithCount> {
    const code = normalizeChatCode(codeInput);
    const chat = code ? await this.store.chats.find(code) : undefined;
    if (!chat) throw chorusError('CHAT_NOT_FOUND', codeInput.trim().slice(0, 32));
    return chat;
  }
}

import type { KeyObject } from 'node:crypto';
import type { ApiClient, Chat } from '../client/api.js';
import { type ChatMessage, type DeliveryState, Receiver } from '../client/receiver.js';
import { ReadPosition } from '../client/read-position.js';
import { apiReceiverSource } from '../client/receiver-source.js';
import { receiverFollowsServers } from '../client/several-servers.js';
import { Sender, type SenderState, type SenderTarget } from '../client/sender.js';
import { TypingSignal, TypingWatch } from '../client/typing.js';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { ChorusError, type ErrorCode, chorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import { Backoff } from '../protocol/backoff.js';
import { MAX_CLIENT_MSG_ID_LENGTH, MAX_TYPING_MEMBERS } from '../protocol/limits.js';
import { blankTextProblem } from '../protocol/message-text.js';
import type { ReadPositions } from './read-positions.js';
import { mayMeanSessionEnded, toUiError } from './ui-errors.js';
import { type ConnectionState, DEFAULT_PAGE, MAX_PAGE, type UiChat, type UiDelivery, type UiMember, type UiPush, type UiRemovalReason, type UiSettings, type UiUser } from './ui-protocol.js';

export interface MessagingOptions {
  /** With the session's token. */
  api: ApiClient;
  user: UiUser;
  /** The server's pinned signing key. */
  serverKey: KeyObject;
  /** Where the sender connects, and how (TLS, pinned), from ingestEndpoint. */
  tcp: SenderTarget;
  interfaceAddress: string;
  readPositions: ReadPositions;
  push(event: UiPush): void;
  /**
   * Something refused the session: it may have ended (expired, revoked elsewhere), or the server
   * may only have stumbled. `senderGaveUp`: the TCP sender stopped for good and needs replacing.
   */
  onSessionDoubt(senderGaveUp: boolean): void;
}

interface ChatEntry {
  chat: Chat;
  /** Everything up to here has been seen. */
  readUpTo: number;
  /** Messages from others after readUpTo. */
  unread: Set<number>;
  /** The receiver has joined its group. */
  receiving: boolean;
  /** Senders seen here: a new one may be a new member, so the member count is re-read. */
  senders: Set<number>;
  /** The read position on the server: forward only, coalesced (client/read-position.ts). */
  position: ReadPosition;
  /** Says this user's typing in the chat, once a tab reports a keystroke there. */
  typing?: TypingSignal;
}

const FIRST_CONNECTION_RETRY = { firstMs: 500, maxMs: 10_000 };
/** A chat's member list is read again at most this often after membership events. */
const MEMBER_REREAD_MS = 2000;
/** Refusals that mean the user is no longer in the chat. */
const MEMBERSHIP_ENDED: ReadonlySet<ErrorCode> = new Set(['NOT_A_MEMBER', 'BANNED', 'CHAT_NOT_FOUND']);
const CLIENT_MSG_ID = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_CLIENT_MSG_ID_LENGTH}}$`);

/**
 * A logged-in user's messaging inside the agent: one Receiver for all their chats, one Sender,
 * the chat list with unread counts, and the requests the UI makes about chats. Everything the
 * UI learns arrives through `push`.
 */
export class Messaging {
  private readonly receiver: Receiver;
  private readonly stopFollowingServers: () => void;
  private readonly sender: Sender;
  private readonly chats = new Map<string, ChatEntry>();
  /** Who else is typing, per chat, each expiring by itself (a lost `off` leaves no ghost). */
  private readonly typists: TypingWatch;
  private connection: { state: ConnectionState; detail?: string } = { state: 'connecting' };
  private connectTimer?: NodeJS.Timeout;
  private readonly connectBackoff = new Backoff(FIRST_CONNECTION_RETRY);
  /** The end of the chain of membership changes (see oneAtATime). */
  private membership: Promise<unknown> = Promise.resolve();
  /** A re-read of the chat list waiting its turn, which later callers share. */
  private queuedRefresh: Promise<UiChat[]> | undefined;
  /** Chats being left from here: the refusals that follow (a watch ended, a key refused) are no news. */
  private readonly leaving = new Set<string>();
  private closed = false;
  /** Member lists to read again after membership events, one timer per chat (see membersChanged). */
  private readonly memberRereads = new Map<string, { timer?: NodeJS.Timeout; last: number }>();

  constructor(private readonly options: MessagingOptions) {
    const { api } = options;
    this.sender = new Sender({ ...options.tcp, token: this.token });
    this.sender.onStateChange((state, detail) => this.onSenderState(state, detail));
    // The sender's connection is also the receiver's link to the server: probes, and each chat's
    // messages pushed over it where multicast does not reach this computer.
    this.receiver = new Receiver({ source: apiReceiverSource(api), serverKey: options.serverKey, interfaceAddress: options.interfaceAddress, link: this.sender });
    // With several servers: after a move, the key of the server now in use, and each chat's path probed again.
    this.stopFollowingServers = receiverFollowsServers(api, this.receiver);
    this.receiver.onMessage((message) => this.onLiveMessage(message));
    this.receiver.onError((error) => {
      if (mayMeanSessionEnded(error)) this.options.onSessionDoubt(false);
    });
    this.receiver.onPathChange((state) => this.onPathChange(state));
    // Removed from a chat: the server ends its watch, or refuses its new key or its history.
    this.receiver.onAccessEnded((chat, error) => this.taken(chat, error));
    this.receiver.onEvents((chat, events) => this.onEvents(chat, events));
    this.typists = new TypingWatch({
      selfId: options.user.id,
      changed: (chat, names) => {
        if (!this.closed) this.options.push({ type: 'typing', chat, names });
      },
    });
  }

  /** Connects the sender (retrying until it succeeds) and starts receiving every chat. */
  async start(): Promise<void> {
    this.connect();
    await this.refreshChats();
  }

  get connectionState(): { state: ConnectionState; detail?: string } {
    return this.connection;
  }

  summaries(): UiChat[] {
    return [...this.chats.values()].map((e) => this.summary(e)).sort((a, b) => a.name.localeCompare(b.name) || a.code.localeCompare(b.code));
  }

  /**
   * Re-reads the chat list from the server: receives any chat not yet received (joined or
   * created elsewhere: the CLI on this profile, another device) and forgets those left elsewhere.
   * Callers while one waits its turn share it: the list it reads is as new as theirs would be.
   */
  refreshChats(): Promise<UiChat[]> {
    this.queuedRefresh ??= this.oneAtATime(() => {
      this.queuedRefresh = undefined;
      return this.readChatList();
    });
    return this.queuedRefresh;
  }

  private async readChatList(): Promise<UiChat[]> {
    const chats = await this.options.api.listChats();
    if (this.closed) return [];
    const listed = new Set(chats.map((c) => c.code));
    for (const [code, entry] of [...this.chats]) {
      if (listed.has(code)) continue;
      this.forget(code);
      // Left elsewhere or removed, unnoticed till now: the tabs may hold a draft for it.
      const reason = (await this.removalReason(code, 'NOT_A_MEMBER')) ?? 'removed';
      this.options.push({ type: 'removed', chat: code, name: entry.chat.name, reason });
    }
    await Promise.all(chats.map((chat) => this.track(chat, this.options.readPositions.get(this.account, chat.code))));
    const summaries = this.summaries();
    this.options.push({ type: 'chats', chats: summaries });
    return summaries;
  }

  create(name: string): Promise<UiChat> {
    return this.oneAtATime(async () => this.added(await this.options.api.createChat(name)));
  }

  async join(codeInput: string): Promise<UiChat> {
    const code = normalizeChatCode(codeInput);
    if (!code) {
      // Not a code at all: the field is wrong (CHAT_NOT_FOUND is for a code no chat has).
      throw new ChorusError('INVALID_FIELD', `"${codeInput.trim().slice(0, 32)}" is not a chat code: a code looks like ABCDE-12345.`, 'code');
    }
    return this.oneAtATime(async () => this.added(await this.options.api.joinChat(formatChatCode(code))));
  }

  async leave(code: string): Promise<void> {
    const entry = this.entry(code);
    const chat = entry.chat.code;
    this.leaving.add(chat);
    return this.oneAtATime(async () => {
      await this.options.api.leaveChat(chat);
      this.forget(chat);
      this.options.push({ type: 'chats', chats: this.summaries() });
    }).finally(() => this.leaving.delete(chat));
  }

  /** The latest page of a chat; what arrives after it comes as `message` pushes. */
  async open(code: string, limit = DEFAULT_PAGE) {
    const entry = this.entry(code);
    const [page] = await Promise.all([this.options.api.listMessages(entry.chat.code, { limit: clampPage(limit) }), this.refreshChat(entry)]);
    return page;
  }

  older(code: string, before: number, limit = DEFAULT_PAGE) {
    const entry = this.entry(code);
    return this.options.api.listMessages(entry.chat.code, { before, limit: clampPage(limit) });
  }

  /** Queues a message; its ack or refusal is pushed when the server answers. */
  send(code: string, text: string, clientMsgId: string): void {
    const entry = this.entry(code);
    if (!CLIENT_MSG_ID.test(clientMsgId)) throw new ChorusError('BAD_UI_REQUEST', 'invalid message id');
    const blank = blankTextProblem(text);
    if (blank) throw blank;
    const chat = entry.chat.code;
    // Sent means no longer typing: receivers drop the line at once rather than after the idle time.
    entry.typing?.stop();
    // A text the server would refuse (too long, say) is refused by the Sender at once, with the
    // server's reason, and shows as failed like any refusal.
    this.sender.send(chat, text, clientMsgId).then(
      (ack) => {
        this.options.push({ type: 'ack', chat, clientMsgId, seq: ack.seq, sentAt: ack.sentAt });
        this.markOwn(chat, ack.seq);
      },
      (error: unknown) => {
        if (this.closed) return;
        this.options.push({ type: 'sendFailed', chat, clientMsgId, error: toUiError(error) });
        if (mayMeanSessionEnded(error)) this.options.onSessionDoubt(error instanceof ChorusError);
        // Removed from the chat (or left it elsewhere): the tabs hear it after the failure, so the text is offered back.
        if (error instanceof ChorusError && MEMBERSHIP_ENDED.has(error.code)) this.taken(chat, error);
      },
    );
  }

  /** The user has seen `code` up to `seq`. */
  read(code: string, seq: number): void {
    const entry = this.entry(code);
    const upTo = Math.min(seq, entry.chat.latestSeq);
    // The server hears of it even where the count here has it read already: a chat just joined
    // or created, or new to the list, starts read here, but the server has no position for it.
    entry.position.shown(upTo);
    if (upTo <= entry.readUpTo) return;
    entry.readUpTo = upTo;
    for (const s of entry.unread) if (s <= upTo) entry.unread.delete(s);
    this.options.readPositions.set(this.account, entry.chat.code, upTo);
    this.options.push({ type: 'chat', chat: this.summary(entry) });
  }

  /** A keystroke in the chat's compose box (`on`), or the box cleared: the typing policy decides what is said. */
  typing(code: string, on: boolean): void {
    const entry = this.entry(code);
    // The server carries no typing in big chats: saying it would only spend the rate limit.
    if (entry.chat.memberCount > MAX_TYPING_MEMBERS) return;
    const chat = entry.chat.code;
    entry.typing ??= new TypingSignal({ send: (typing) => this.sender.typing(chat, typing) });
    if (on) entry.typing.keystroke();
    else entry.typing.stop();
  }

  /** This user's presence, as the tabs together say it (the Sender says each change once, and again after a reconnect). */
  presence(state: 'online' | 'away'): void {
    this.sender.presence(state);
  }

  /** The chat's members; the chat's member count follows the list (nothing announces a join, one with no message yet). */
  async members(code: string): Promise<UiMember[]> {
    const entry = this.entry(code);
    const members = await this.options.api.listMembers(entry.chat.code);
    if (members.length !== entry.chat.memberCount && this.chats.get(entry.chat.code) === entry) {
      entry.chat = { ...entry.chat, memberCount: members.length };
      this.options.push({ type: 'chat', chat: this.summary(entry) });
    }
    return members;
  }

  /** The creator removes a member (the server refuses anyone else); the member count is re-read. */
  async removeMember(code: string, userId: number): Promise<void> {
    const entry = this.entry(code);
    await this.options.api.removeMember(entry.chat.code, userId);
    await this.refreshChat(entry);
  }

  settings(): Promise<UiSettings> {
    return this.options.api.settings();
  }

  updateSettings(settings: UiSettings): Promise<UiSettings> {
    return this.options.api.updateSettings(settings);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.connectTimer);
    for (const reread of this.memberRereads.values()) clearTimeout(reread.timer);
    for (const entry of this.chats.values()) this.stopChat(entry);
    this.typists.close();
    this.stopFollowingServers();
    this.receiver.close();
    this.sender.close();
  }

  private get token(): string {
    return this.options.api.token ?? '';
  }

  private get account(): string {
    return `${this.options.api.homeUrl}#${this.options.user.id}`;
  }

  /**
   * The sender's first connection: retried with backoff; after that it reconnects by itself.
   * Not a second retry around the Sender's own: `Sender.connect()` tries once when nothing waits
   * to be sent (so that `chorus send` fails fast), and reconnects on its own only after a welcome
   * or while messages wait. The failure's reason is shown here rather than through the Sender's
   * state, whose `disconnected` with a reason this class takes for "stopped for good".
   */
  private connect(): void {
    this.sender.connect().catch((error: unknown) => {
      if (this.closed) return;
      if (mayMeanSessionEnded(error)) return this.options.onSessionDoubt(error instanceof ChorusError);
      this.setConnection('disconnected', error instanceof Error ? error.message : String(error));
      this.connectTimer = setTimeout(() => this.connect(), this.connectBackoff.next());
    });
  }

  private onSenderState(state: SenderState, detail?: string): void {
    if (state === 'closed' || this.closed) return;
    this.setConnection(state, detail);
    // The Sender gives a reason only when it stops for good (a refused hello, say), which may
    // happen with nothing waiting to be sent: the session may have ended, or the server stumbled.
    if (state === 'disconnected' && detail !== undefined) this.options.onSessionDoubt(true);
  }

  private setConnection(state: ConnectionState, detail?: string): void {
    if (this.connection.state === state && this.connection.detail === detail) return;
    this.connection = detail ? { state, detail } : { state };
    this.options.push({ type: 'connection', ...this.connection });
  }

  /**
   * Runs a change of the chat list after the ones before it: a list read from the server while
   * a join was on its way would otherwise drop the chat just joined (or bring back one just
   * left), and two receives of one chat would subscribe it twice.
   */
  private oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const done = this.membership.then(change);
    this.membership = done.catch(() => {});
    return done;
  }

  private async added(chat: Chat): Promise<UiChat> {
    // A chat one creates or joins is on screen at once: nothing in it counts as unread.
    await this.track(chat, Math.max(chat.latestSeq, chat.readSeq));
    this.options.readPositions.set(this.account, chat.code, Math.max(this.entry(chat.code).readUpTo, chat.latestSeq));
    this.options.push({ type: 'chats', chats: this.summaries() });
    return this.summary(this.entry(chat.code));
  }

  /** Keeps `chat` in the list and receives it. A chat seen for the first time starts read. */
  private async track(chat: Chat, readUpTo: number | undefined): Promise<void> {
    let entry = this.chats.get(chat.code);
    if (entry) {
      entry.chat = { ...chat, latestSeq: Math.max(chat.latestSeq, entry.chat.latestSeq) };
      this.readElsewhere(entry, chat.readSeq);
    } else {
      // The server's position is the user's on every device; the local file keeps a chat one
      // created or joined here read (the server has no position for it until something is read).
      const start = readUpTo === undefined && chat.readSeq === 0 ? chat.latestSeq : Math.max(readUpTo ?? 0, chat.readSeq);
      const code = chat.code;
      const position = new ReadPosition({
        write: (seq) => this.options.api.setReadPosition(code, seq),
        failed: (error) => {
          if (mayMeanSessionEnded(error)) this.options.onSessionDoubt(false);
        },
      });
      position.startAt(chat.readSeq);
      entry = { chat, readUpTo: start, unread: new Set(), receiving: false, senders: new Set(), position };
      this.chats.set(chat.code, entry);
    }
    if (!entry.receiving) await this.receive(entry);
  }

  private async receive(entry: ChatEntry): Promise<void> {
    try {
      await this.receiver.join(entry.chat.code, { latest: 0 });
      entry.receiving = true;
    } catch (error) {
      // Not received live for now: history still shows it when opened, and the next refresh retries.
      this.receiver.leave(entry.chat.code);
      if (mayMeanSessionEnded(error)) this.options.onSessionDoubt(false);
      return;
    }
    if (entry.readUpTo < entry.chat.latestSeq) void this.countUnread(entry);
  }

  /** Re-reads one chat's details (its member count changes as people join and leave). */
  private async refreshChat(entry: ChatEntry): Promise<void> {
    try {
      const chat = await this.options.api.getChat(entry.chat.code);
      entry.chat = { ...chat, latestSeq: Math.max(chat.latestSeq, entry.chat.latestSeq) };
      this.options.push({ type: 'chat', chat: this.summary(entry) });
    } catch {
      // The page still opens; the count is refreshed next time.
    }
  }

  /** After a restart: how many of the messages since the last read are from others. */
  private async countUnread(entry: ChatEntry): Promise<void> {
    try {
      const page = await this.options.api.listMessages(entry.chat.code, { after: entry.readUpTo, limit: MAX_PAGE });
      for (const m of page.messages) if (m.sender.id !== this.options.user.id) entry.unread.add(m.seq);
      this.options.push({ type: 'chat', chat: this.summary(entry) });
    } catch {
      // Only a count: leave it at zero.
    }
  }

  /**
   * The server says the user may no longer use the chat, which was not left from here: it leaves
   * the list, and the tabs are told which and why before the list without it. After any change
   * of the list under way, so that a list read before the removal cannot bring it back.
   */
  private taken(code: string, error: ChorusError): void {
    if (this.leaving.has(code) || !this.chats.has(code)) return;
    void this.oneAtATime(async () => {
      const entry = this.chats.get(code);
      if (this.closed || !entry || this.leaving.has(code)) return;
      const reason = await this.removalReason(code, error.code);
      if (reason === undefined || this.closed || this.chats.get(code) !== entry) return;
      this.forget(code);
      this.options.push({ type: 'removed', chat: code, name: entry.chat.name, reason });
      this.options.push({ type: 'chats', chats: this.summaries() });
    });
  }

  /**
   * A refused watch or send says only "not a member", which a removal and a leave on another
   * device both are; the chat itself, asked once, tells them apart (BANNED for a removal).
   * Undefined: the user is a member after all (a leave and a join crossed), nothing to take.
   */
  private async removalReason(code: string, refusal: string): Promise<UiRemovalReason | undefined> {
    if (refusal === 'CHAT_NOT_FOUND') return 'gone';
    if (refusal === 'BANNED') return 'banned';
    try {
      await this.options.api.getChat(code);
      return undefined;
    } catch (asked) {
      const answer = asked instanceof ChorusError ? asked.code : undefined;
      if (answer === 'BANNED') return 'banned';
      if (answer === 'NOT_A_MEMBER') return 'left';
      if (answer === 'CHAT_NOT_FOUND') return 'gone';
      return 'removed';
    }
  }

  private forget(code: string): void {
    const entry = this.chats.get(code);
    if (entry) this.stopChat(entry);
    this.chats.delete(code);
    this.receiver.leave(code);
  }

  /** Says typing stopped and writes the read position still pending. */
  private stopChat(entry: ChatEntry): void {
    entry.typing?.stop();
    void entry.position.flush();
  }

  /** The user read further on another device (its read event, or the chat list says so). */
  private readElsewhere(entry: ChatEntry, seq: number): void {
    if (seq <= entry.readUpTo) return;
    entry.readUpTo = seq;
    for (const s of entry.unread) if (s <= seq) entry.unread.delete(s);
    entry.position.startAt(seq);
    this.options.readPositions.set(this.account, entry.chat.code, seq);
    this.options.push({ type: 'chat', chat: this.summary(entry) });
  }

  /** A chat's typing, read and presence events: typing is kept here (with its expiry), the rest goes to the UI as it came. */
  private onEvents(chat: string, events: ChatEvent[]): void {
    const entry = this.chats.get(chat);
    if (this.closed || !entry) return;
    this.typists.events(chat, events);
    for (const event of events) if (event.kind === 'read' && event.userId === this.options.user.id) this.readElsewhere(entry, event.seq);
    // The count follows the list (members()), and the UI reads the list again when the count moves.
    if (events.some((e) => e.kind === 'membership')) this.membersChanged(chat);
    const shown = events.filter((e) => e.kind !== 'typing');
    if (shown.length > 0) this.options.push({ type: 'events', chat, events: shown });
  }

  /**
   * Reads the chat's member list again after a membership event, at most once every
   * MEMBER_REREAD_MS: someone joining and leaving in a loop would otherwise have every member's
   * client ask the server for the list each time. The last change is always read.
   */
  private membersChanged(chat: string): void {
    const reread = this.memberRereads.get(chat) ?? { last: Number.NEGATIVE_INFINITY };
    this.memberRereads.set(chat, reread);
    if (reread.timer) return;
    reread.timer = setTimeout(() => {
      reread.timer = undefined;
      reread.last = Date.now();
      if (!this.closed && this.chats.has(chat)) void this.members(chat).catch(() => {});
    }, Math.max(0, reread.last + MEMBER_REREAD_MS - Date.now()));
  }

  private onLiveMessage(message: ChatMessage): void {
    const entry = this.chats.get(message.chat);
    if (!entry) return;
    entry.chat.latestSeq = Math.max(entry.chat.latestSeq, message.seq);
    const ui: ChatMessage = { ...message };
    this.typists.messageFrom(message.chat, message.sender.id);
    this.options.push({ type: 'message', message: ui });
    if (message.sender.id === this.options.user.id) this.markOwn(message.chat, message.seq);
    else if (message.seq > entry.readUpTo) entry.unread.add(message.seq);
    this.options.push({ type: 'chat', chat: this.summary(entry) });
    if (!entry.senders.has(message.sender.id)) {
      entry.senders.add(message.sender.id);
      void this.refreshChat(entry);
    }
  }

  /** The person sees, per chat, whether messages come by multicast or through the server, and why. */
  private onPathChange(state: DeliveryState): void {
    if (this.closed || !this.chats.has(state.chat)) return;
    this.options.push({ type: 'delivery', chat: state.chat, ...deliveryOf(state) });
  }

  /** Writing a message means having read the chat up to it, unless others' messages wait unread. */
  private markOwn(code: string, seq: number): void {
    const entry = this.chats.get(code);
    if (!entry || entry.unread.size > 0 || seq <= entry.readUpTo) return;
    entry.chat.latestSeq = Math.max(entry.chat.latestSeq, seq);
    entry.readUpTo = seq;
    this.options.readPositions.set(this.account, code, seq);
    entry.position.shown(seq);
  }

  private entry(codeInput: string): ChatEntry {
    const code = normalizeChatCode(codeInput);
    const entry = code ? this.chats.get(formatChatCode(code)) : undefined;
    if (!entry) throw chorusError('UNKNOWN_CHAT', codeInput.slice(0, 32));
    return entry;
  }

  private summary(entry: ChatEntry): UiChat {
    const { code, name, memberCount, latestSeq, createdBy } = entry.chat;
    const delivery = this.receiver.deliveryOf(code);
    return { code, name, memberCount, latestSeq, createdBy, readSeq: entry.readUpTo, unread: entry.unread.size, ...(delivery ? { delivery: deliveryOf(delivery) } : {}) };
  }
}

function deliveryOf(state: DeliveryState): UiDelivery {
  return { path: state.path, reason: state.path === 'server' ? state.reason : '' };
}

function clampPage(limit: number): number {
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit)));
}

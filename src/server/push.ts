import { formatChatCode } from '../protocol/chat-code.js';
import { ChorusError } from '../protocol/errors.js';
import type { EventsFrame, MessagesFrame, PushedMessage, RefusalFrame } from '../protocol/frames.js';
import { type ChatEvent, MAX_EVENTS_PER_BATCH } from '../protocol/events.js';
import { MAX_WATCHED_PER_CONNECTION, PUSH_FRAME_TARGET_BYTES, PUSH_HIGH_WATER_BYTES } from '../protocol/limits.js';
import { type CommittedMessage, groupByChat } from './store/messages.js';

/**
 * A connection as push sees it: who is on it, how much is waiting to go out on it, and a way to
 * write frames that never pauses its reading nor starts its drain deadline (push volume alone
 * must not get a slow reader cut off: the hub keeps it under PUSH_HIGH_WATER_BYTES instead).
 */
export interface PushTarget {
  readonly userId: number;
  /** Bytes written to the connection and not yet taken by the operating system. */
  readonly unsentBytes: number;
  /** False once the connection is closing: nothing more is written to it. */
  readonly writable: boolean;
  writePush(frame: MessagesFrame | RefusalFrame | EventsFrame): void;
}

export interface PushDeps {
  /** Up to `limit` committed messages of the chat after `after`, ascending: as the history API reads them. */
  readAfter(chatCode: string, after: number, limit: number): Promise<CommittedMessage[]>;
  /**
   * Membership now, without a query when the membership cache holds the chat (it always does
   * for a watched chat: watching checked it). Undefined when the cache must load it first.
   */
  isMemberNow(chatCode: string, userId: number): boolean | undefined;
  isMember(chatCode: string, userId: number): Promise<boolean>;
  /** Who is typing in the chat now (typing-now.ts): told to a connection when its watch starts. */
  typingIn?(chatCode: string): ChatEvent[];
  logger: { error(obj: object, msg: string): void };
}

/** Messages read from the store per catch-up step. */
export const CATCH_UP_PAGE = 500;
/** After a failed store read, a catch-up tries again this much later. */
const CATCH_UP_RETRY_MS = 1000;

// `{"t":"messages","chat":"XXXXX-XXXXX","messages":[…]}` without the messages.
const FRAME_OVERHEAD_BYTES = Buffer.byteLength(JSON.stringify({ t: 'messages', chat: 'XXXXX-XXXXX', messages: [] }), 'utf8');

type Mode =
  /** Reading the store: commits are not written meanwhile; the reading loop picks them up. */
  | 'catching-up'
  /** Up to date: each committed batch is written as it comes. */
  | 'live'
  /** The connection had PUSH_HIGH_WATER_BYTES unsent: nothing is written until it drains, then catch-up. */
  | 'behind';

interface Watch {
  readonly target: PushTarget;
  readonly chatCode: string;
  /** The chat's code as frames name it, XXXXX-XXXXX. */
  readonly chat: string;
  /** The highest seq written to the connection (or the `after` it asked for). */
  lastSent: number;
  mode: Mode;
  /** Set when unwatched, replaced, refused or closed: a running catch-up stops at its next step. */
  dropped: boolean;
  /** A catch-up loop is running for it (one at a time). */
  running: boolean;
}

/**
 * Delivery by server push (docs/protocol.md, "Delivery by server push"): every committed
 * message of a watched chat after the watch's `after`, in order, exactly once, as `messages`
 * frames on the watching connection. A watch first catches up from the store, then follows the
 * commits live; it never writes to a connection that has PUSH_HIGH_WATER_BYTES unsent (it falls
 * behind, and catches up from the store once the connection drains), and it stops, with a
 * refusal, as soon as its user is no longer a member of the chat.
 *
 * The switch from the store to live commits has no gap and no duplicate because all of this runs
 * on one thread: the hub knows the highest seq of each chat it has seen committed, a catch-up
 * goes live only when it has sent that far (with no await in between), and live only ever sends
 * seqs above what was sent.
 */
export class PushHub {
  private readonly byChat = new Map<string, Set<Watch>>();
  private readonly byTarget = new Map<PushTarget, Map<string, Watch>>();
  /** Per chat, the highest seq committed through onCommitted (since this process started). */
  private readonly published = new Map<string, number>();
  readonly stats = { pushed: 0, frames: 0, events: 0 };

  constructor(private readonly deps: PushDeps) {}

  /** Connections with at least one watched chat ("clients on push"). */
  get targetCount(): number {
    return this.byTarget.size;
  }

  get watchCount(): number {
    let count = 0;
    for (const watches of this.byTarget.values()) count += watches.size;
    return count;
  }

  /**
   * Starts pushing the chat's messages after `after` to `target`; the caller has checked that
   * the target's user is a member. Watching a chat already watched restarts it from `after`.
   * Throws TOO_MANY_REQUESTS past MAX_WATCHED_PER_CONNECTION.
   */
  watch(target: PushTarget, chatCode: string, after: number): void {
    let watches = this.byTarget.get(target);
    const previous = watches?.get(chatCode);
    if (!previous && watches && watches.size >= MAX_WATCHED_PER_CONNECTION) {
      throw new ChorusError('TOO_MANY_REQUESTS', `At most ${MAX_WATCHED_PER_CONNECTION} chats may be watched on one connection`);
    }
    if (previous) this.remove(previous);
    watches = this.byTarget.get(target);
    if (!watches) {
      watches = new Map();
      this.byTarget.set(target, watches);
    }
    const watch: Watch = { target, chatCode, chat: formatChatCode(chatCode), lastSent: after, mode: 'catching-up', dropped: false, running: false };
    watches.set(chatCode, watch);
    let ofChat = this.byChat.get(chatCode);
    if (!ofChat) {
      ofChat = new Set();
      this.byChat.set(chatCode, ofChat);
    }
    ofChat.add(watch);
    void this.catchUp(watch);
    // Typing events go out as they happen: one sent before this watch was in place is told now.
    this.eventsTo(watch, eventFrames(watch.chat, this.deps.typingIn?.(chatCode) ?? []));
  }

  /** Stops pushing the chat to `target`; a chat not watched is a no-op. */
  unwatch(target: PushTarget, chatCode: string): void {
    const watch = this.byTarget.get(target)?.get(chatCode);
    if (watch) this.remove(watch);
  }

  /**
   * The user left the chat or was removed from it: their watches of it end now, refused as
   * NOT_A_MEMBER, so that their client hears of it at once rather than at the chat's next message.
   */
  memberRemoved(chatCode: string, userId: number): void {
    if (this.deps.isMemberNow(chatCode, userId) === true) return;
    for (const watch of [...(this.byChat.get(chatCode) ?? [])]) if (watch.target.userId === userId) this.refuseNotMember(watch);
  }

  /** The connection closed: its watches go. */
  closed(target: PushTarget): void {
    for (const watch of [...(this.byTarget.get(target)?.values() ?? [])]) this.remove(watch);
  }

  /** The connection's unsent bytes went out: its watches that fell behind catch up from the store. */
  drained(target: PushTarget): void {
    for (const watch of this.byTarget.get(target)?.values() ?? []) {
      if (watch.mode === 'behind') void this.catchUp(watch);
    }
  }

  /** A committed batch, in commit order (Sequencer.onCommitted). */
  publish(batch: readonly CommittedMessage[]): void {
    for (const [chatCode, messages] of groupByChat(batch)) {
      this.published.set(chatCode, Math.max(this.published.get(chatCode) ?? 0, messages.at(-1)!.seq));
      const watches = this.byChat.get(chatCode);
      if (!watches) continue;
      let pushed: PushedMessage[] | undefined;
      for (const watch of watches) {
        if (watch.mode !== 'live') continue;
        pushed ??= messages.map(fromCommitted);
        this.offerLive(watch, pushed);
      }
    }
  }

  /**
   * The chat's events (typing, read, presence) to every connection watching it, as `events`
   * frames: the push counterpart of an EVENTS datagram. Lossy like the datagram: a connection
   * past PUSH_HIGH_WATER_BYTES, or whose user is no longer a member, is skipped.
   */
  events(chatCode: string, events: readonly ChatEvent[]): void {
    const watches = this.byChat.get(chatCode);
    if (!watches || events.length === 0) return;
    // The same frames for every watch of the chat: built once.
    const frames = eventFrames(formatChatCode(chatCode), events);
    for (const watch of watches) this.eventsTo(watch, frames);
  }

  /** Events frames to one watch's connection, unless it is behind, closing, or no longer a member's. */
  private eventsTo(watch: Watch, frames: readonly EventsFrame[]): void {
    const { target } = watch;
    if (frames.length === 0 || !target.writable || target.unsentBytes >= PUSH_HIGH_WATER_BYTES) return;
    if (this.deps.isMemberNow(watch.chatCode, target.userId) !== true) return;
    for (const frame of frames) {
      target.writePush(frame);
      this.stats.events += frame.events.length;
    }
  }

  private offerLive(watch: Watch, messages: PushedMessage[]): void {
    const fresh = messages.filter((m) => m.seq > watch.lastSent);
    if (fresh.length === 0) return;
    // A batch that starts past what was sent + 1: some messages were missed (never, as long as
    // every commit passes through publish; but if one did not, the store has it).
    if (fresh[0]!.seq !== watch.lastSent + 1) return void this.catchUp(watch);
    const member = this.deps.isMemberNow(watch.chatCode, watch.target.userId);
    if (member === false) return this.refuseNotMember(watch);
    if (member === undefined) return void this.catchUp(watch);
    if (!this.send(watch, fresh)) watch.mode = 'behind';
  }

  /**
   * Reads the store after what was sent and writes it, page after page, until it has sent as far
   * as the hub has seen committed: then the watch goes live, in the same turn of the event loop
   * as that last check, so no commit can slip between. One catch-up runs per watch at a time.
   */
  private async catchUp(watch: Watch): Promise<void> {
    if (watch.dropped || watch.running) return;
    watch.mode = 'catching-up';
    watch.running = true;
    try {
      for (;;) {
        // A connection going away gets nothing more; its close drops the watch. (Reading on
        // would loop: nothing is sent, so the catch-up never gets as far as the hub has seen.)
        if (watch.dropped || !watch.target.writable) return;
        if (watch.target.unsentBytes >= PUSH_HIGH_WATER_BYTES) {
          watch.mode = 'behind';
          return;
        }
        const from = watch.lastSent;
        const rows = await this.deps.readAfter(watch.chatCode, from, CATCH_UP_PAGE);
        if (watch.dropped) return;
        if (!(await this.stillMember(watch))) return this.refuseNotMember(watch);
        // A live batch cannot have moved lastSent (live is off while catching up), but be sure.
        const fresh = rows.filter((r) => r.seq > watch.lastSent).map(fromCommitted);
        if (fresh.length > 0 && fresh[0]!.seq !== watch.lastSent + 1) {
          // The store's log has no holes; a jump would be a bug worth knowing about.
          this.deps.logger.error({ after: watch.lastSent, first: fresh[0]!.seq }, 'push catch-up found a gap in the log');
        }
        if (fresh.length > 0 && !this.send(watch, fresh)) {
          watch.mode = 'behind';
          return;
        }
        // Nothing after what was sent (the hub saw commits the log no longer has: the chat was
        // deleted) ends it too: the next batch that does not follow starts another catch-up.
        const caughtUp = fresh.length === 0 || (rows.length < CATCH_UP_PAGE && watch.lastSent >= (this.published.get(watch.chatCode) ?? 0));
        if (caughtUp) {
          watch.mode = 'live';
          return;
        }
      }
    } catch (error) {
      // The store failed (the database away for a moment): try again shortly, from what was sent.
      this.deps.logger.error({ err: error }, 'push catch-up failed');
      watch.mode = 'behind';
      setTimeout(() => void this.catchUp(watch), CATCH_UP_RETRY_MS).unref();
    } finally {
      watch.running = false;
    }
  }

  private async stillMember(watch: Watch): Promise<boolean> {
    const now = this.deps.isMemberNow(watch.chatCode, watch.target.userId);
    if (now !== undefined) return now;
    try {
      return await this.deps.isMember(watch.chatCode, watch.target.userId);
    } catch {
      return false;
    }
  }

  /**
   * Writes `messages` (consecutive, after lastSent) in frames of about PUSH_FRAME_TARGET_BYTES,
   * while the connection has less than PUSH_HIGH_WATER_BYTES unsent. False when it stopped
   * before the end for that: the rest is read from the store once the connection drains.
   */
  private send(watch: Watch, messages: PushedMessage[]): boolean {
    let start = 0;
    while (start < messages.length) {
      if (!watch.target.writable) return true;
      if (watch.target.unsentBytes >= PUSH_HIGH_WATER_BYTES) return false;
      const end = start + fitInFrame(messages, start);
      const frame: MessagesFrame = { t: 'messages', chat: watch.chat, messages: messages.slice(start, end) };
      watch.target.writePush(frame);
      watch.lastSent = messages[end - 1]!.seq;
      this.stats.pushed += end - start;
      this.stats.frames++;
      start = end;
    }
    return true;
  }

  private refuseNotMember(watch: Watch): void {
    this.remove(watch);
    if (!watch.target.writable) return;
    watch.target.writePush({ t: 'refusal', about: 'watch', chat: watch.chat, code: 'NOT_A_MEMBER', message: `You are no longer a member of chat ${watch.chat}` });
  }

  private remove(watch: Watch): void {
    watch.dropped = true;
    const watches = this.byTarget.get(watch.target);
    if (watches?.get(watch.chatCode) === watch) {
      watches.delete(watch.chatCode);
      if (watches.size === 0) this.byTarget.delete(watch.target);
    }
    const ofChat = this.byChat.get(watch.chatCode);
    ofChat?.delete(watch);
    if (ofChat?.size === 0) this.byChat.delete(watch.chatCode);
  }
}

/**
 * How many of messages[start…] go in one frame: as many as keep its JSON within
 * PUSH_FRAME_TARGET_BYTES, and always one (the largest message is well under MAX_FRAME_BYTES).
 */
export function fitInFrame(messages: readonly PushedMessage[], start: number): number {
  let bytes = FRAME_OVERHEAD_BYTES;
  let count = 0;
  for (let i = start; i < messages.length; i++) {
    // The message's JSON and the comma before it.
    const size = Buffer.byteLength(JSON.stringify(messages[i]), 'utf8') + 1;
    if (count > 0 && bytes + size > PUSH_FRAME_TARGET_BYTES) break;
    bytes += size;
    count++;
  }
  return count;
}

function fromCommitted(m: CommittedMessage): PushedMessage {
  return { seq: m.seq, sender: { id: m.senderId, name: m.senderName }, text: m.text, sentAt: new Date(m.sentAt).toISOString(), clientMsgId: m.clientMsgId };
}



/** A chat's events as `events` frames of at most MAX_EVENTS_PER_BATCH each; none for none. */
function eventFrames(chat: string, events: readonly ChatEvent[]): EventsFrame[] {
  return chunk(events, MAX_EVENTS_PER_BATCH).map((batch) => ({ t: 'events', chat, events: batch }));
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

import type { ChatMessage } from '../../src/protocol/message.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import type { ChatEvent } from '../../src/protocol/events.js';
import type { ConnectionState, UiChat, UiMember, UiPush, UiRemovalReason, UiReplacedSession, UiUser } from '../../src/agent/ui-protocol.js';
import type { LinkState } from './agent-link.js';

/** Everything the UI shows, changed only by `reduce`. */

export interface PendingMessage {
  clientMsgId: string;
  text: string;
  state: 'sending' | 'failed';
  error?: string;
  /** False when sending the same text again can only fail the same way (too long, refused as invalid). */
  retryable?: boolean;
}

/** Refusals of the text itself: a retry of the same text meets the same answer. */
const PERMANENT_SEND_FAILURES: ReadonlySet<ErrorCode> = new Set(['PAYLOAD_TOO_LARGE', 'INVALID_FIELD']);

export interface Conversation {
  status: 'loading' | 'ready' | 'error';
  error?: string;
  /** Ascending by seq, each seq once. */
  messages: ChatMessage[];
  /** Own messages not yet acknowledged, in the order written. */
  pending: PendingMessage[];
  hasOlder: boolean;
  loadingOlder: boolean;
}

export type Panel = 'none' | 'create' | 'join' | 'settings';

/** A chat taken from the list (the user removed from it), and what was written there and not sent, offered back. */
export interface RemovalNotice {
  chat: string;
  name: string;
  reason: UiRemovalReason;
  /** The draft in its box and the messages not acknowledged, in the order written. */
  unsent: string[];
}

export interface State {
  link: LinkState;
  /** Undefined until the agent has said who is logged in. */
  session?: {
    user: UiUser | null;
    server: string;
    notice?: string;
    firstTime: boolean;
    loginEmail?: string;
    relaunch?: string;
    /** The session the last login replaced, which its server could not end. */
    replacedSession?: UiReplacedSession;
  };
  chats: UiChat[];
  connection: { state: ConnectionState; detail?: string };
  conversations: Record<string, Conversation>;
  active: string | null;
  panel: Panel;
  /** Each open chat's members (presence, last seen, shared read positions), kept current by events. */
  members: Record<string, UiMember[]>;
  /** Who is typing in each chat, in the order they started (the agent expires them). */
  typing: Record<string, string[]>;
  /** What is in each chat's compose box, kept while another chat is open. */
  drafts: Record<string, string>;
  /** Chats taken away, until the person dismisses the notice. */
  notices: RemovalNotice[];
  /** The person has read the notice of session.replacedSession (the agent says it with every session push until the next login). */
  replacedSessionDismissed: boolean;
}

export const initialState: State = {
  link: 'connecting',
  chats: [],
  connection: { state: 'connecting' },
  conversations: {},
  active: null,
  panel: 'none',
  members: {},
  typing: {},
  drafts: {},
  notices: [],
  replacedSessionDismissed: false,
};

export type Action =
  | { type: 'link'; state: LinkState }
  | { type: 'push'; push: UiPush }
  | { type: 'select'; code: string | null }
  | { type: 'panel'; panel: Panel }
  | { type: 'chatAdded'; chat: UiChat }
  | { type: 'openStarted'; code: string }
  | { type: 'opened'; code: string; messages: ChatMessage[] }
  | { type: 'openFailed'; code: string; error: string }
  | { type: 'olderStarted'; code: string }
  | { type: 'olderLoaded'; code: string; messages: ChatMessage[] }
  | { type: 'olderFailed'; code: string }
  | { type: 'sending'; code: string; clientMsgId: string; text: string }
  | { type: 'discard'; code: string; clientMsgId: string }
  | { type: 'members'; code: string; members: UiMember[] }
  | { type: 'draft'; code: string; text: string }
  | { type: 'dismissNotice'; chat: string }
  | { type: 'dismissReplacedSession' };

export function reduce(state: State, action: Action): State {
  switch (action.type) {
    case 'link':
      // Pushes may have been missed while the link was down: conversations are fetched afresh.
      return action.state === 'open' && state.link !== 'open' ? { ...state, link: action.state, conversations: {} } : { ...state, link: action.state };
    case 'push':
      return onPush(state, action.push);
    case 'select':
      return { ...state, active: action.code, panel: 'none' };
    case 'panel':
      return { ...state, panel: action.panel, active: action.panel === 'none' ? state.active : null };
    case 'chatAdded':
      return { ...state, chats: upsertChat(state.chats, action.chat) };
    case 'openStarted': {
      const existing = state.conversations[action.code];
      const conversation: Conversation = existing
        ? { ...existing, status: existing.status === 'ready' ? 'ready' : 'loading', error: undefined }
        : { status: 'loading', messages: [], pending: [], hasOlder: false, loadingOlder: false };
      return withConversation(state, action.code, conversation);
    }
    case 'opened':
      return updateConversation(state, action.code, (c) => {
        const messages = mergeMessages(c.messages, action.messages);
        return { ...c, status: 'ready', messages, pending: withoutDelivered(c.pending, messages), hasOlder: (messages[0]?.seq ?? 1) > 1 };
      });
    case 'openFailed':
      return updateConversation(state, action.code, (c) => ({ ...c, status: c.status === 'ready' ? 'ready' : 'error', error: action.error }));
    case 'olderStarted':
      return updateConversation(state, action.code, (c) => ({ ...c, loadingOlder: true }));
    case 'olderLoaded':
      return updateConversation(state, action.code, (c) => {
        const messages = mergeMessages(c.messages, action.messages);
        return { ...c, messages, loadingOlder: false, hasOlder: action.messages.length > 0 && (messages[0]?.seq ?? 1) > 1 };
      });
    case 'olderFailed':
      return updateConversation(state, action.code, (c) => ({ ...c, loadingOlder: false }));
    case 'sending':
      return updateConversation(state, action.code, (c) => ({
        ...c,
        pending: [...c.pending.filter((p) => p.clientMsgId !== action.clientMsgId), { clientMsgId: action.clientMsgId, text: action.text, state: 'sending' }],
      }));
    case 'discard':
      return updateConversation(state, action.code, (c) => ({ ...c, pending: c.pending.filter((p) => p.clientMsgId !== action.clientMsgId) }));
    case 'members':
      return { ...state, members: { ...state.members, [action.code]: action.members } };
    case 'draft': {
      const { [action.code]: _, ...others } = state.drafts;
      return { ...state, drafts: action.text === '' ? others : { ...others, [action.code]: action.text } };
    }
    case 'dismissNotice':
      return { ...state, notices: state.notices.filter((n) => n.chat !== action.chat) };
    case 'dismissReplacedSession':
      return { ...state, replacedSessionDismissed: true };
  }
}

function onPush(state: State, push: UiPush): State {
  switch (push.type) {
    case 'session': {
      const sameUser = state.session?.user?.id === push.user?.id && push.user !== null;
      const { user, server, notice, loginEmail, relaunch, replacedSession } = push;
      const session = { user, server, notice, firstTime: push.firstTime === true, loginEmail, relaunch, ...(replacedSession ? { replacedSession } : {}) };
      // Another user (or none): nothing of the previous one's may stay on screen.
      return sameUser ? { ...state, session } : { ...initialState, link: state.link, session, connection: state.connection };
    }
    case 'chats': {
      const known = new Set(push.chats.map((c) => c.code));
      return { ...state, chats: push.chats, active: state.active && known.has(state.active) ? state.active : null };
    }
    case 'chat':
      return state.chats.some((c) => c.code === push.chat.code) ? { ...state, chats: upsertChat(state.chats, push.chat) } : state;
    case 'connection':
      return { ...state, connection: { state: push.state, detail: push.detail } };
    case 'delivery': {
      const chat = state.chats.find((c) => c.code === push.chat);
      if (!chat) return state;
      return { ...state, chats: upsertChat(state.chats, { ...chat, delivery: { path: push.path, reason: push.reason } }) };
    }
    case 'message':
      return updateConversation(state, push.message.chat, (c) => {
        const messages = mergeMessages(c.messages, [push.message]);
        return { ...c, messages, pending: withoutDelivered(c.pending, messages) };
      });
    case 'ack': {
      const me = state.session?.user;
      return updateConversation(state, push.chat, (c) => {
        const pending = c.pending.find((p) => p.clientMsgId === push.clientMsgId);
        if (!pending || !me) return c;
        // Acknowledged means stored: show it as sent now, even before multicast brings it back.
        const message: ChatMessage = { chat: push.chat, seq: push.seq, sender: { id: me.id, name: me.name }, text: pending.text, sentAt: push.sentAt, clientMsgId: push.clientMsgId };
        const messages = c.status === 'ready' ? mergeMessages(c.messages, [message]) : c.messages;
        return { ...c, messages, pending: c.pending.filter((p) => p !== pending) };
      });
    }
    case 'sendFailed':
      return updateConversation(state, push.chat, (c) => ({
        ...c,
        pending: c.pending.map((p) => (p.clientMsgId === push.clientMsgId ? { ...p, state: 'failed', error: push.error.message, retryable: !PERMANENT_SEND_FAILURES.has(push.error.code) } : p)),
      }));
    case 'typing': {
      const { [push.chat]: _, ...others } = state.typing;
      return { ...state, typing: push.names.length > 0 ? { ...others, [push.chat]: push.names } : others };
    }
    case 'events':
      return push.events.reduce((s, event) => withEvent(s, push.chat, event, new Date().toISOString()), state);
    case 'removed':
      return withoutChat(state, push);
  }
}

/**
 * The chat leaves the list and the screen (the empty state if it was open), and a notice says
 * so, with what the person wrote there and could not send: the draft and every message not
 * acknowledged (sending or failed), so that nothing typed is lost without a word.
 */
function withoutChat(state: State, removed: { chat: string; name: string; reason: UiRemovalReason }): State {
  const code = removed.chat;
  const pending = state.conversations[code]?.pending.map((p) => p.text) ?? [];
  const draft = state.drafts[code]?.trim() ? [state.drafts[code]!] : [];
  const notice: RemovalNotice = { chat: code, name: removed.name, reason: removed.reason, unsent: [...pending, ...draft] };
  const drop = <T>(record: Record<string, T>): Record<string, T> => {
    const { [code]: _, ...others } = record;
    return others;
  };
  return {
    ...state,
    chats: state.chats.filter((c) => c.code !== code),
    active: state.active === code ? null : state.active,
    conversations: drop(state.conversations),
    members: drop(state.members),
    typing: drop(state.typing),
    drafts: drop(state.drafts),
    notices: [...state.notices.filter((n) => n.chat !== code), notice],
  };
}

/**
 * A read event moves that member's position in the chat (forward only: events may arrive out of
 * order); a presence event is about the person, so it changes them in every chat listed.
 */
export function withEvent(state: State, chat: string, event: ChatEvent, now: string): State {
  if (event.kind === 'read') {
    const members = state.members[chat];
    if (!members?.some((m) => m.id === event.userId && (m.readSeq ?? 0) < event.seq)) return state;
    return { ...state, members: { ...state.members, [chat]: members.map((m) => (m.id === event.userId ? { ...m, readSeq: Math.max(m.readSeq ?? 0, event.seq) } : m)) } };
  }
  if (event.kind === 'presence') {
    let changed = false;
    const members: Record<string, UiMember[]> = {};
    for (const [code, list] of Object.entries(state.members)) {
      members[code] = list.map((m) => {
        if (m.id !== event.userId || m.presence === event.state) return m;
        changed = true;
        // Online or away now, or offline just now: either way, seen now.
        return { ...m, presence: event.state, lastSeenAt: now };
      });
    }
    return changed ? { ...state, members } : state;
  }
  return state;
}

function withConversation(state: State, code: string, conversation: Conversation): State {
  return { ...state, conversations: { ...state.conversations, [code]: conversation } };
}

/** Changes a conversation that is loaded or loading; others are left alone (they are fetched when opened). */
function updateConversation(state: State, code: string, change: (c: Conversation) => Conversation): State {
  const c = state.conversations[code];
  if (!c) return state;
  const next = change(c);
  return next === c ? state : withConversation(state, code, next);
}

function upsertChat(chats: UiChat[], chat: UiChat): UiChat[] {
  const others = chats.filter((c) => c.code !== chat.code);
  return [...others, chat].sort((a, b) => a.name.localeCompare(b.name) || a.code.localeCompare(b.code));
}

/** Both lists ascending by seq; the result too, each seq once. */
export function mergeMessages(current: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  if (incoming.length === 0) return current;
  const last = current[current.length - 1];
  // The common case, a live message after the last one: append.
  if (incoming.length === 1 && (!last || incoming[0]!.seq > last.seq)) return [...current, incoming[0]!];
  const bySeq = new Map<number, ChatMessage>();
  for (const m of current) bySeq.set(m.seq, m);
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function withoutDelivered(pending: PendingMessage[], messages: ChatMessage[]): PendingMessage[] {
  if (pending.length === 0) return pending;
  const delivered = new Set(messages.slice(-500).map((m) => m.clientMsgId));
  const left = pending.filter((p) => !delivered.has(p.clientMsgId));
  return left.length === pending.length ? pending : left;
}

export function totalUnread(chats: UiChat[]): number {
  return chats.reduce((sum, c) => sum + c.unread, 0);
}

import type { ChatMessage } from '../../../src/protocol/message.js';
import { type Dispatch, Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { UiMember, UiUser } from '../../../src/agent/ui-protocol.js';
import { SenderLabels } from '../../../src/protocol/name-skeleton.js';
import { link } from '../agent-link.js';
import { clockTime, colourOf, dayKey, dayLabel, fullTime, initial } from '../format.js';
import { AlertIcon, ArrowDownIcon } from '../icons.js';
import { NAMED_READERS, type Receipt, receiptText, receiptsToShow } from '../receipts.js';
import { useReadPosition } from '../read-tracking.js';
import { MessageText } from './MessageText.js';
import { PresenceDot, type ShownPresence, shownPresence } from './PresenceDot.js';
import type { Action, Conversation, PendingMessage } from '../state.js';

interface MessageListProps {
  code: string;
  name: string;
  conversation: Conversation | undefined;
  user: UiUser;
  /** The chat's members when loaded: presence on avatars, receipts under one's own messages. */
  members: UiMember[] | undefined;
  /** The agent is connected to the server: the members' presence is current (else unknown). */
  connected: boolean;
  dispatch: Dispatch<Action>;
  onRetry(pending: PendingMessage): void;
  onEdit(pending: PendingMessage): void;
  onDiscard(pending: PendingMessage): void;
}

const OLDER_PAGE = 50;
/** Within this many pixels of the end counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Start fetching older history this close to the top, so it is there before the user arrives. */
const TOP_PREFETCH = 400;
/** Messages by one person this close together are shown as one group. */
const GROUP_MS = 5 * 60_000;

/**
 * The messages of one chat, oldest first, in a role="log" region. It follows new messages when
 * the user is at the bottom and stays put when they are reading older ones; scrolling up fetches
 * older history and keeps the message in view where it was.
 */
export function MessageList({ code, name, conversation, user, members, connected, dispatch, onRetry, onEdit, onDiscard }: MessageListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const anchor = useRef<{ seq: number; offset: number } | null>(null);
  const previousLast = useRef<string | undefined>(undefined);
  const [newBelow, setNewBelow] = useState(false);

  const messages = conversation?.messages ?? [];
  const pending = conversation?.pending ?? [];
  const ready = conversation?.status === 'ready';
  const hasOlder = ready && conversation.hasOlder;
  const loadingOlder = conversation?.loadingOlder ?? false;
  const lastMessage = messages[messages.length - 1];
  const lastPending = pending[pending.length - 1];
  // Both ends: a message arriving below a failed one of ours (which stays last) is news too.
  const lastKey = `${lastMessage?.seq ?? ''}|${lastPending ? `${lastPending.clientMsgId}:${lastPending.state}` : ''}`;
  const lastSeq = lastMessage?.seq ?? 0;

  // Messages up to the last one of the first page are history; later ones arrived while the
  // chat was open. Fixed when the first page is in, so a message never moves between the two.
  const liveAfter = useRef<number | undefined>(undefined);
  if (!ready) liveAfter.current = undefined;
  else if (liveAfter.current === undefined) liveAfter.current = lastSeq;
  const boundary = liveAfter.current ?? Number.POSITIVE_INFINITY;
  const split = messages.findIndex((m) => m.seq > boundary);
  const history = split === -1 ? messages : messages.slice(0, split);
  const arrived = split === -1 ? [] : messages.slice(split);
  // Senders whose names look alike are shown with their account number (protocol/name-skeleton.ts),
  // members included: a newcomer named like the creator is numbered before the creator speaks.
  const labels = useMemo(() => SenderLabels.knowing([...(members ?? []), ...messages.map((m) => m.sender)]), [members, messages]);

  const receipts = useMemo(() => receiptsToShow(messages, members ?? [], user.id), [messages, members, user.id]);
  const presence = useMemo(() => new Map((members ?? []).map((m) => [m.id, shownPresence(m.presence, connected)])), [members, connected]);
  const context: ItemContext = { userId: user.id, labels, receipts, presence };
  // The read position moves as messages are on screen in a focused, visible window.
  useReadPosition(code, scroller, ready);

  // Scroll events come faster than React re-renders: the ref, not the state, stops a second fetch.
  const olderInFlight = useRef(false);
  const loadOlder = useCallback(() => {
    const first = messages[0];
    if (!first || !hasOlder || olderInFlight.current) return;
    olderInFlight.current = true;
    dispatch({ type: 'olderStarted', code });
    link
      .request('older', { code, before: first.seq, limit: OLDER_PAGE })
      .then(
        (page) => {
          anchor.current = visibleAnchor(scroller.current);
          dispatch({ type: 'olderLoaded', code, messages: page.messages });
        },
        () => dispatch({ type: 'olderFailed', code }),
      )
      .finally(() => (olderInFlight.current = false));
  }, [messages, hasOlder, code, dispatch]);

  // After each change: keep the reader's place when history was added above, and follow new
  // messages at the bottom only if the reader was already there (or just wrote one).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current) {
      const node = el.querySelector<HTMLElement>(`[data-seq="${anchor.current.seq}"]`);
      if (node) el.scrollTop += offsetIn(el, node) - anchor.current.offset;
      anchor.current = null;
    }
    if (lastKey !== previousLast.current) {
      const wroteIt = lastPending?.state === 'sending' || lastMessage?.sender.id === user.id;
      if (atBottom.current || wroteIt || previousLast.current === undefined) {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
        setNewBelow(false);
      } else {
        setNewBelow(true);
      }
      previousLast.current = lastKey;
    }
  });

  // A reader at the bottom stays there when sizes change without a new message: the window, a
  // banner above the list, a message of ours growing its Retry and Edit buttons, text rewrapping.
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const follow = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    follow.observe(el);
    for (const list of el.querySelectorAll('.message-items')) follow.observe(list);
    return () => follow.disconnect();
  }, []);

  // Too little history to scroll? Fetch more until there is, or there is no more.
  useEffect(() => {
    const el = scroller.current;
    if (el && hasOlder && !loadingOlder && el.scrollHeight <= el.clientHeight + TOP_PREFETCH / 4) loadOlder();
  }, [hasOlder, loadingOlder, messages.length, loadOlder]);

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
    if (atBottom.current) setNewBelow(false);
    if (el.scrollTop < TOP_PREFETCH) loadOlder();
  }

  function jumpToBottom() {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setNewBelow(false);
  }

  return (
    <div className="messages-wrap">
      <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-labelledby="chat-title" aria-live="polite" aria-relevant="additions" aria-busy={!ready} tabIndex={0}>
        <div className="history-edge">
          {ready && !hasOlder && (
            <div className="chat-start">
              <p className="chat-start-title">This is the beginning of {name}.</p>
              <p className="muted">Messages are kept by the server: whoever joins later sees them too.</p>
            </div>
          )}
        </div>
        {/* History (the first page, and older pages as they load) is not live: a screen reader
            would read it all out again. Only what arrives while the chat is open is. */}
        <ol className="message-items" aria-live="off">
          <MessageItems messages={history} before={undefined} context={context} />
        </ol>
        <ol className="message-items">
          <MessageItems messages={arrived} before={history[history.length - 1]} context={context} />
        </ol>
        {/* One's own message is not news; its failure is, and says so itself (role="alert"). */}
        <ol className="message-items" aria-live="off">
          {pending.map((p) => (
            <PendingItem key={p.clientMsgId} pending={p} user={user} onRetry={() => onRetry(p)} onEdit={() => onEdit(p)} onDiscard={() => onDiscard(p)} />
          ))}
        </ol>
      </div>
      {/* Over the list, not in it: an indicator in the flow would shift what the reader is looking at. */}
      {(loadingOlder || (!ready && conversation?.status !== 'error')) && (
        <p className="loading-pill" role="status">
          {loadingOlder ? 'Loading older messages…' : 'Loading messages…'}
        </p>
      )}
      {newBelow && (
        <button type="button" className="new-below" onClick={jumpToBottom}>
          <ArrowDownIcon />
          New messages
        </button>
      )}
    </div>
  );
}

/** Messages in order, with a day divider where the day changes and consecutive ones grouped; `before` is the message shown just above them. */
interface ItemContext {
  userId: number;
  labels: SenderLabels;
  /** Receipt lines under one's own messages, by seq. */
  receipts: Map<number, Receipt>;
  presence: Map<number, ShownPresence>;
}

function MessageItems({ messages, before, context }: { messages: ChatMessage[]; before: ChatMessage | undefined; context: ItemContext }) {
  const { userId, labels } = context;
  return messages.map((message, i) => {
    const previous = i === 0 ? before : messages[i - 1];
    const newDay = !previous || dayKey(previous.sentAt) !== dayKey(message.sentAt);
    const continued = previous !== undefined && !newDay && previous.sender.id === message.sender.id && Date.parse(message.sentAt) - Date.parse(previous.sentAt) < GROUP_MS;
    return (
      <Fragment key={message.seq}>
        {/* A list item (a list holds only those), read as the day's name. */}
        {newDay && (
          <li className="day-divider">
            <span>{dayLabel(message.sentAt)}</span>
          </li>
        )}
        <MessageItem
          message={message}
          sender={labels.label(message.sender)}
          continued={continued}
          own={message.sender.id === userId}
          receipt={context.receipts.get(message.seq)}
          presence={context.presence.get(message.sender.id)}
        />
      </Fragment>
    );
  });
}

interface MessageItemProps {
  message: ChatMessage;
  sender: string;
  continued: boolean;
  own: boolean;
  receipt: Receipt | undefined;
  presence: ShownPresence | undefined;
}

function MessageItem({ message, sender, continued, own, receipt, presence }: MessageItemProps) {
  return (
    <li className={`message${continued ? ' message-continued' : ''}${own ? ' message-own' : ''}`} data-seq={message.seq}>
      <span className={`avatar colour-${colourOf(message.sender.id)}`} aria-hidden="true">
        {continued ? '' : initial(message.sender.name)}
        {!continued && !own && presence && <PresenceDot presence={presence} />}
      </span>
      {/* A grouped message has no header of its own: its time shows in the gutter on hover. */}
      {continued && (
        <time className="message-gutter-time" dateTime={message.sentAt} title={fullTime(message.sentAt)} aria-hidden="true">
          {clockTime(message.sentAt)}
        </time>
      )}
      <div className="message-body">
        <div className="message-meta">
          <span className="message-sender">{sender}</span>{' '}
          <time className="message-time" dateTime={message.sentAt} title={fullTime(message.sentAt)}>
            {clockTime(message.sentAt)}
          </time>
        </div>
        <MessageText text={message.text} />
        {receipt && <ReceiptLine receipt={receipt} />}
      </div>
    </li>
  );
}

/**
 * "Seen by Ben, Cleo", or "Seen by 7 of 9" with the names behind it: a disclosure (a native
 * details element, so a tap or the keyboard opens it and a screen reader says it is one),
 * which also opens on hover where there is a pointer.
 */
function ReceiptLine({ receipt }: { receipt: Receipt }) {
  const text = receiptText(receipt);
  if (!text) return null;
  if (receipt.readers.length <= NAMED_READERS) {
    return <p className="receipt">{text}</p>;
  }
  return (
    <details className="receipt receipt-more">
      <summary>{text}</summary>
      <ul className="receipt-readers" aria-label="Seen by">
        {receipt.readers.map((name, i) => (
          <li key={`${i}:${name}`}>{name}</li>
        ))}
      </ul>
    </details>
  );
}

/** Past this, a message not (yet) sent shows only its beginning: the whole is back in the box with Edit. */
const PENDING_PREVIEW = 600;

function PendingItem({ pending, user, onRetry, onEdit, onDiscard }: { pending: PendingMessage; user: UiUser; onRetry(): void; onEdit(): void; onDiscard(): void }) {
  const failed = pending.state === 'failed';
  const long = pending.text.length > PENDING_PREVIEW;
  return (
    <li className={`message message-own ${failed ? 'message-failed' : 'message-pending'}`} data-pending={pending.clientMsgId}>
      <span className={`avatar colour-${colourOf(user.id)}`} aria-hidden="true">
        {initial(user.name)}
      </span>
      <div className="message-body">
        <div className="message-meta">
          <span className="message-sender">{user.name}</span> <span className="message-state">{failed ? 'Not sent' : 'Sending…'}</span>
        </div>
        <p className="message-text">
          {long ? `${pending.text.slice(0, PENDING_PREVIEW)}…` : pending.text}
          {long && <span className="message-length"> ({pending.text.length.toLocaleString()} characters)</span>}
        </p>
        {failed && (
          <div className="message-problem" role="alert">
            <AlertIcon className="icon icon-small" />
            <span>{pending.error ?? 'The server refused this message.'}</span>
            <span className="message-problem-actions">
              {pending.retryable !== false && (
                <button type="button" className="button button-link" onClick={onRetry}>
                  Retry
                </button>
              )}
              <button type="button" className="button button-link" onClick={onEdit}>
                Edit
              </button>
              <button type="button" className="button button-link" onClick={onDiscard}>
                Discard
              </button>
            </span>
          </div>
        )}
      </div>
    </li>
  );
}

/** The first message at least partly in view, and where it is: to keep it there. */
function visibleAnchor(el: HTMLDivElement | null): { seq: number; offset: number } | null {
  if (!el) return null;
  for (const node of el.querySelectorAll<HTMLElement>('[data-seq]')) {
    const offset = offsetIn(el, node);
    if (offset + node.offsetHeight > 0) return { seq: Number(node.dataset.seq), offset };
  }
  return null;
}

function offsetIn(container: HTMLElement, node: HTMLElement): number {
  return node.getBoundingClientRect().top - container.getBoundingClientRect().top;
}

import { type Dispatch, useCallback, useEffect, useRef, useState } from 'react';
import type { ConnectionState, UiChat, UiMember, UiUser } from '../../../src/agent/ui-protocol.js';
import type { ChorusError } from '../../../src/protocol/errors.js';
import { typingSentence } from '../../../src/protocol/typing-text.js';
import { link } from '../agent-link.js';
import { newClientMsgId } from '../format.js';
import { BackIcon } from '../icons.js';
import type { Action, Conversation } from '../state.js';
import { Composer } from './Composer.js';
import { CopyButton } from './CopyButton.js';
import { DeliveryIndicator } from './DeliveryIndicator.js';
import { MembersPanel } from './MembersPanel.js';
import { MessageList } from './MessageList.js';

interface ChatViewProps {
  chat: UiChat;
  conversation: Conversation | undefined;
  dispatch: Dispatch<Action>;
  user: UiUser;
  members: UiMember[] | undefined;
  /** Who else is typing here, in the order they started. */
  typing: string[] | undefined;
  /** The agent's link to the server: while it is down, the header does not say Live. */
  connection: ConnectionState;
  /** What is in the compose box (kept in the state: offered back if the chat is taken away). */
  draft: string;
}

const FIRST_PAGE = 50;

/** One chat: its name, its messages, and the box to write in. */
export function ChatView({ chat, conversation, dispatch, user, members, typing, connection, draft }: ChatViewProps) {
  const code = chat.code;
  const status = conversation?.status;

  const load = useCallback(() => {
    dispatch({ type: 'openStarted', code });
    link.request('open', { code, limit: FIRST_PAGE }).then(
      (page) => dispatch({ type: 'opened', code, messages: page.messages }),
      (error: ChorusError) => dispatch({ type: 'openFailed', code, error: error.message }),
    );
  }, [code, dispatch]);

  // Fetch the latest page on every visit (a loaded conversation is kept current by pushes, and
  // this also refreshes the chat's details, such as who has joined since), and again whenever
  // the conversation was dropped (after a lost link).
  const visited = useRef(false);
  useEffect(() => {
    if (status === undefined || !visited.current) {
      visited.current = true;
      load();
    }
  }, [status, load]);

  const setDraft = useCallback((text: string) => dispatch({ type: 'draft', code, text }), [code, dispatch]);
  const [showMembers, setShowMembers] = useState(false);
  const membersButton = useRef<HTMLButtonElement>(null);

  // The member list (presence, receipts), read again as the count moves (the agent follows
  // membership events), as the panel opens (or closes), and when the connection to the server is
  // back: presence changes while it was down were never heard of.
  const connected = connection === 'connected';
  useEffect(() => {
    link.request('members', { code }).then(
      ({ members }) => dispatch({ type: 'members', code, members }),
      () => {},
    );
  }, [code, chat.memberCount, status === undefined, showMembers, connected, dispatch]);

  const onTyping = useCallback((on: boolean) => void link.request('typing', { code, on }).catch(() => {}), [code]);

  const send = useCallback(
    (text: string, clientMsgId = newClientMsgId()) => {
      dispatch({ type: 'sending', code, clientMsgId, text });
      link.request('send', { code, text, clientMsgId }).catch((error: ChorusError) =>
        dispatch({ type: 'push', push: { type: 'sendFailed', chat: code, clientMsgId, error: { code: error.code, message: error.message } } }),
      );
    },
    [code, dispatch],
  );

  return (
    <section className="chat" aria-labelledby="chat-title">
      <header className="pane-header chat-header">
        <button type="button" className="button button-icon back-button" onClick={() => dispatch({ type: 'select', code: null })}>
          <BackIcon />
          <span className="back-label">Chats</span>
        </button>
        <div className="chat-heading">
          <h2 id="chat-title">{chat.name}</h2>
          <div className="chat-meta">
            <span>
              {chat.memberCount} {chat.memberCount === 1 ? 'member' : 'members'}
            </span>
            <span aria-hidden="true">·</span>
            <span className="mono">{code}</span>
            {chat.delivery && (
              // The separator wraps with the indicator, never alone at the end of a line.
              <span className="chat-meta-delivery">
                <span aria-hidden="true">·</span>
                <DeliveryIndicator delivery={chat.delivery} connection={connection} />
              </span>
            )}
          </div>
        </div>
        <div className="chat-actions">
          <button
            ref={membersButton}
            type="button"
            className={`button button-secondary button-small${showMembers ? ' is-current' : ''}`}
            aria-expanded={showMembers}
            aria-controls="members-panel"
            onClick={() => setShowMembers((shown) => !shown)}
          >
            Members
          </button>
          <CopyButton text={code} label="Copy code" className="button button-secondary button-small" />
          <LeaveButton code={code} />
        </div>
      </header>
      <div className="chat-body">
      <div className="chat-main">
      {status === 'error' && conversation ? (
        <div className="chat-problem" role="alert">
          <p>Could not load this chat: {conversation.error}</p>
          <button type="button" className="button button-secondary" onClick={load}>
            Try again
          </button>
        </div>
      ) : (
        <MessageList
          code={code}
          name={chat.name}
          conversation={conversation}
          user={user}
          members={members}
          connected={connected}
          dispatch={dispatch}
          onRetry={(p) => send(p.text, p.clientMsgId)}
          onEdit={(p) => {
            // What is being typed stays: the message to edit goes above it, nothing is lost.
            setDraft(draft.trim() === '' ? p.text : `${p.text}\n${draft}`);
            dispatch({ type: 'discard', code, clientMsgId: p.clientMsgId });
          }}
          onDiscard={(p) => dispatch({ type: 'discard', code, clientMsgId: p.clientMsgId })}
        />
      )}
      {/* Always there, so that a screen reader hears each change, and the box never jumps. */}
      <p className="typing-line" role="status" aria-live="polite">
        {typingSentence(typing ?? []) ?? ''}
      </p>
      <Composer chatName={chat.name} text={draft} onText={setDraft} onSend={send} onTyping={onTyping} />
      </div>
      {showMembers && (
        <MembersPanel
          chat={chat}
          members={members}
          user={user}
          connected={connected}
          dispatch={dispatch}
          onClose={() => {
            setShowMembers(false);
            membersButton.current?.focus(); // where the panel was opened from, not lost on the page
          }}
        />
      )}
      </div>
    </section>
  );
}

/** Leaving asks once more, inline (a dialog box would steal the keyboard and the page). */
function LeaveButton({ code }: { code: string }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) yes.current?.focus();
  }, [confirming]);
  if (!confirming) {
    return (
      <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(true)}>
        Leave
      </button>
    );
  }
  return (
    <span className="leave-confirm" role="group" aria-label="Leave this chat?" onKeyDown={(event) => event.key === 'Escape' && setConfirming(false)}>
      <span className="leave-question">{error ?? 'Leave this chat?'}</span>
      <button
        ref={yes}
        type="button"
        className="button button-danger button-small"
        onClick={() => link.request('leave', { code }).catch((e: ChorusError) => setError(e.message))}
      >
        Leave chat
      </button>
      <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(false)}>
        Cancel
      </button>
    </span>
  );
}

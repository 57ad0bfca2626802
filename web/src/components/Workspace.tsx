import { type Dispatch, useEffect, useState } from 'react';
import type { UiSessionNotEnded, UiUser } from '../../../src/agent/ui-protocol.js';
import { link } from '../agent-link.js';
import { JoinIcon, LogoMark, LogoutIcon, PlusIcon, SettingsIcon } from '../icons.js';
import type { Action, State } from '../state.js';
import { ChatView } from './ChatView.js';
import { NotificationsPrompt } from './NotificationsPrompt.js';
import { RemovalNotices } from './RemovalNotices.js';
import { LogoutNotice, ReplacedSessionNotice } from './SessionNotices.js';
import { CreateChat, JoinChat } from './ChatForms.js';
import { SettingsPanel } from './SettingsPanel.js';
import { initial } from '../format.js';

interface WorkspaceProps {
  state: State;
  dispatch: Dispatch<Action>;
  user: UiUser;
}

/** A logout under way, or one the server could not carry out (the login kept, `notEnded` says why). */
interface LogoutState {
  busy: boolean;
  notEnded?: UiSessionNotEnded;
}

/** After login: the chat list on the left, the open chat (or a form) on the right. On a phone, one at a time. */
export function Workspace({ state, dispatch, user }: WorkspaceProps) {
  const showingMain = state.active !== null || state.panel !== 'none';
  const activeChat = state.chats.find((c) => c.code === state.active);
  const [logout, setLogout] = useState<LogoutState>({ busy: false });
  const requestLogout = (forget: boolean) => {
    setLogout((current) => ({ ...current, busy: true }));
    // Logged out, the session push brings the login screen; not, the notice says why and offers the choice.
    link.request('logout', forget ? { forget } : {}).then(
      (result) => {
        if (!result.loggedOut) setLogout({ busy: false, ...(result.notEnded ? { notEnded: result.notEnded } : {}) });
      },
      () => setLogout((current) => ({ ...current, busy: false })),
    );
  };
  const replaced = state.replacedSessionDismissed ? undefined : state.session?.replacedSession;
  const noticed = logout.notEnded !== undefined || replaced !== undefined || state.notices.length > 0;
  return (
    <div className={`workspace ${showingMain ? 'workspace-main' : 'workspace-list'}`}>
      {noticed && (
        <div className="notices">
          {logout.notEnded && <LogoutNotice notEnded={logout.notEnded} busy={logout.busy} onRetry={() => requestLogout(false)} onForget={() => requestLogout(true)} />}
          {replaced && <ReplacedSessionNotice replaced={replaced} onDismiss={() => dispatch({ type: 'dismissReplacedSession' })} />}
          <RemovalNotices notices={state.notices} dispatch={dispatch} />
        </div>
      )}
      <Sidebar state={state} dispatch={dispatch} user={user} loggingOut={logout.busy} onLogout={() => requestLogout(false)} />
      <main className="main">
        <ConnectionBanner state={state} />
        {state.panel === 'create' && <CreateChat dispatch={dispatch} />}
        {state.panel === 'join' && <JoinChat dispatch={dispatch} />}
        {state.panel === 'settings' && <SettingsPanel dispatch={dispatch} />}
        {state.panel === 'none' && activeChat && (
          <ChatView
            key={activeChat.code}
            chat={activeChat}
            conversation={state.conversations[activeChat.code]}
            dispatch={dispatch}
            user={user}
            members={state.members[activeChat.code]}
            typing={state.typing[activeChat.code]}
            connection={state.connection.state}
            draft={state.drafts[activeChat.code] ?? ''}
          />
        )}
        {state.panel === 'none' && !activeChat && <EmptyState dispatch={dispatch} hasChats={state.chats.length > 0} />}
      </main>
    </div>
  );
}

function Sidebar({ state, dispatch, user, loggingOut, onLogout }: WorkspaceProps & { loggingOut: boolean; onLogout(): void }) {
  return (
    <aside className="sidebar" aria-label="Chats and account">
      <header className="sidebar-header">
        <div className="brand">
          <LogoMark />
          <span>Chorus</span>
        </div>
      </header>
      <div className="sidebar-actions">
        <button type="button" className={`button button-sidebar${state.panel === 'create' ? ' is-current' : ''}`} onClick={() => dispatch({ type: 'panel', panel: 'create' })}>
          <PlusIcon />
          Create chat
        </button>
        <button type="button" className={`button button-sidebar${state.panel === 'join' ? ' is-current' : ''}`} onClick={() => dispatch({ type: 'panel', panel: 'join' })}>
          <JoinIcon />
          Join chat
        </button>
      </div>
      <nav className="chat-list" aria-label="Your chats">
        <h2 className="sidebar-heading">Chats</h2>
        {state.chats.length === 0 ? (
          <p className="sidebar-empty">No chats yet.</p>
        ) : (
          <ul>
            {state.chats.map((chat) => (
              <li key={chat.code}>
                <button
                  type="button"
                  className={`chat-link${chat.code === state.active ? ' is-current' : ''}${chat.unread > 0 ? ' has-unread' : ''}`}
                  aria-current={chat.code === state.active ? 'page' : undefined}
                  onClick={() => dispatch({ type: 'select', code: chat.code })}
                >
                  <span className="chat-link-hash" aria-hidden="true">
                    #
                  </span>
                  <span className="chat-link-name" title={chat.name}>{chat.name}</span>
                  {chat.unread > 0 && (
                    <span className="badge">
                      {chat.unread > 99 ? '99+' : chat.unread}
                      <span className="visually-hidden"> unread</span>
                    </span>
                  )}
                </button>
              </li>
            ))}
          </ul>
        )}
      </nav>
      <NotificationsPrompt />
      <footer className="sidebar-footer">
        <div className="me">
          <span className={`avatar avatar-small colour-${Math.abs(user.id) % 8}`} aria-hidden="true">
            {initial(user.name)}
          </span>
          <span className="me-text">
            <span className="me-name" title={user.name}>{user.name}</span>
            <span className="me-email" title={user.email}>{user.email}</span>
          </span>
        </div>
        <button
          type="button"
          className={`button button-ghost-dark${state.panel === 'settings' ? ' is-current' : ''}`}
          aria-label="Settings"
          title="Settings"
          onClick={() => dispatch({ type: 'panel', panel: 'settings' })}
        >
          <SettingsIcon />
        </button>
        <button
          type="button"
          className="button button-ghost-dark"
          disabled={loggingOut}
          onClick={onLogout}
        >
          <LogoutIcon />
          Log out
        </button>
      </footer>
    </aside>
  );
}

/** Shown only when the link to the server has been down for a moment: a blip is not news. */
function ConnectionBanner({ state }: { state: State }) {
  const down = state.connection.state !== 'connected';
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    if (!down) return setVisible(false);
    const timer = setTimeout(() => setVisible(true), 1500);
    return () => clearTimeout(timer);
  }, [down]);
  if (!down || !visible) return null;
  return (
    <div className="banner" role="status">
      {state.connection.state === 'connecting' ? 'Connecting to the server…' : 'Connection to the server lost; reconnecting…'}
      {state.connection.detail && <span className="banner-detail"> {state.connection.detail}</span>}
    </div>
  );
}

function EmptyState({ dispatch, hasChats }: { dispatch: Dispatch<Action>; hasChats: boolean }) {
  return (
    <section className="empty-state" aria-labelledby="empty-title">
      <LogoMark className="logo-mark logo-large" />
      <h2 id="empty-title">{hasChats ? 'Pick a chat' : 'Start a conversation'}</h2>
      <p>{hasChats ? 'Choose a chat on the left, or start another one.' : 'Create a chat and share its code, or join one with a code someone gave you.'}</p>
      <div className="empty-actions">
        <button type="button" className="button button-primary" onClick={() => dispatch({ type: 'panel', panel: 'create' })}>
          <PlusIcon />
          New chat
        </button>
        <button type="button" className="button button-secondary" onClick={() => dispatch({ type: 'panel', panel: 'join' })}>
          <JoinIcon />
          Join with a code
        </button>
      </div>
    </section>
  );
}

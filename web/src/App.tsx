import { type ReactNode, useEffect, useReducer, useRef } from 'react';
import { type DeniedReason, link } from './agent-link.js';
import { useChatInAddress } from './chat-address.js';
import { AuthScreens } from './components/AuthScreens.js';
import { Workspace } from './components/Workspace.js';
import { LogoMark } from './icons.js';
import { notify } from './notifications.js';
import { useTabPresence } from './presence.js';
import { type State, initialState, reduce, totalUnread } from './state.js';

let connected = false;

export function App() {
  const [state, dispatch] = useReducer(reduce, initialState);
  const current = useRef<State>(state);
  current.current = state;

  useEffect(() => {
    const offPush = link.onPush((push) => {
      dispatch({ type: 'push', push });
      if (push.type === 'message') notifyIfAway(current.current, push.message, (code) => dispatch({ type: 'select', code }));
    });
    const offState = link.onState((s) => dispatch({ type: 'link', state: s }));
    if (!connected) {
      connected = true;
      link.connect();
    }
    return () => {
      offPush();
      offState();
    };
  }, []);

  useChatInAddress(state, dispatch);
  useTabPresence(Boolean(state.session?.user));

  const unread = totalUnread(state.chats);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Chorus` : 'Chorus';
  }, [unread]);

  if (state.link === 'denied') return <NotAdmitted reason={link.deniedReason} />;
  if (state.link === 'away') {
    return (
      <Splash title="Waiting for the Chorus client…">
        It has stopped. This tab reconnects by itself as soon as it runs again ({relaunchHint(state.session?.relaunch)}).
      </Splash>
    );
  }
  if (!state.session) return <Splash title="Connecting…" />;
  if (!state.session.user) return <AuthScreens server={state.session.server} notice={state.session.notice} firstTime={state.session.firstTime} loginEmail={state.session.loginEmail} />;
  // Keyed by the user: nothing of one login's screen (a logout it could not finish, say) outlives it.
  return <Workspace key={state.session.user.id} state={state} dispatch={dispatch} user={state.session.user} />;
}

/** How to start the client again: the command it was started with, when the agent said. */
function relaunchHint(relaunch: string | undefined): ReactNode {
  if (relaunch) return <span className="mono">{relaunch}</span>;
  return (
    <>
      <span className="mono">chorus client</span>, or <span className="mono">chorus up</span>
    </>
  );
}

function notifyIfAway(state: State, message: Parameters<typeof notify>[0], open: (code: string) => void) {
  const me = state.session?.user;
  if (!me || message.sender.id === me.id) return;
  if (message.chat === state.active && document.visibilityState === 'visible') return;
  const chat = state.chats.find((c) => c.code === message.chat);
  notify(message, chat?.name ?? message.chat, () => open(message.chat));
}

function NotAdmitted({ reason }: { reason: DeniedReason | undefined }) {
  return (
    <Splash title={reason === 'link-used' ? 'This link has already been used' : 'This tab is not connected to your Chorus client'}>
      {reason === 'link-used' ? 'Each address the Chorus client prints opens one browser tab, once. ' : ''}
      For a new address, run <span className="mono">chorus client</span> again (<span className="mono">npx chorus client</span> inside the Chorus
      folder; with the same <span className="mono">--profile</span>): the running client prints one and opens it.
    </Splash>
  );
}

function Splash({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <main className="splash">
      <LogoMark className="logo-mark logo-large" />
      <h1>{title}</h1>
      {children && <p>{children}</p>}
    </main>
  );
}

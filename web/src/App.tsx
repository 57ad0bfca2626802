import { type ReactNode, useEffect, useReducer, useRef } from 'react';
import { type DeniedReason, link } from './agent-link.js';
import { useChatInAddress } from './chat-address.js';
import { type ClientIdentity, useIdentityFromOtherTabs, useShareIdentity } from './client-identity.js';
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
  useShareIdentity(identityOf(state));

  const unread = totalUnread(state.chats);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Chorus` : 'Chorus';
  }, [unread]);

  if (state.link === 'denied') return <NotAdmitted reason={link.deniedReason} />;
  if (state.link === 'away') {
    return (
      <Splash title="Waiting for the Chorus client…">
        <p>It has stopped. This tab reconnects by itself as soon as it runs again ({relaunchHint(state.session?.relaunch)}).</p>
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

/** Whose client this is, for a tab of this browser the agent does not admit: told only while connected. */
function identityOf(state: State): ClientIdentity | undefined {
  const session = state.session;
  if (state.link !== 'open' || !session) return undefined;
  const user = session.user && { name: session.user.name, email: session.user.email };
  return { user, server: session.server, ...(session.relaunch ? { relaunch: session.relaunch } : {}) };
}

function notifyIfAway(state: State, message: Parameters<typeof notify>[0], open: (code: string) => void) {
  const me = state.session?.user;
  if (!me || message.sender.id === me.id) return;
  if (message.chat === state.active && document.visibilityState === 'visible') return;
  const chat = state.chats.find((c) => c.code === message.chat);
  notify(message, chat?.name ?? message.chat, () => open(message.chat));
}

/**
 * A tab the agent does not admit: it says why, names the client when another tab of this browser
 * can tell whose it is (the agent tells a tab nothing before admitting it), and how to get a
 * new address.
 */
function NotAdmitted({ reason }: { reason: DeniedReason | undefined }) {
  const identity = useIdentityFromOtherTabs();
  return (
    <Splash title={reason === 'link-used' ? 'This link has already been used' : 'This tab is not connected to your Chorus client'}>
      <p className="splash-whose">
        <WhoseClient identity={identity} />
      </p>
      <p>
        {reason === 'link-used' ? 'Each address the Chorus client prints opens one browser tab, once. ' : ''}
        {identity?.relaunch ? (
          'For a new address for this tab, run this again; the running client prints one and opens it:'
        ) : (
          <>
            For a new address, run <span className="mono">chorus client</span> again (<span className="mono">npx chorus client</span> inside the Chorus
            folder; with the same <span className="mono">--profile</span>): the running client prints one and opens it.
          </>
        )}
      </p>
      {identity?.relaunch && <code className="splash-command">{identity.relaunch}</code>}
    </Splash>
  );
}

/** "127.0.0.1:PORT is the Chorus client of Ada (ada@…) on SERVER", as far as this browser's other tabs can tell. */
function WhoseClient({ identity }: { identity: ClientIdentity | undefined }) {
  const address = <span className="mono">{location.host}</span>;
  if (!identity) return <>This address, {address}, is a Chorus client's; the terminal where it runs prints this address and its profile.</>;
  const server = <span className="mono">{identity.server}</span>;
  return identity.user ? (
    <>
      This address, {address}, is the Chorus client of <strong>{identity.user.name}</strong> (<span className="nowrap">{identity.user.email}</span>) on {server}, open in another tab of
      this browser.
    </>
  ) : (
    <>
      This address, {address}, is a Chorus client on {server}, with nobody logged in, open in another tab of this browser.
    </>
  );
}

function Splash({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <main className="splash">
      <LogoMark className="logo-mark logo-large" />
      <h1>{title}</h1>
      {children}
    </main>
  );
}

import { useEffect, useState } from 'react';

/**
 * Whose client this address is, told between the tabs of one browser. A tab the agent does not
 * admit (a second tab opened on the bare address, a link used already) hears nothing from the
 * agent, which says not a word before admission (src/agent/gate.ts). An admitted tab of the same
 * origin in the same browser may tell it, over a BroadcastChannel, which reaches only pages of
 * this origin in this browser profile. A tab answers only while its link to the agent is open:
 * a page someone else serves on the port while the agent is stopped hears nothing from it.
 */
export interface ClientIdentity {
  /** Who is logged in; null when nobody is. */
  user: { name: string; email: string } | null;
  server: string;
  /** The command that started the client, which run again prints a new address for a tab. */
  relaunch?: string;
}

type Message = { type: 'who' } | { type: 'identity'; identity: ClientIdentity };

const CHANNEL = 'chorus-client-identity';

let channel: BroadcastChannel | undefined;
/** What this tab answers with, while it is admitted and connected. */
let mine: ClientIdentity | undefined;

function theChannel(): BroadcastChannel | undefined {
  if (typeof BroadcastChannel === 'undefined') return undefined;
  if (!channel) {
    const opened = new BroadcastChannel(CHANNEL);
    opened.addEventListener('message', (event: MessageEvent<Message>) => {
      if (event.data?.type === 'who' && mine) opened.postMessage({ type: 'identity', identity: mine } satisfies Message);
    });
    channel = opened;
  }
  return channel;
}

/** In an admitted, connected tab: answers the others with `identity`, and tells them of each change. */
export function useShareIdentity(identity: ClientIdentity | undefined): void {
  const said = identity && JSON.stringify(identity);
  useEffect(() => {
    mine = identity;
    if (identity) theChannel()?.postMessage({ type: 'identity', identity } satisfies Message);
    return () => {
      mine = undefined;
    };
  }, [said]);
}

/** In a tab not admitted: what the admitted tabs of this browser say, the latest; undefined while none has. */
export function useIdentityFromOtherTabs(): ClientIdentity | undefined {
  const [identity, setIdentity] = useState<ClientIdentity | undefined>();
  useEffect(() => {
    const opened = theChannel();
    if (!opened) return;
    const listen = (event: MessageEvent<Message>) => {
      if (event.data?.type === 'identity' && isIdentity(event.data.identity)) setIdentity(event.data.identity);
    };
    opened.addEventListener('message', listen);
    opened.postMessage({ type: 'who' } satisfies Message);
    return () => opened.removeEventListener('message', listen);
  }, []);
  return identity;
}

function isIdentity(value: unknown): value is ClientIdentity {
  const v = value as Partial<ClientIdentity> | null;
  const user = v?.user;
  return (
    typeof v?.server === 'string' &&
    (v.relaunch === undefined || typeof v.relaunch === 'string') &&
    (user === null || (typeof user === 'object' && typeof user?.name === 'string' && typeof user.email === 'string'))
  );
}

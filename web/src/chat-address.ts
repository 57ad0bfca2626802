import { type Dispatch, useEffect, useRef } from 'react';
import type { Action, State } from './state.js';

/**
 * The open chat lives in the address (`/?chat=CODE`), so reload, back and forward work, and is
 * remembered for the next visit. Each profile's client keeps its own port, so this origin's
 * storage is the profile's: a reload, or a login on the next day, comes back to the chat that
 * was open. A chat the user is no longer in is simply not opened.
 */
const PARAM = 'chat';
const lastChatKey = (userId: number) => `chorus.lastChat.${userId}`;

function chatInAddress(): string | null {
  return new URLSearchParams(location.search).get(PARAM);
}

function addressFor(code: string | null): string {
  const params = new URLSearchParams(location.search);
  if (code) params.set(PARAM, code);
  else params.delete(PARAM);
  const query = params.toString();
  return `${location.pathname}${query ? `?${query}` : ''}`;
}

export function useChatInAddress(state: State, dispatch: Dispatch<Action>): void {
  const userId = state.session?.user?.id;
  const restoredFor = useRef<number | undefined>(undefined);
  /**
   * The chat the address was last set to name, or that back or forward selected. Only a change
   * of the open chat from this moves the address: back and forward change the address before
   * their selection is rendered, and a render in between (a message arriving) would otherwise
   * see the address and the open chat differ and push the old chat back over the forward entry.
   */
  const named = useRef<string | null | undefined>(undefined);
  const known = (code: string | null) => code !== null && state.chats.some((chat) => chat.code === code);

  // Once per login, when the chat list is there: the address's chat, else the last one open.
  useEffect(() => {
    if (userId === undefined) restoredFor.current = named.current = undefined;
    if (userId === undefined || restoredFor.current === userId || state.chats.length === 0) return;
    restoredFor.current = userId;
    const wanted = [chatInAddress(), localStorage.getItem(lastChatKey(userId))].find(known);
    if (wanted && state.active !== wanted) dispatch({ type: 'select', code: wanted });
  });

  // A newly opened chat goes into the address (a new history entry) and into storage.
  useEffect(() => {
    if (userId === undefined || restoredFor.current !== userId) return;
    // A create or join panel covers the chat for a moment: not a place to come back to.
    if (state.active === null && state.panel !== 'none') return;
    if (state.active) localStorage.setItem(lastChatKey(userId), state.active);
    if (state.active === named.current) return;
    named.current = state.active;
    if (chatInAddress() !== state.active) history.pushState(null, '', addressFor(state.active));
  });

  // Back and forward select what the address names (a chat left since then opens nothing).
  const chats = useRef(state.chats);
  chats.current = state.chats;
  useEffect(() => {
    const onPopState = () => {
      const code = chatInAddress();
      const selected = code && chats.current.some((chat) => chat.code === code) ? code : null;
      named.current = selected;
      dispatch({ type: 'select', code: selected });
    };
    window.addEventListener('popstate', onPopState);
    return () => window.removeEventListener('popstate', onPopState);
  }, [dispatch]);
}

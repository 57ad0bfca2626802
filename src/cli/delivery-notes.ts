import type { DeliveryState } from '../client/receiver.js';
import type { ServerEndpoint, ServerList } from '../client/server-list.js';
import { terminalSafe } from './output.js';

/**
 * What `tail` and `chat` say when the way a chat's messages reach this computer changes
 * (multicast, or pushed by the server over the TCP connection). The first verdict is said only
 * when it is bad news: a chat that works as it always did needs no line.
 */

/** The change in the person's words, or undefined when there is nothing to say. */
export function deliveryChange(state: DeliveryState, previous: DeliveryState | undefined): string | undefined {
  if (state.path === previous?.path) return undefined;
  if (state.path === 'server') {
    const reason = terminalSafe(state.reason.trim()).replace(/[\r\n]+/g, ' ').replace(/\.$/, '');
    return `messages now come through the server (multicast does not reach this computer${reason ? `: ${reason}` : ''})`;
  }
  // The first verdict, multicast: as expected, nothing to say.
  return previous === undefined ? undefined : 'messages arrive by multicast again';
}

/** `tail`'s stderr line: `chorus: ABCDE-FGHJK: messages now come through the server (…)`. */
export function tailDeliveryLine(state: DeliveryState, previous: DeliveryState | undefined): string | undefined {
  const change = deliveryChange(state, previous);
  return change === undefined ? undefined : `chorus: ${state.chat}: ${change}`;
}

/** `chat`'s note in the screen, in the style of its other notes (`  … reconnected`). */
export function chatDeliveryLine(state: DeliveryState, previous: DeliveryState | undefined): string | undefined {
  const change = deliveryChange(state, previous);
  return change === undefined ? undefined : `  … ${change}`;
}

/** A listener for Receiver.onPathChange that says each change once, per chat, with `line`. */
export function announceDelivery(
  say: (line: string) => void,
  line: (state: DeliveryState, previous: DeliveryState | undefined) => string | undefined,
): (state: DeliveryState) => void {
  const last = new Map<string, DeliveryState>();
  return (state) => {
    const text = line(state, last.get(state.chat));
    last.set(state.chat, state);
    if (text !== undefined) say(text);
  };
}

/**
 * The move to another of the profile's servers, in the person's words: the one left does not
 * answer, or home is back. Said by `tail` on stderr (`chorus: …`) and by `chat` as a note.
 */
export function serverMove(current: ServerEndpoint, previous: ServerEndpoint, home: ServerEndpoint): string {
  if (current === home) return `back on the home server ${terminalSafe(home.url)}`;
  const back = previous === home ? ', until it answers again' : '';
  return `${terminalSafe(previous.url)} does not answer: now using ${terminalSafe(current.url)}${back}`;
}

/** `tail`'s stderr line for a move, and `chat`'s note. */
export const tailServerLine = (current: ServerEndpoint, previous: ServerEndpoint, home: ServerEndpoint) => `chorus: ${serverMove(current, previous, home)}`;
export const chatServerLine = (current: ServerEndpoint, previous: ServerEndpoint, home: ServerEndpoint) => `  … ${serverMove(current, previous, home)}`;

/** Says each move of the server list with `line`. */
export function announceServerMoves(
  list: ServerList | undefined,
  say: (line: string) => void,
  line: (current: ServerEndpoint, previous: ServerEndpoint, home: ServerEndpoint) => string,
): void {
  list?.onChange((current, previous) => say(line(current, previous, list.home)));
}

import type { UiPresence } from '../../../src/agent/ui-protocol.js';

/**
 * A member's presence as shown: the server's word while this client is connected to it, else
 * unknown. The last word is kept, but while the connection is down nobody can tell whether it
 * still holds (someone who went offline meanwhile would stay green).
 */
export type ShownPresence = UiPresence | 'unknown';

export const PRESENCE_LABEL: Record<ShownPresence, string> = { online: 'Online', away: 'Away', offline: 'Offline', unknown: 'Unknown while disconnected' };

export function shownPresence(presence: UiPresence, connected: boolean): ShownPresence {
  return connected ? presence : 'unknown';
}

/** A member's presence as a dot on their avatar; the text beside it (or the avatar's own label) says it in words. */
export function PresenceDot({ presence }: { presence: ShownPresence }) {
  return <span className={`presence-dot presence-${presence}`} title={PRESENCE_LABEL[presence]} />;
}

import type { UiPresence } from '../../../src/agent/ui-protocol.js';

export const PRESENCE_LABEL: Record<UiPresence, string> = { online: 'Online', away: 'Away', offline: 'Offline' };

/** A member's presence as a dot on their avatar; the text beside it (or the avatar's own label) says it in words. */
export function PresenceDot({ presence }: { presence: UiPresence }) {
  return <span className={`presence-dot presence-${presence}`} title={PRESENCE_LABEL[presence]} />;
}

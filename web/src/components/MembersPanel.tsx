import { type Dispatch, useEffect, useRef, useState } from 'react';
import type { UiChat, UiMember, UiUser } from '../../../src/agent/ui-protocol.js';
import type { ChorusError } from '../../../src/protocol/errors.js';
import { SenderLabels } from '../../../src/protocol/name-skeleton.js';
import { link } from '../agent-link.js';
import { colourOf, fullTime, initial } from '../format.js';
import type { Action } from '../state.js';
import { PRESENCE_LABEL, PresenceDot, shownPresence } from './PresenceDot.js';

interface MembersPanelProps {
  chat: UiChat;
  members: UiMember[] | undefined;
  user: UiUser;
  /** The agent is connected to the server: the members' presence is current (else unknown). */
  connected: boolean;
  dispatch: Dispatch<Action>;
  onClose(): void;
}

/**
 * Everyone in the chat: presence (a dot, and in words), when last seen, the creator marked, and
 * members whose names look alike numbered as senders are ("Alice #12"), so that the one removed
 * is the one meant. The creator may remove a member from here; the server refuses anyone else,
 * so the button shows only for them.
 */
export function MembersPanel({ chat, members, user, connected, dispatch, onClose }: MembersPanelProps) {
  const mayRemove = chat.createdBy === user.id;
  const labels = SenderLabels.knowing(members ?? []);
  // Opened, the panel has the focus (Tab goes on through its members); Escape closes it.
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => close.current?.focus(), []);
  return (
    <aside className="members-panel" id="members-panel" aria-labelledby="members-title" onKeyDown={(event) => event.key === 'Escape' && onClose()}>
      <header className="members-header">
        <h3 id="members-title">Members{members ? ` (${members.length})` : ''}</h3>
        <button ref={close} type="button" className="button button-ghost button-small" onClick={onClose}>
          Close
        </button>
      </header>
      {!members ? (
        <p className="muted members-loading">Loading members…</p>
      ) : (
        <ul className="members-list">
          {sortedMembers(members, user.id).map((member) => (
            <MemberRow
              key={member.id}
              code={chat.code}
              member={member}
              name={labels.label(member)}
              self={member.id === user.id}
              connected={connected}
              mayRemove={mayRemove && member.id !== user.id}
              dispatch={dispatch}
            />
          ))}
        </ul>
      )}
    </aside>
  );
}

/** Oneself first, then who is here (online, away, offline: the last word while disconnected, so that nobody moves), then by name. */
function sortedMembers(members: UiMember[], selfId: number): UiMember[] {
  const rank = { online: 0, away: 1, offline: 2 } as const;
  return [...members].sort((a, b) => Number(b.id === selfId) - Number(a.id === selfId) || rank[a.presence] - rank[b.presence] || a.name.localeCompare(b.name));
}

/**
 * "Online", "Away", "Offline · last seen 14:02", or just "Offline" when the server has not seen
 * them since it started; "Unknown while disconnected" while this client is not connected to it.
 */
export function presenceText(member: Pick<UiMember, 'presence' | 'lastSeenAt'>, connected: boolean): string {
  const shown = shownPresence(member.presence, connected);
  if (shown !== 'offline' || !member.lastSeenAt) return PRESENCE_LABEL[shown];
  return `Offline · last seen ${fullTime(member.lastSeenAt)}`;
}

interface MemberRowProps {
  code: string;
  member: UiMember;
  /** The name as shown: numbered where another member's looks alike. */
  name: string;
  self: boolean;
  connected: boolean;
  mayRemove: boolean;
  dispatch: Dispatch<Action>;
}

function MemberRow({ code, member, name, self, connected, mayRemove, dispatch }: MemberRowProps) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const remove = () =>
    link.request('removeMember', { code, userId: member.id }).then(
      () => link.request('members', { code }).then(({ members }) => dispatch({ type: 'members', code, members })),
      (e: ChorusError) => setError(e.message),
    );
  return (
    <li className="member" data-member={member.id}>
      <span className={`avatar avatar-small colour-${colourOf(member.id)}`} aria-hidden="true">
        {initial(member.name)}
        <PresenceDot presence={shownPresence(member.presence, connected)} />
      </span>
      <span className="member-text">
        <span className="member-name">
          <span className="member-name-text">
            {name}
            {self && <span className="muted"> (you)</span>}
          </span>
          {member.creator && <span className="member-badge">Creator</span>}
        </span>
        <span className="member-presence">{presenceText(member, connected)}</span>
        {error && (
          <span className="member-error" role="alert">
            {error}
          </span>
        )}
      </span>
      {mayRemove &&
        (confirming ? (
          <span className="member-actions" role="group" aria-label={`Remove ${name}?`}>
            <button type="button" className="button button-danger button-small" onClick={() => void remove()}>
              Remove
            </button>
            <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" className="button button-ghost button-small" aria-label={`Remove ${name} from the chat`} onClick={() => setConfirming(true)}>
            Remove
          </button>
        ))}
    </li>
  );
}

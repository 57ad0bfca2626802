import type { Member } from '../client/api.js';
import { SenderLabels } from '../protocol/name-skeleton.js';
import { localMinute } from './output.js';
import { table } from './table.js';

/** What `chorus members`, `read` and `settings` print: pure, so that unit tests read it exactly. */

/** The sentence for the receipts setting, on or off: what others see, and what private mode keeps. */
export function receiptsSentence(receipts: boolean): string {
  return receipts
    ? 'Read receipts: on. Members of your chats see how far you have read ("Seen by …").'
    : 'Read receipts: off (private mode). Nobody sees how far you have read; your read position still keeps your own unread counts, on all your devices.';
}

/** `#12 of 15`, or `nothing yet` before the first message is read. */
export function positionText(readSeq: number, latestSeq: number): string {
  return readSeq === 0 ? `nothing read yet (${latestSeq} so far)` : `#${readSeq} of ${latestSeq}`;
}

/**
 * One row per member: the name (the creator and oneself marked, and members whose names look
 * alike numbered, as senders are: "Alice #12"), presence, when last seen, and how far they have
 * read (`private` for a member whose receipts are off; oneself's is always listed).
 */
export function membersTable(members: readonly Member[], selfId: number | undefined, columns?: number): string[] {
  const labels = SenderLabels.knowing(members);
  const names = members.map((m) => memberName(m, labels.label(m), selfId));
  const rows = members.map((m, i) => [names[i]!.whole, m.presence, lastSeen(m), m.readSeq === undefined ? 'private' : m.readSeq === 0 ? '—' : `#${m.readSeq}`]);
  // Within the terminal's width, the names give way (cut with "…"), as in the chats table; the
  // number that tells look-alikes apart and the marks stay whole.
  return table(['NAME', 'PRESENCE', 'LAST SEEN', 'READ'], rows, columns === undefined ? undefined : { columns, shrink: 0, keptEnds: names.map((n) => n.end) });
}

/** "Alice #12 (creator, you)", and its end after the name itself (" #12 (creator, you)"). */
function memberName(m: Member, label: string, selfId: number | undefined): { whole: string; end: string } {
  const marks = [m.creator ? 'creator' : '', m.id === selfId ? 'you' : ''].filter(Boolean);
  const whole = marks.length > 0 ? `${label} (${marks.join(', ')})` : label;
  return { whole, end: whole.startsWith(m.name) ? whole.slice(m.name.length) : '' };
}

function lastSeen(m: Member): string {
  if (m.presence !== 'offline') return 'now';
  // null: not seen since the server started (it keeps presence in memory).
  return m.lastSeenAt ? localMinute(m.lastSeenAt) : 'unknown';
}

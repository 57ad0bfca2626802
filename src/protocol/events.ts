import { MAX_NAME_LENGTH } from './limits.js';

/**
 * Ephemeral chat events (docs/protocol.md, Presence, typing and read receipts): who is typing,
 * who has read how far, who is online. Not sequenced and never stored as messages: the server
 * multicasts them in an EVENTS datagram, sealed with the chat's key like messages (they say who
 * is doing what), and pushes them as an `events` frame to clients on push. A lost event is
 * replaced by the next (typing is refreshed, presence and read positions are durable on the
 * server and listed by the API), so none is ever repaired.
 */

export type PresenceState = 'online' | 'away' | 'offline';

export type ChatEvent =
  /** `on`: started or still typing (refreshed every TYPING_REFRESH_MS); false: stopped (idle, or sent). */
  | { kind: 'typing'; userId: number; name: string; on: boolean }
  /** The member's read position moved to `seq` (never sent for a member whose receipts are off). */
  | { kind: 'read'; userId: number; name: string; seq: number }
  | { kind: 'presence'; userId: number; name: string; state: PresenceState }
  /** The member joined the chat, or left it (or was removed): member lists and counts are read again. */
  | { kind: 'membership'; userId: number; name: string; change: 'joined' | 'left' };

/** A value as it came off the wire (a sealed body, a frame), checked field by field; undefined if it is not one. */
export function toChatEvent(value: unknown): ChatEvent | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const userId = o.userId;
  const name = o.name;
  if (typeof userId !== 'number' || !Number.isSafeInteger(userId) || userId < 1) return undefined;
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) return undefined;
  switch (o.kind) {
    case 'typing':
      return typeof o.on === 'boolean' ? { kind: 'typing', userId, name, on: o.on } : undefined;
    case 'read':
      return typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq >= 0 ? { kind: 'read', userId, name, seq: o.seq } : undefined;
    case 'presence':
      return o.state === 'online' || o.state === 'away' || o.state === 'offline' ? { kind: 'presence', userId, name, state: o.state } : undefined;
    case 'membership':
      return o.change === 'joined' || o.change === 'left' ? { kind: 'membership', userId, name, change: o.change } : undefined;
    default:
      return undefined;
  }
}

/** Events in a list: every one valid, or undefined (a sealed body the server made is never partly wrong). */
export function toChatEvents(value: unknown, max = MAX_EVENTS_PER_BATCH): ChatEvent[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) return undefined;
  const events: ChatEvent[] = [];
  for (const item of value) {
    const event = toChatEvent(item);
    if (!event) return undefined;
    events.push(event);
  }
  return events;
}

/** Events in one datagram or frame, at most. */
export const MAX_EVENTS_PER_BATCH = 32;

/**
 * What the HTTP API says about accounts and chats, as JSON: the server builds these and the
 * client reads them, so both use these declarations (docs/api.md; the TypeBox schemas in
 * server/http/schemas.ts check the same shapes on the wire). Messages: message.ts.
 */

export interface User {
  id: number;
  name: string;
  email: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface Session {
  token: string;
  expiresAt: string;
  user: User;
}

/** Where a chat's messages are multicast, and the key of its current epoch: members only. */
export interface ChatMulticast {
  group: string;
  port: number;
  /** Names the chat in datagram headers (hex), unrelated to its code: receivers route by it. */
  streamId: string;
  keyEpoch: number;
  /** AES-256-GCM key of the current epoch, base64: a secret shared by the chat's members. */
  key: string;
}

export interface Chat {
  /** XXXXX-XXXXX */
  code: string;
  name: string;
  createdAt: string;
  createdBy: number;
  latestSeq: number;
  memberCount: number;
  multicast: ChatMulticast;
  /** The caller's own read position: the highest seq they have seen (0: none), the same on every device. */
  readSeq: number;
  /** How many messages after `readSeq` others sent: the caller's own messages are never unread. */
  unreadCount: number;
}

export interface Member {
  id: number;
  name: string;
  joinedAt: string;
  /** Whether this member created the chat (and may remove others). */
  creator: boolean;
  presence: 'online' | 'away' | 'offline';
  /** When the member was last online (ISO 8601); null if the server has not seen them since it started. */
  lastSeenAt: string | null;
  /** The member's read position: only for members who share receipts, and always for the caller. */
  readSeq?: number;
}

/** PUT /api/chats/{code}/read: the caller's read position after the update (it only moves forward). */
export interface ReadPosition {
  chat: string;
  seq: number;
}

/** GET and PUT /api/me/settings. */
export interface Settings {
  /** Share read positions with other members (default true); off, they are shown to nobody. */
  receipts: boolean;
}

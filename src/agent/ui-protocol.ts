/**
 * What the local agent and its web UI say to each other over the WebSocket, as JSON. The UI
 * sends requests (each with an id it chose); the agent answers each with a reply carrying the
 * same id, and pushes events on its own: the session, the chat list, live messages, acks, send
 * failures, the connection state, how each chat's messages arrive, each chat's events (typing, read
 * positions, presence), and a chat taken away (the user removed from it). Types and pure constants only, so that web/ can import them too
 * (what a tab sends is typed by its schemas in ui-schemas.ts, imported here as types only).
 *
 * The UI never sees the session token or a chat's key: the agent holds them.
 */

import type { ErrorCode } from '../protocol/errors.js';
import type { ChatEvent, PresenceState } from '../protocol/events.js';
import type { ChatMessage } from '../protocol/message.js';
import type { Member, Settings } from '../protocol/resources.js';
import type { Static } from 'typebox';
import type { TabAdmissionSchema, TabPublicKeySchema, UiRequestOf, UiRequestSchemas } from './ui-schemas.js';

export interface UiUser {
  id: number;
  name: string;
  email: string;
}

/** A message as the UI shows it: the one shape every part uses. */

export interface UiChat {
  /** XXXXX-XXXXX */
  code: string;
  name: string;
  memberCount: number;
  latestSeq: number;
  /** Messages from others after the last one the user has seen. */
  unread: number;
  /** The highest seq the user has seen here (on any device: the server keeps it). */
  readSeq: number;
  /** The creator's user id: they may remove members. */
  createdBy: number;
  /** How this chat's messages reach this client; absent until the receiver's first verdict. */
  delivery?: UiDelivery;
}

/**
 * How a chat's messages reach this client: by multicast, or pushed by the server over the TCP
 * connection because multicast does not reach this computer (`reason` says why, for the person).
 */
export interface UiDelivery {
  path: 'multicast' | 'server';
  /** A sentence for the person: why messages come through the server; '' on multicast. */
  reason: string;
}

/** A member as the member list shows them; `readSeq` only for members who share receipts (and oneself). */
export type UiMember = Member;

export type UiPresence = PresenceState;

/** The user's own settings (receipts off: private mode). */
export type UiSettings = Settings;

export interface UiError {
  /** A code of the catalogue (src/protocol/errors.ts): a server's, or a client's own such as UNREACHABLE or SERVER_KEY_CHANGED. */
  code: ErrorCode;
  message: string;
  /** The form field the error is about, when there is one. */
  field?: string;
}

/** The requests, each as its schema in ui-schemas.ts says (the agent validates them against it). */
export type UiRequestType = keyof UiRequestSchemas;
export type UiRequest = { [T in UiRequestType]: UiRequestOf<T> }[UiRequestType];

export interface UiResults {
  register: { user: UiUser };
  login: { user: UiUser };
  /** `loggedOut` false: the server could not end the session, so the login is kept (`notEnded` says why). */
  logout: { loggedOut: boolean; notEnded?: UiSessionNotEnded };
  chats: { chats: UiChat[] };
  create: { chat: UiChat };
  join: { chat: UiChat };
  leave: Record<string, never>;
  open: { messages: ChatMessage[]; latestSeq: number };
  older: { messages: ChatMessage[]; latestSeq: number };
  send: Record<string, never>;
  read: Record<string, never>;
  members: { members: UiMember[] };
  removeMember: Record<string, never>;
  typing: Record<string, never>;
  presence: Record<string, never>;
  settings: UiSettings;
  updateSettings: UiSettings;
}

export type UiReply =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: UiError };

/**
 * A session the server could not end (it did not answer, or refused): it stays valid there
 * until it expires, whatever this client forgets.
 */
export interface UiSessionNotEnded {
  /** Why, as a sentence ("Cannot reach the server at … (connection refused)."). */
  reason: string;
  /** When it expires by itself (ISO 8601), when known. */
  expiresAt?: string;
}

/** The session a login replaced in the profile, which the server could not end. */
export interface UiReplacedSession extends UiSessionNotEnded {
  server: string;
  user?: UiUser;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export type UiPush =
  /** Sent when the socket opens and whenever the login changes. */
  | {
      type: 'session';
      user: UiUser | null;
      server: string;
      notice?: string;
      /** No login ever succeeded with this profile on this server: the UI starts on Register. */
      firstTime?: boolean;
      /** Logged out, and the client was started for this account (`chorus client --email`, `up --demo`): the UI starts on the login screen with it filled in. */
      loginEmail?: string;
      /** The command that starts the client again, as the person ran it ("npm start", "chorus client"). */
      relaunch?: string;
      /** After a login: the session it replaced in the profile could not be ended on its server. */
      replacedSession?: UiReplacedSession;
    }
  /** The whole chat list, sent when it changes as a whole (login, join, leave). */
  | { type: 'chats'; chats: UiChat[] }
  /** One chat's summary changed (a new message, a read). */
  | { type: 'chat'; chat: UiChat }
  | { type: 'message'; message: ChatMessage }
  | { type: 'ack'; chat: string; clientMsgId: string; seq: number; sentAt: string }
  | { type: 'sendFailed'; chat: string; clientMsgId: string; error: UiError }
  /** The link between the agent and the server. */
  | { type: 'connection'; state: ConnectionState; detail?: string }
  /** A chat's events as the server sent them: read positions moving, members' presence (typing too, but see `typing`). */
  | { type: 'events'; chat: string; events: ChatEvent[] }
  /** Who is typing in a chat now, in the order they started (never the user): expiry is the agent's. */
  | { type: 'typing'; chat: string; names: string[] }
  /** A chat's delivery path, at its first verdict and at every change (also in UiChat.delivery). */
  | ({ type: 'delivery'; chat: string } & UiDelivery)
  /**
   * The user is no longer in a chat, and did not leave it from this client: sent before the
   * `chats` push without it, so that a tab can offer back what was written there and not sent.
   */
  | { type: 'removed'; chat: string; name: string; reason: UiRemovalReason };

/**
 * Why a chat was taken from the list. `banned`: its creator removed the user; `left`: the user
 * left it elsewhere (another device, the CLI); `removed`: no longer a member, and which of the
 * two could not be asked; `gone`: the server has no such chat.
 */
export type UiRemovalReason = 'banned' | 'left' | 'removed' | 'gone';

export type AgentToUi = UiReply | UiPush | AgentChallenge | AgentAdmitted;

/**
 * The admission handshake, before anything else on the socket (see gate.ts). The agent speaks
 * first with a fresh nonce; the tab answers, within ADMISSION_DEADLINE_MS, with its public key
 * and a signature over tabProofText(its origin, the nonce): `enrol` with the one-time ticket of
 * a launch link (the key is then remembered), `prove` with a key enrolled before. Anything else
 * closes the socket with one of the ADMISSION_* codes.
 */
export interface AgentChallenge {
  type: 'challenge';
  nonce: string;
}

export interface AgentAdmitted {
  type: 'admitted';
}

/** An ECDSA P-256 public key as JWK coordinates (base64url). */
export type TabPublicKey = Static<TabPublicKeySchema>;

export type TabAdmission = Static<TabAdmissionSchema>;

/** What a tab signs (ECDSA P-256, SHA-256, IEEE P1363 r||s, base64url): bound to the page's origin and the agent's nonce. */
export function tabProofText(origin: string, nonce: string): string {
  return `chorus-agent-tab-v1\n${origin}\n${nonce}`;
}

export const ADMISSION_DEADLINE_MS = 5000;
/** WebSocket close codes (the 4000s are the application's). */
export const ADMISSION_REFUSED = 4401;
export const ADMISSION_LINK_USED = 4403;
export const ADMISSION_TIMEOUT = 4408;

/** Largest WebSocket message either side sends. */
export const MAX_UI_FRAME_BYTES = 256 * 1024;
/** History page sizes. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

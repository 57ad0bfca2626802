import { type Static, Type } from 'typebox';

/**
 * What a tab sends the agent over the WebSocket, as TypeBox schemas: its admission, then its
 * requests. One source for their types (`TabAdmission` and `UiRequest` in ui-protocol.ts) and
 * for the validators the agent checks them with (gate.ts, ui-requests.ts). Only the agent
 * loads this file; web/ sees just the types.
 *
 * Every request carries the id the UI chose, which its reply repeats. The socket is reachable
 * only by the user's own admitted tabs, but a request is still input: strings are bounded
 * (longer than any form sends) and numbers are whole.
 */

const Text = Type.String({ maxLength: 100_000 });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Id = Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER });

/** An ECDSA P-256 public key as JWK coordinates (base64url, 32 bytes each). */
export const TAB_PUBLIC_KEY = Type.Object({ x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), y: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) });

/**
 * The tab's answer to the agent's challenge (see gate.ts): `enrol` a new key with the one-time
 * ticket of a launch link, or `prove` a key enrolled before. The signature's form is checked
 * when it is verified, after an enrolment's ticket is spent.
 */
export const TAB_ADMISSION = Type.Union([
  Type.Object({ type: Type.Literal('enrol'), ticket: Text, publicKey: TAB_PUBLIC_KEY, signature: Text }),
  Type.Object({ type: Type.Literal('prove'), publicKey: TAB_PUBLIC_KEY, signature: Text }),
]);

/** Each request type's schema, by its `type`. */
export const UI_REQUEST_SCHEMAS = {
  register: Type.Object({ id: Id, type: Type.Literal('register'), name: Text, email: Text, password: Text }),
  login: Type.Object({ id: Id, type: Type.Literal('login'), email: Text, password: Text }),
  /**
   * Ends the session on the server, then forgets it. When the server cannot end it, the login is
   * kept (the result says why) unless `forget`: forgotten here all the same.
   */
  logout: Type.Object({ id: Id, type: Type.Literal('logout'), forget: Type.Optional(Type.Boolean()) }),
  chats: Type.Object({ id: Id, type: Type.Literal('chats') }),
  create: Type.Object({ id: Id, type: Type.Literal('create'), name: Text }),
  join: Type.Object({ id: Id, type: Type.Literal('join'), code: Text }),
  leave: Type.Object({ id: Id, type: Type.Literal('leave'), code: Text }),
  /** The latest page of a chat's history; live messages after it arrive as pushes. */
  open: Type.Object({ id: Id, type: Type.Literal('open'), code: Text, limit: Type.Optional(Count) }),
  /** The page of history just before `before`. */
  older: Type.Object({ id: Id, type: Type.Literal('older'), code: Text, before: Count, limit: Type.Optional(Count) }),
  /** Replies at once; the outcome arrives as an `ack` or `sendFailed` push. */
  send: Type.Object({ id: Id, type: Type.Literal('send'), code: Text, text: Text, clientMsgId: Text }),
  /** The user has seen everything up to `seq` in this chat. */
  read: Type.Object({ id: Id, type: Type.Literal('read'), code: Text, seq: Count }),
  /** Every member of a chat, with presence, last seen, the creator marked and shared read positions. */
  members: Type.Object({ id: Id, type: Type.Literal('members'), code: Text }),
  /** The chat's creator removes a member. */
  removeMember: Type.Object({ id: Id, type: Type.Literal('removeMember'), code: Text, userId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) }),
  /** `on`: a keystroke in the chat's compose box; false: typing stopped (the box was cleared). The agent runs the typing policy. */
  typing: Type.Object({ id: Id, type: Type.Literal('typing'), code: Text, on: Type.Boolean() }),
  /** This tab's own state: active (focused, visible, used in the last 5 minutes) or away. The user is away only if every tab is. */
  presence: Type.Object({ id: Id, type: Type.Literal('presence'), state: Type.Union([Type.Literal('active'), Type.Literal('away')]) }),
  settings: Type.Object({ id: Id, type: Type.Literal('settings') }),
  updateSettings: Type.Object({ id: Id, type: Type.Literal('updateSettings'), receipts: Type.Boolean() }),
};

/** What every request has, whatever its type: read first, so that even a bad request can be answered. */
export const UI_REQUEST_ENVELOPE = Type.Object({ id: Id, type: Type.String() });

export type TabPublicKeySchema = typeof TAB_PUBLIC_KEY;
export type TabAdmissionSchema = typeof TAB_ADMISSION;
export type UiRequestSchemas = typeof UI_REQUEST_SCHEMAS;
export type UiRequestOf<T extends keyof UiRequestSchemas> = Static<UiRequestSchemas[T]>;

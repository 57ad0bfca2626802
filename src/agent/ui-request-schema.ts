import { type Static, Type } from 'typebox';

/**
 * The UI's requests over the WebSocket, as TypeBox schemas: one source for their type
 * (`UiRequest` in ui-protocol.ts) and for the validator the agent checks each one with
 * (ui-requests.ts). Only the agent loads this file; web/ sees just the type.
 *
 * Every request carries the id the UI chose, which its reply repeats. The socket is reachable
 * only by the user's own admitted tabs, but a request is still input: strings are bounded
 * (longer than any form sends) and numbers are whole.
 */

const Text = Type.String({ maxLength: 100_000 });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Id = Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER });

/** Each request type's schema, by its `type`. */
export const UI_REQUEST_SCHEMAS = {
  register: Type.Object({ id: Id, type: Type.Literal('register'), name: Text, email: Text, password: Text }),
  login: Type.Object({ id: Id, type: Type.Literal('login'), email: Text, password: Text }),
  logout: Type.Object({ id: Id, type: Type.Literal('logout') }),
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
};

/** What every request has, whatever its type: read first, so that even a bad request can be answered. */
export const UI_REQUEST_ENVELOPE = Type.Object({ id: Id, type: Type.String() });

export type UiRequestSchemas = typeof UI_REQUEST_SCHEMAS;
export type UiRequestOf<T extends keyof UiRequestSchemas> = Static<UiRequestSchemas[T]>;

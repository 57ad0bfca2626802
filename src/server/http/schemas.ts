import { Type } from 'typebox';

/** TypeBox schemas shared by the routes; they also make the OpenAPI document. */

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    field: Type.Optional(Type.String()),
  },
  { $id: 'Problem', description: 'RFC 9457 problem document; `code` is from the Chorus error catalogue' },
);

export const User = Type.Object(
  { id: Type.Integer(), name: Type.String(), email: Type.String(), createdAt: Type.String({ format: 'date-time' }) },
  { $id: 'User' },
);

export const Session = Type.Object(
  { token: Type.String(), expiresAt: Type.String({ format: 'date-time' }), user: Type.Ref('User') },
  { $id: 'Session' },
);

export const Chat = Type.Object(
  {
    code: Type.String({ description: 'XXXXX-XXXXX; accepted with or without the dash, in any case' }),
    name: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.Integer(),
    latestSeq: Type.Integer(),
    memberCount: Type.Integer(),
    multicast: Type.Object({
      group: Type.String({ description: 'IPv4 multicast group of this chat' }),
      port: Type.Integer(),
      streamId: Type.String({ pattern: '^[0-9a-f]{20}$', description: "names the chat in every datagram header (10 bytes, hex); unrelated to the code" }),
      keyEpoch: Type.Integer(),
      key: Type.String({ description: 'AES-256-GCM key of the current epoch, base64' }),
    }),
    readSeq: Type.Integer({ description: "the caller's own read position (0: none)" }),
    unreadCount: Type.Integer({ description: "how many messages after readSeq others sent (the caller's own are never unread)" }),
  },
  { $id: 'Chat' },
);

export const Member = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    joinedAt: Type.String({ format: 'date-time' }),
    creator: Type.Boolean(),
    presence: Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')]),
    lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when last online; null if not seen since the server started (kept in memory)' }),
    readSeq: Type.Optional(Type.Integer({ description: 'only for members who share receipts, and for the caller' })),
  },
  { $id: 'Member' },
);

export const ReadPosition = Type.Object({ chat: Type.String(), seq: Type.Integer() }, { $id: 'ReadPosition' });

export const Settings = Type.Object(
  { receipts: Type.Boolean({ description: 'share read positions with other members; off, they are shown to nobody' }) },
  { $id: 'Settings' },
);

export const Message = Type.Object(
  {
    chat: Type.String(),
    seq: Type.Integer(),
    sender: Type.Object({ id: Type.Integer(), name: Type.String() }),
    text: Type.String(),
    sentAt: Type.String({ format: 'date-time' }),
    clientMsgId: Type.String(),
  },
  { $id: 'Message' },
);

export const ServerKey = Type.Object(
  {
    algorithm: Type.Literal('Ed25519'),
    publicKey: Type.String({ description: 'raw 32-byte public key, base64' }),
    fingerprint: Type.String({ description: 'SHA-256 of the raw public key, hex' }),
  },
  { $id: 'ServerKey' },
);

export const SHARED_SCHEMAS = [Problem, User, Session, Chat, Member, Message, ServerKey, ReadPosition, Settings];

export const ChatCodeParams = Type.Object({ code: Type.String({ maxLength: 64 }) });

/** Error answers every route can give, for the OpenAPI document. */
export const PROBLEMS = { '4xx': Type.Ref('Problem'), '5xx': Type.Ref('Problem') };

export const BEARER = [{ bearer: [] }];

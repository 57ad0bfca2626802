/**
 * The one catalogue of Chorus error codes. HTTP problem documents and TCP error frames both
 * carry these codes, so a client can handle a refusal the same way whichever path it took.
 * Add a code here before raising it anywhere; docs/protocol.md lists them.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  INVALID_FIELD: { status: 400, title: 'Invalid field' },
  BAD_JSON: { status: 400, title: 'Malformed JSON' },
  UNAUTHENTICATED: { status: 401, title: 'Not logged in' },
  SESSION_ENDED: { status: 401, title: 'Your session ended (logged out or expired)' },
  WRONG_CREDENTIALS: { status: 401, title: 'Wrong email or password' },
  NOT_A_MEMBER: { status: 403, title: 'Not a member of this chat' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  BANNED: { status: 403, title: 'You were removed from this chat by its creator' },
  CHAT_NOT_FOUND: { status: 404, title: 'No such chat' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  EMAIL_TAKEN: { status: 409, title: 'Email already registered' },
  CLIENT_ID_REUSED: { status: 409, title: 'Message id already used for another message' },
  CHAT_FULL: { status: 409, title: 'The chat has as many members as it may have' },
  TOO_MANY_CHATS: { status: 409, title: 'You have created as many chats as you may' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  TOO_MANY_REQUESTS: { status: 429, title: 'Too many attempts' },
  RATE_LIMITED: { status: 429, title: 'Sending too fast' },
  TOO_MANY_IN_FLIGHT: { status: 429, title: 'Too many messages in flight' },
  TOO_MANY_CONNECTIONS: { status: 429, title: 'Too many connections' },
  MULTICAST_EXHAUSTED: { status: 503, title: 'No free multicast group and port' },
  UNAVAILABLE: { status: 503, title: 'Temporarily unavailable; try again shortly' },
  UNSUPPORTED_VERSION: { status: 400, title: 'Unsupported protocol version' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An expected, typed refusal: the message is safe to show to the user. */
export class ChorusError extends Error {
  override readonly name = 'ChorusError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].title,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = ERRORS[code].status;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

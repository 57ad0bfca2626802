/**
 * The one catalogue of Chorus error codes, the server's and the clients' alike: each is declared
 * here once, with its HTTP status (wire codes only), its title and the message its throw sites
 * use (a sentence, or a function of the details it names), as Fastify's lib/errors.js declares
 * its errors. Add a code here before raising it anywhere.
 *
 * `wire` codes travel: HTTP problem documents and TCP error/refusal frames carry them, so a
 * client handles a refusal the same way whichever path it took (docs/protocol.md lists them).
 * The others are local to a client (the API client, the agent, the web UI, the CLI) and never
 * leave it: a frame or problem document naming one is refused as malformed.
 */

type Template = string | ((...details: never[]) => string);

interface WireSpec<M extends Template> {
  readonly wire: true;
  readonly status: number;
  readonly title: string;
  readonly message: M;
}

interface LocalSpec<M extends Template> {
  readonly wire: false;
  readonly status?: undefined;
  readonly title: string;
  readonly message: M;
}

/** A code servers send; without a message template the title is the message. */
function wire<M extends Template = string>(status: number, title: string, message?: M): WireSpec<M> {
  return { wire: true, status, title, message: message ?? (title as M) };
}

/** A code a client raises itself and shows; no server ever sends it. */
function local<M extends Template = string>(title: string, message?: M): LocalSpec<M> {
  return { wire: false, title, message: message ?? (title as M) };
}

export const ERRORS = {
  BAD_REQUEST: wire(400, 'Bad request'),
  INVALID_FIELD: wire(400, 'Invalid field'),
  BAD_JSON: wire(400, 'Malformed JSON'),
  UNAUTHENTICATED: wire(401, 'Not logged in'),
  SESSION_ENDED: wire(401, 'Your session ended (logged out or expired)'),
  WRONG_CREDENTIALS: wire(401, 'Wrong email or password'),
  NOT_A_MEMBER: wire(403, 'Not a member of this chat', (code: string) => `You are not a member of chat ${code}`),
  FORBIDDEN: wire(403, 'Not allowed'),
  BANNED: wire(403, 'You were removed from this chat by its creator', (code: string) => `You were removed from chat ${code} by its creator, and may not join it again`),
  CHAT_NOT_FOUND: wire(404, 'No such chat', (code: string) => `No chat with code ${code}`),
  NOT_FOUND: wire(404, 'Not found'),
  EMAIL_TAKEN: wire(409, 'Email already registered', 'An account with this email address already exists'),
  CLIENT_ID_REUSED: wire(409, 'Message id already used for another message'),
  CHAT_FULL: wire(409, 'The chat has as many members as it may have', (code: string, members: number) => `Chat ${code} has ${members} members, as many as this server allows`),
  TOO_MANY_CHATS: wire(409, 'You have created as many chats as you may', (limit: number) => `You have created ${limit} chats, as many as this server allows one person`),
  PAYLOAD_TOO_LARGE: wire(413, 'Payload too large'),
  UNSUPPORTED_MEDIA_TYPE: wire(415, 'Unsupported media type'),
  TOO_MANY_REQUESTS: wire(429, 'Too many attempts'),
  RATE_LIMITED: wire(429, 'Sending too fast'),
  TOO_MANY_IN_FLIGHT: wire(429, 'Too many messages in flight'),
  TOO_MANY_CONNECTIONS: wire(429, 'Too many connections'),
  MULTICAST_EXHAUSTED: wire(
    503,
    'No free multicast group and port',
    'No free multicast group and port left for a new chat; widen --multicast-groups or --multicast-ports',
  ),
  UNAVAILABLE: wire(503, 'Temporarily unavailable; try again shortly'),
  UNSUPPORTED_VERSION: wire(400, 'Unsupported protocol version'),
  INTERNAL: wire(500, 'Internal error'),

  // Local to a client. Messages written as clauses (lowercase, no full stop) follow "chorus: "
  // on the CLI; the agent makes sentences of them for the UI (agent/ui-errors.ts).
  UNREACHABLE: local(
    'Cannot reach the server',
    (server: string, reason?: string) => `cannot reach the server at ${server}${reason ? ` (${reason})` : ''}`,
  ),
  CERTIFICATE_CHANGED: local(
    "The server's certificate changed",
    (server: string, expected: string, got: string) =>
      `the server's certificate changed: expected ${expected}, got ${got} ` +
      `(someone may be impersonating ${server}; if its operator replaced the certificate on purpose, ` +
      `check the new fingerprint with them and log in again with --fingerprint)`,
  ),
  SERVER_KEY_CHANGED: local(
    "The server's identity key changed",
    (server: string, fingerprint: string, profileFile: string) =>
      `The server at ${server} presents a different identity key (fingerprint ${fingerprint}) from the one this profile trusted before. ` +
      `Someone may be impersonating it. If its operator reinstalled it on purpose, remove "serverKey" from ${profileFile} and log in again.`,
  ),
  NOT_LOGGED_IN: local('Not logged in', 'Log in first.'),
  ALREADY_LOGGED_IN: local('Already logged in', (name: string) => `Already logged in as ${name}; log out first.`),
  BAD_UI_REQUEST: local('Malformed request from the UI'),
  UNKNOWN_CHAT: local('Not in this chat', (code: string) => `You are not in chat ${code}`),
  LINK_LOST: local('Lost contact with the Chorus client', 'Lost contact with the Chorus client.'),
  PROFILE_INVALID: local('The profile cannot be used'),
  UI_NOT_BUILT: local('The web UI is not built'),
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** The codes that travel in HTTP problem documents and TCP frames. */
export type WireErrorCode = { [C in ErrorCode]: (typeof ERRORS)[C]['wire'] extends true ? C : never }[ErrorCode];

/** The codes a client raises itself and never sends or accepts from the network. */
export type LocalErrorCode = Exclude<ErrorCode, WireErrorCode>;

/** What a code's message template needs: nothing for a fixed sentence. */
export type MessageDetails<C extends ErrorCode> = (typeof ERRORS)[C]['message'] extends (...details: infer D) => string ? D : [];

/** The catalogue's message for `code`, with its details filled in. */
export function errorMessage<C extends ErrorCode>(code: C, ...details: MessageDetails<C>): string {
  const template: Template = ERRORS[code].message;
  return typeof template === 'string' ? template : (template as (...d: unknown[]) => string)(...details);
}

/** The message when a site gives none: the template's sentence, or the title when it needs details. */
function defaultMessage(code: ErrorCode): string {
  const { message, title } = ERRORS[code];
  return typeof message === 'string' ? message : title;
}

/**
 * The one error type for an expected, typed failure, anywhere in Chorus: a server's refusal
 * (raised by the server, or received by a client over HTTP or TCP) or a client's own (the
 * server cannot be reached, its certificate changed, not logged in...). The message is safe to
 * show to the user. Callers test `instanceof ChorusError` and switch on `code`.
 */
export class ChorusError extends Error {
  override readonly name: string = 'ChorusError';
  /** The code's HTTP status; undefined for a code local to a client. */
  readonly status: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string = defaultMessage(code),
    readonly field?: string,
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = ERRORS[code].status;
  }
}

/** A ChorusError with the catalogue's message for `code`. */
export function chorusError<C extends ErrorCode>(code: C, ...details: MessageDetails<C>): ChorusError {
  return new ChorusError(code, errorMessage(code, ...details));
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** May `value` travel in a frame or a problem document? A client's local code may not. */
export function isWireCode(value: unknown): value is WireErrorCode {
  return isErrorCode(value) && ERRORS[value].wire;
}

/** The code to send for `code`: itself on the wire, INTERNAL for a local code (which never should get there). */
export function wireCode(code: ErrorCode): WireErrorCode {
  return isWireCode(code) ? code : 'INTERNAL';
}

/** Every wire code: what docs/protocol.md lists, and what a frame or problem document may carry. */
export const WIRE_ERROR_CODES: readonly WireErrorCode[] = (Object.keys(ERRORS) as ErrorCode[]).filter(isWireCode);

/**
 * An error's message as a clause inside a sentence ("chorus: no chat with code X", "…: cannot
 * reach the server at …"): its first letter lowered where it starts a plain word, never an
 * acronym's ("TLS …" stays).
 */
export function messageAsClause(text: string): string {
  return text.length > 1 && /^[A-Z](?:[a-z]| [a-z])/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

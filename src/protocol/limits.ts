/**
 * Sizes and times every part of Chorus agrees on. docs/protocol.md explains each one; change
 * them there and here together.
 */

/**
 * Version spoken in TCP `hello`/`welcome` frames and in the datagram header. 2: the header names
 * the chat by its stream id, not its code (1), so a client of version 1 would find no datagram
 * of its chats: it is refused at `hello` instead, and its receivers drop version 2 datagrams.
 */
export const PROTOCOL_VERSION = 2;

/** Largest TCP frame body (the JSON after the 4-byte length). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Largest message text, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16 * 1024;
/**
 * Largest message text in its JSON form (escapes included, quotes not), as every frame, history
 * page and UI message carries it: a control character is 6 bytes there, and a text of them
 * must not weigh six times its size on every path.
 */
export const MAX_TEXT_JSON_BYTES = 2 * MAX_TEXT_BYTES;
/** Client message ids: 1..64 characters of [A-Za-z0-9_-]. */
export const MAX_CLIENT_MSG_ID_LENGTH = 64;
/** Chat codes as a client may type them in a frame (canonical, dashed, spaced…), in characters. */
export const MAX_CHAT_INPUT_LENGTH = 32;
/** Session token in `hello`, in characters. */
export const MAX_TOKEN_LENGTH = 512;
/** Sender name in a `message` frame, in characters (names are at most 64 code points). */
export const MAX_NAME_LENGTH = 256;
/** Human-readable message of an `error` frame, in characters. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/** Largest multicast datagram: well under any Ethernet MTU, so it is never IP-fragmented. */
export const MAX_DATAGRAM_BYTES = 1200;

/** Largest `retryAfterMs` an error frame may carry: an hour. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Sends on one connection that may await their ack at once. */
export const MAX_IN_FLIGHT_PER_CONNECTION = 1024;
/** A connection that has not said `hello` by then is closed. */
export const AUTH_TIMEOUT_MS = 5000;
/** A frame begun must be complete within this (the server's default; operators may change it). */
export const FRAME_TIMEOUT_MS = 10_000;
/** A connection silent for this long is closed. */
export const IDLE_TIMEOUT_MS = 60_000;
/** Clients ping at this interval, well inside IDLE_TIMEOUT_MS. */
export const KEEPALIVE_INTERVAL_MS = 15_000;

/**
 * Sizes and times every part of Chorus agrees on. docs/protocol.md explains each one; change
 * them there and here together.
 */

/**
 * Version spoken in TCP `hello`/`welcome` frames. 3 adds delivery by server push (`probe`,
 * `watch`, `unwatch`; `probed`, `messages`, `refusal`); a version 2 client never sends them, so
 * the server still welcomes it (MIN_PROTOCOL_VERSION). Version 1 named chats by their code in
 * datagram headers, so a client of version 1 would find no datagram of its chats: it is refused.
 */
export const PROTOCOL_VERSION = 3;
/** The oldest `hello` version the server still welcomes. */
export const MIN_PROTOCOL_VERSION = 2;
/**
 * Version in every datagram header. 2: the header names the chat by its stream id, not its code.
 * The PROBE type came without a new version: receivers that do not know it drop it, harmlessly.
 */
export const DATAGRAM_VERSION = 2;

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

/** Messages in one history page: what a client gets without asking, and the most it may ask for. */
export const HISTORY_PAGE_DEFAULT = 100;
export const HISTORY_PAGE_MAX = 500;

/**
 * Largest multicast datagram any network takes: well under any Ethernet MTU, so it is never
 * IP-fragmented. EVENTS datagrams keep to it always, DATA where the interface's MTU is not known
 * to allow more (server/datagram-size.ts).
 */
export const MAX_DATAGRAM_BYTES = 1200;
/**
 * Largest DATA datagram, where the multicast interface's MTU allows it (loopback, jumbo frames).
 * Receivers take any size a UDP datagram may have; past this one, a lost datagram costs too many
 * messages' repair, and Linux's default receive buffer (208 KiB) would hold too few.
 */
export const LARGEST_DATAGRAM_BYTES = 16 * 1024;
/**
 * Most datagrams one VOUCH vouches for: its 32 SHA-256 digests fit a datagram (1128 bytes), and
 * one signature check then stands for up to 32 datagrams (about 380 short messages).
 */
export const MAX_VOUCHED_DATAGRAMS = 32;
/**
 * How many vouched digests a receiver keeps per chat, and for how long: a VOUCH goes just before
 * the datagrams it names, which the pace may spread over a few hundred milliseconds at most.
 */
export const MAX_VOUCHED_DIGESTS_KEPT = 4096;
export const VOUCHED_DIGEST_TTL_MS = 30_000;

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

// ---- delivery paths (docs/protocol.md, Delivery: multicast or server push) ----

/** A probe whose datagram has not come back by then failed: multicast does not reach us (now). */
export const PROBE_TIMEOUT_MS = 2000;
/** At the start, a second probe goes out this long after the first, in case one datagram was lost. */
export const PROBE_RETRY_MS = 700;
/** On multicast, a chat is probed this often: a probe also tells how far multicast has got. */
export const PROBE_INTERVAL_MS = 10_000;
/** Probes failed in a row that move a chat on multicast to push (one lost probe is not a verdict). */
export const PROBE_FAILURES_TO_PUSH = 2;
/** On push, how often multicast is tried again: gently, it is likely still blocked. */
export const PROBE_BACK_INTERVAL_MS = 30_000;
/** Once a probe on push succeeds, probes this far apart confirm that multicast keeps working. */
export const PROBE_CONFIRM_INTERVAL_MS = 2000;
/** Successful probes in a row, on push, before a chat goes back to multicast (hysteresis). */
export const PROBE_SUCCESSES_TO_MULTICAST = 5;
/** A probe nonce: 12 random bytes, base64url without padding (16 characters). */
export const PROBE_NONCE_BYTES = 12;
/**
 * Probes one user may ask for: a token bucket shared by the user's connections, as for sends.
 * Each probe is a datagram to every member of a chat. The burst covers a first probe of every
 * chat a user may be in (100) twice over; the rate, a chat probed every PROBE_INTERVAL_MS.
 */
export const PROBE_BURST = 250;
export const PROBE_RATE_PER_SECOND = 20;
/** Chats one connection may have pushed to it at once. */
export const MAX_WATCHED_PER_CONNECTION = 1000;
/** A `messages` frame is filled up to about this many bytes of JSON (under MAX_FRAME_BYTES). */
export const PUSH_FRAME_TARGET_BYTES = 48 * 1024;
/** Push stops writing to a connection with this much unsent; it catches up from the log once it drains. */
export const PUSH_HIGH_WATER_BYTES = 512 * 1024;

// ---- presence, typing and read receipts (docs/protocol.md) ----

/** While someone types, `typing on` is sent again this often. */
export const TYPING_REFRESH_MS = 10_000;
/** Typing stops (`typing off`) after this long without a keystroke. */
export const TYPING_IDLE_MS = 4000;
/** A receiver forgets "X is typing" this long after the last `on` it heard: a lost `off` or a crashed client leaves no ghost. */
export const TYPING_EXPIRY_MS = 15_000;
/** Chats with more members than this carry no typing events. */
export const MAX_TYPING_MEMBERS = 100;
/** A client idle this long (or with its window hidden) says it is away. */
export const AWAY_AFTER_IDLE_MS = 5 * 60_000;
/** A user whose last connection has been gone this long is offline (twice the keep-alive). */
export const OFFLINE_AFTER_MS = 2 * 15_000;
/** Read positions are written to the store at most this often per member and chat (coalesced). */
export const READ_FLUSH_MS = 1000;
/** Typing and presence frames one user may send: a token bucket shared by the user's connections. */
export const EVENT_BURST = 20;
export const EVENT_RATE_PER_SECOND = 5;

// ---- receiver feedback to the multicast pace (docs/protocol.md, Progress reports) ----

/** A receiver reports a chat's progress at most this often, and only when it had to repair. */
export const PROGRESS_INTERVAL_MS = 1000;
/** Largest `repaired` count one `progress` frame may carry (a client caps what it says). */
export const MAX_PROGRESS_REPAIRED = 1_000_000;
/**
 * `progress` frames one connection may send: a token bucket per connection. A receiver sends one
 * per chat a second at most, and only for chats that repair; frames past the bucket are dropped
 * without an answer (and counted).
 */
export const PROGRESS_BURST = 20;
export const PROGRESS_RATE_PER_SECOND = 5;

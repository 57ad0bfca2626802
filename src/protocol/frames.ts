import { ChorusError, type WireErrorCode, isWireCode } from './errors.js';
import { type ChatEvent, toChatEvents } from './events.js';
import type { ChatMessage } from './message.js';
import {
  MAX_CHAT_INPUT_LENGTH,
  MAX_CLIENT_MSG_ID_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FRAME_BYTES,
  MAX_NAME_LENGTH,
  MAX_PROGRESS_REPAIRED,
  MAX_RETRY_AFTER_MS,
  MAX_TOKEN_LENGTH,
  PROBE_NONCE_BYTES,
} from './limits.js';

/**
 * TCP frames: a 4-byte big-endian length N, then N bytes of UTF-8 JSON holding one object whose
 * `t` says what it is. docs/protocol.md describes each frame and the conversation.
 */

/** client → server, first frame on a connection. */
export interface HelloFrame {
  t: 'hello';
  v: number;
  token: string;
}
/** server → client, the answer to a good `hello`. */
export interface WelcomeFrame {
  t: 'welcome';
  v: number;
  userId: number;
  /**
   * The server takes `progress` frames. Said without a new version: a client that does not know
   * the field drops it, and a client that knows it sends no `progress` to a server that does not say it.
   */
  progress?: true;
}
/** client → server: one message; `id` is the client's own id, for idempotent retries. */
export interface SendFrame {
  t: 'send';
  id: string;
  chat: string;
  text: string;
}
/** server → client: the message with this `id` is committed as `seq`. */
export interface AckFrame {
  t: 'ack';
  id: string;
  chat: string;
  seq: number;
  sentAt: string;
}
/** server → client: a refusal; with `id` it refuses one send, without it the connection closes. */
export interface ErrorFrame {
  t: 'error';
  id?: string;
  code: WireErrorCode;
  message: string;
  /** With RATE_LIMITED: how long to wait before sending again, in milliseconds. */
  retryAfterMs?: number;
}
export interface PingFrame {
  t: 'ping';
}
export interface PongFrame {
  t: 'pong';
}
/** client → server: multicast a PROBE datagram with this nonce on the chat's group, and say how far multicast has got. */
export interface ProbeFrame {
  t: 'probe';
  chat: string;
  /** PROBE_NONCE_BYTES random bytes, base64url: the datagram that answers carries it. */
  nonce: string;
}
/** server → client: the probe went out; `latestSeq` is the latest seq multicast in the chat so far. */
export interface ProbedFrame {
  t: 'probed';
  chat: string;
  nonce: string;
  latestSeq: number;
}
/** client → server: push this chat's committed messages after `after` over this connection (multicast does not reach me). */
export interface WatchFrame {
  t: 'watch';
  chat: string;
  after: number;
}
/** client → server: stop pushing this chat (multicast reaches me again). */
export interface UnwatchFrame {
  t: 'unwatch';
  chat: string;
}
/** A pushed message: a ChatMessage without its chat, which the frame names once. */
export type PushedMessage = Omit<ChatMessage, 'chat'>;
/** server → client: consecutive committed messages of a watched chat, in order. */
export interface MessagesFrame {
  t: 'messages';
  chat: string;
  messages: PushedMessage[];
}
/** server → client: a `probe` or `watch` refused (not a member, too many…); the connection goes on. */
export interface RefusalFrame {
  t: 'refusal';
  about: 'probe' | 'watch' | 'typing';
  chat: string;
  code: WireErrorCode;
  message: string;
  retryAfterMs?: number;
}

/** client → server: I am typing in this chat (`on`, refreshed every TYPING_REFRESH_MS), or stopped. */
export interface TypingFrame {
  t: 'typing';
  chat: string;
  on: boolean;
}
/** client → server: this client is active, or away (idle, or its window hidden). */
export interface PresenceFrame {
  t: 'presence';
  state: 'online' | 'away';
}
/**
 * client → server: how a receiver fares on a chat it gets by multicast: the last seq delivered in
 * order, and how many messages it had to fetch from history since its previous report. The
 * server's multicast pace follows these (pace-control.ts). Only to a server whose `welcome` said
 * `progress`; never answered.
 */
export interface ProgressFrame {
  t: 'progress';
  chat: string;
  delivered: number;
  repaired: number;
}
/** server → client: events of a chat pushed to a client on push (events.ts), as an EVENTS datagram carries them. */
export interface EventsFrame {
  t: 'events';
  chat: string;
  events: ChatEvent[];
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | SendFrame
  | AckFrame
  | ErrorFrame
  | PingFrame
  | PongFrame
  | ProbeFrame
  | ProbedFrame
  | WatchFrame
  | UnwatchFrame
  | MessagesFrame
  | RefusalFrame
  | TypingFrame
  | PresenceFrame
  | ProgressFrame
  | EventsFrame;
export type FrameType = Frame['t'];

/** A stream that cannot be decoded; the connection should be closed after saying why. */
export class FrameError extends ChorusError {
  constructor(code: 'PAYLOAD_TOO_LARGE' | 'BAD_REQUEST', message: string) {
    super(code, message);
  }
}

const LENGTH_BYTES = 4;

/** The frame as bytes on the wire. Throws FrameError if its JSON exceeds MAX_FRAME_BYTES. */
export function encodeFrame(frame: Frame): Buffer {
  const json = JSON.stringify(frame);
  const length = Buffer.byteLength(json, 'utf8');
  if (length > MAX_FRAME_BYTES) {
    throw new FrameError('PAYLOAD_TOO_LARGE', `Frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  const out = Buffer.allocUnsafe(LENGTH_BYTES + length);
  out.writeUInt32BE(length, 0);
  out.write(json, LENGTH_BYTES, 'utf8');
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Turns a byte stream into frames. Chunks may split frames anywhere or hold several. Frames
 * wholly inside a chunk are parsed in place; only a frame split across chunks is copied, once.
 * The first error is final: every later push throws it again, since the stream cannot be
 * trusted any more and the connection should be closed.
 */
export class FrameDecoder {
  // The start of a frame split across chunks, as received.
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  // Length prefix plus body of the pending frame, once its prefix is complete.
  private needed = 0;
  private failure: FrameError | undefined;

  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    try {
      return this.take(chunk);
    } catch (error) {
      this.failure = error instanceof FrameError ? error : new FrameError('BAD_REQUEST', 'Malformed frame');
      this.pending = [];
      this.pendingBytes = 0;
      throw this.failure;
    }
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private take(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let offset = this.pendingBytes > 0 ? this.completePending(chunk, frames) : 0;
    if (offset < 0) return frames;
    while (chunk.length - offset >= LENGTH_BYTES) {
      const end = offset + LENGTH_BYTES + readLength(chunk, offset);
      if (end > chunk.length) break;
      frames.push(parseFrame(chunk, offset + LENGTH_BYTES, end));
      offset = end;
    }
    if (offset < chunk.length) {
      // Copied so that a small remainder does not keep a large chunk alive.
      const rest = Buffer.from(chunk.subarray(offset));
      this.pending = [rest];
      this.pendingBytes = rest.length;
      this.needed = rest.length >= LENGTH_BYTES ? LENGTH_BYTES + readLength(rest, 0) : 0;
    }
    return frames;
  }

  /**
   * Feeds the pending frame from the head of `chunk`. Returns where the rest of the chunk
   * starts, or -1 if the whole chunk was consumed and the frame is still incomplete.
   */
  private completePending(chunk: Buffer, frames: Frame[]): number {
    let offset = 0;
    if (this.pendingBytes < LENGTH_BYTES) {
      const missing = LENGTH_BYTES - this.pendingBytes;
      if (chunk.length < missing) return this.keep(chunk);
      const prefix = Buffer.concat([...this.pending, chunk.subarray(0, missing)], LENGTH_BYTES);
      // The length is checked here, before any of the body is held.
      this.needed = LENGTH_BYTES + readLength(prefix, 0);
      this.pending = [prefix];
      this.pendingBytes = LENGTH_BYTES;
      offset = missing;
    }
    const missing = this.needed - this.pendingBytes;
    if (chunk.length - offset < missing) return this.keep(chunk.subarray(offset));
    this.pending.push(chunk.subarray(offset, offset + missing));
    const whole = Buffer.concat(this.pending, this.needed);
    this.pending = [];
    this.pendingBytes = 0;
    frames.push(parseFrame(whole, LENGTH_BYTES, whole.length));
    return offset + missing;
  }

  private keep(part: Buffer): -1 {
    this.pending.push(part);
    this.pendingBytes += part.length;
    return -1;
  }
}

function readLength(buf: Buffer, offset: number): number {
  const length = buf.readUInt32BE(offset);
  if (length > MAX_FRAME_BYTES) {
    throw new FrameError('PAYLOAD_TOO_LARGE', `Frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  return length;
}

function parseFrame(buf: Buffer, start: number, end: number): Frame {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(buf.subarray(start, end)));
  } catch {
    throw new FrameError('BAD_REQUEST', 'Frame is not UTF-8 JSON');
  }
  return validateFrame(value);
}

// ---- validation: every field checked by hand; unknown fields are dropped ----

const CLIENT_MSG_ID = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_CLIENT_MSG_ID_LENGTH}}$`);
const PROBE_NONCE = new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((PROBE_NONCE_BYTES * 4) / 3)}}$`);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

type Fields = Record<string, unknown>;

function invalid(what: string): never {
  throw new FrameError('BAD_REQUEST', `Invalid frame: ${what}`);
}

// In a `u` regular expression a surrogate pair is one code point: this matches lone halves only.
export const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * JSON may spell a lone surrogate ("\ud800"), which is not Unicode text: UTF-8 cannot carry it,
 * so the database, multicast and memory would each make something else of it. Refused here, at
 * the one door every text comes in by, so that every path carries the same text.
 */
function wellFormed(key: string, v: string): string {
  if (LONE_SURROGATE.test(v)) invalid(`${key} is not well-formed Unicode (a lone surrogate)`);
  return v;
}

function str(o: Fields, key: string, min: number, max: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length < min || v.length > max) invalid(`${key} must be a string of ${min}..${max} characters`);
  return wellFormed(key, v);
}

function count(o: Fields, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) invalid(max === Number.MAX_SAFE_INTEGER ? `${key} must be an integer ≥ ${min}` : `${key} must be an integer from ${min} to ${max}`);
  return v;
}

function clientMsgId(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !CLIENT_MSG_ID.test(v)) invalid(`${key} must be 1..${MAX_CLIENT_MSG_ID_LENGTH} characters of [A-Za-z0-9_-]`);
  return v;
}

function isoTime(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > 40 || !ISO_TIME.test(v)) invalid(`${key} must be an ISO 8601 time`);
  return v;
}

function text(o: Fields): string {
  const v = o.text;
  if (typeof v !== 'string') invalid('text must be a string');
  return wellFormed('text', v);
}

function probeNonce(o: Fields): string {
  const v = o.nonce;
  if (typeof v !== 'string' || !PROBE_NONCE.test(v)) invalid(`nonce must be ${PROBE_NONCE_BYTES} bytes in base64url`);
  return v;
}

/** 1 or more consecutive messages (the frame's size bounds how many). */
function pushedMessages(value: unknown): PushedMessage[] {
  if (!Array.isArray(value) || value.length === 0) invalid('messages must be a non-empty array');
  const messages: PushedMessage[] = [];
  for (const m of value) {
    if (!isObject(m) || !isObject(m.sender)) invalid('each message must be an object with a sender');
    const message: PushedMessage = {
      seq: count(m, 'seq', 1),
      sender: { id: count(m.sender, 'id', 1), name: str(m.sender, 'name', 0, MAX_NAME_LENGTH) },
      text: text(m),
      sentAt: isoTime(m, 'sentAt'),
      clientMsgId: clientMsgId(m, 'clientMsgId'),
    };
    const previous = messages.at(-1);
    if (previous && message.seq !== previous.seq + 1) invalid('messages must have consecutive seqs');
    messages.push(message);
  }
  return messages;
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The frame `value` describes, or FrameError. Exported for tests and for non-stream carriers. */
export function validateFrame(value: unknown): Frame {
  if (!isObject(value)) invalid('not an object');
  const o = value;
  switch (o.t) {
    case 'hello':
      return { t: 'hello', v: count(o, 'v', 1), token: str(o, 'token', 1, MAX_TOKEN_LENGTH) };
    case 'welcome': {
      const frame: WelcomeFrame = { t: 'welcome', v: count(o, 'v', 1), userId: count(o, 'userId', 1) };
      // Only `true` says it: any other value is a field this client does not know, dropped.
      if (o.progress === true) frame.progress = true;
      return frame;
    }
    case 'send':
      return { t: 'send', id: clientMsgId(o, 'id'), chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), text: text(o) };
    case 'ack':
      return {
        t: 'ack',
        id: clientMsgId(o, 'id'),
        chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH),
        seq: count(o, 'seq', 1),
        sentAt: isoTime(o, 'sentAt'),
      };
    case 'error': {
      if (!isWireCode(o.code)) invalid('code is not a Chorus wire error code');
      const frame: ErrorFrame = { t: 'error', code: o.code, message: str(o, 'message', 0, MAX_ERROR_MESSAGE_LENGTH) };
      if (o.id !== undefined) frame.id = clientMsgId(o, 'id');
      if (o.retryAfterMs !== undefined) frame.retryAfterMs = count(o, 'retryAfterMs', 0, MAX_RETRY_AFTER_MS);
      return frame;
    }
    case 'ping':
      return { t: 'ping' };
    case 'pong':
      return { t: 'pong' };
    case 'probe':
      return { t: 'probe', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), nonce: probeNonce(o) };
    case 'probed':
      return { t: 'probed', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), nonce: probeNonce(o), latestSeq: count(o, 'latestSeq', 0) };
    case 'watch':
      return { t: 'watch', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), after: count(o, 'after', 0) };
    case 'unwatch':
      return { t: 'unwatch', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH) };
    case 'messages':
      return { t: 'messages', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), messages: pushedMessages(o.messages) };
    case 'typing':
      if (typeof o.on !== 'boolean') invalid('on must be true or false');
      return { t: 'typing', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), on: o.on };
    case 'presence':
      if (o.state !== 'online' && o.state !== 'away') invalid('state must be online or away');
      return { t: 'presence', state: o.state };
    case 'progress':
      return {
        t: 'progress',
        chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH),
        delivered: count(o, 'delivered', 0),
        repaired: count(o, 'repaired', 0, MAX_PROGRESS_REPAIRED),
      };
    case 'events': {
      const events = toChatEvents(o.events);
      if (!events) invalid('events must be 1..32 valid events');
      return { t: 'events', chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), events };
    }
    case 'refusal': {
      if (o.about !== 'probe' && o.about !== 'watch' && o.about !== 'typing') invalid('about must be probe, watch or typing');
      if (!isWireCode(o.code)) invalid('code is not a Chorus wire error code');
      const frame: RefusalFrame = { t: 'refusal', about: o.about, chat: str(o, 'chat', 1, MAX_CHAT_INPUT_LENGTH), code: o.code, message: str(o, 'message', 0, MAX_ERROR_MESSAGE_LENGTH) };
      if (o.retryAfterMs !== undefined) frame.retryAfterMs = count(o, 'retryAfterMs', 0, MAX_RETRY_AFTER_MS);
      return frame;
    }
    default:
      return invalid('unknown type t');
  }
}

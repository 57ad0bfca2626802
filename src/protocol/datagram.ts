import { type KeyObject, createHash } from 'node:crypto';
import { NONCE_BYTES, SIGNATURE_BYTES, TAG_BYTES, open, seal, sign, verify } from './crypto.js';
import { type ChatEvent, MAX_EVENTS_PER_BATCH, toChatEvents } from './events.js';
import { DATAGRAM_VERSION, MAX_DATAGRAM_BYTES, MAX_VOUCHED_DATAGRAMS } from './limits.js';
import { STREAM_ID_BYTES, isStreamId } from './stream-id.js';
import type { VouchedDigests } from './vouched-digests.js';

/**
 * Multicast datagrams: a clear header (also the AEAD associated data), for DATA an AES-256-GCM
 * sealed body of consecutive messages, then the server's Ed25519 signature over everything
 * before it. The byte layout is tabled in docs/protocol.md. A datagram names its chat by the
 * chat's stream id (stream-id.ts), never by its code: the header is readable by anyone.
 *
 * A signature costs a receiver 0.1-0.2 ms to check, so a burst is not signed datagram by
 * datagram: a signed VOUCH lists the SHA-256 digests of the VOUCHED DATA datagrams that follow
 * it (DATA without a signature), and a receiver believes such a datagram only if a VOUCH it
 * checked named its digest. Members hold the chat key and can seal anything, but cannot make a
 * digest the server signed match bytes of their own.
 */

export interface DatagramMessage {
  seq: number;
  senderId: number;
  senderName: string;
  /** Milliseconds since the Unix epoch. */
  sentAt: number;
  clientMsgId: string;
  /** Empty when textOmitted. */
  text: string;
  /** Too large for a datagram: receivers fetch the message over HTTP. */
  textOmitted: boolean;
}

export interface DataDatagram {
  type: 'data';
  /** The chat's stream id, hex. */
  stream: string;
  epoch: number;
  firstSeq: number;
  messages: DatagramMessage[];
}

export interface HeartbeatDatagram {
  type: 'heartbeat';
  stream: string;
  epoch: number;
  latestSeq: number;
}

/**
 * A signed PROBE: the answer to a client's `probe` frame, multicast on the chat's group so that
 * the client learns whether the group reaches it. It carries the client's nonce (so it answers
 * that probe and no other) and, like a heartbeat, the latest sequence number multicast.
 */
export interface ProbeDatagram {
  type: 'probe';
  stream: string;
  epoch: number;
  latestSeq: number;
  /** The nonce of the `probe` frame, base64url. */
  nonce: string;
}

/**
 * Sealed, signed EVENTS: typing, read positions, presence (events.ts); not sequenced, but
 * stamped, so that receivers can tell a replay (docs/protocol.md, The EVENTS datagram).
 */
export interface EventsDatagram {
  type: 'events';
  stream: string;
  epoch: number;
  /** The header's seq field: greater than every stamp the server sent before under this epoch; 0 from a server before stamps. */
  stamp: number;
  events: ChatEvent[];
}

/**
 * A signed VOUCH: the digests (datagramDigest) of the VOUCHED DATA datagrams that follow it,
 * which carry no signature of their own. Not sealed: digests of ciphertext tell nothing.
 */
export interface VouchDatagram {
  type: 'vouch';
  stream: string;
  epoch: number;
  digests: Buffer[];
}

export type Datagram = DataDatagram | HeartbeatDatagram | ProbeDatagram | EventsDatagram | VouchDatagram;

/**
 * The clear header. For a heartbeat or a probe, firstSeq is the chat's latest sequence number;
 * for EVENTS, its stamp. `vouched-data` is DATA without a signature, believed on a VOUCH's word.
 */
export interface DatagramHeader {
  version: number;
  type: 'data' | 'heartbeat' | 'probe' | 'events' | 'vouch' | 'vouched-data';
  /** The chat's stream id, hex: any 10 bytes parse; only a receiver knows which are its chats'. */
  stream: string;
  epoch: number;
  firstSeq: number;
  count: number;
  nonce: Buffer;
}

export type HeaderDropReason = 'malformed' | 'unknown-version' | 'unknown-type';
/** `unvouched`: VOUCHED DATA whose digest no checked VOUCH named (forged, altered, or its VOUCH lost). */
export type DropReason = 'malformed' | 'bad-signature' | 'unvouched' | 'unknown-key' | 'undecryptable';
export type DecodeResult = { ok: true; datagram: Datagram } | { ok: false; reason: DropReason };

const MAGIC = 0x4348; // "CH"
const TYPE_DATA = 1;
const TYPE_HEARTBEAT = 2;
const TYPE_PROBE = 3;
const TYPE_EVENTS = 4;
const TYPE_VOUCH = 5;
const TYPE_VOUCHED_DATA = 6;
const FLAG_TEXT_OMITTED = 0x01;

const OFFSET_VERSION = 2;
const OFFSET_TYPE = 3;
const OFFSET_STREAM = 4;
const OFFSET_EPOCH = OFFSET_STREAM + STREAM_ID_BYTES;
const OFFSET_SEQ = OFFSET_EPOCH + 4;
const OFFSET_COUNT = OFFSET_SEQ + 8;
const OFFSET_NONCE = OFFSET_COUNT + 2;
export const HEADER_BYTES = OFFSET_NONCE + NONCE_BYTES; // 40
/** Bytes of a DATA datagram besides its messages: header, GCM tag, signature. */
export const DATA_OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES + SIGNATURE_BYTES; // 120
/** Bytes of a VOUCHED DATA datagram besides its messages: header, GCM tag (no signature). */
export const VOUCHED_DATA_OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES; // 56
export const HEARTBEAT_BYTES = HEADER_BYTES + SIGNATURE_BYTES; // 104
/** SHA-256, what a VOUCH lists per datagram. */
export const DIGEST_BYTES = 32;

// Per message: sender id u32, sentAt u64, flags u8, three length prefixes (u8, u8, u16).
const MESSAGE_FIXED_BYTES = 4 + 8 + 1 + 1 + 1 + 2;
const MAX_NAME_BYTES = 0xff;
const MAX_CLIENT_MSG_ID_BYTES = 0xff;
const MAX_TEXT_FIELD_BYTES = 0xffff;
const MAX_COUNT = 0xffff;
const MAX_U32 = 0xffff_ffff;
const TWO_32 = 2 ** 32;
// The high word of a u64 that is still a safe integer.
const MAX_SAFE_HIGH = Math.floor(Number.MAX_SAFE_INTEGER / TWO_32);
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---- encoding ----

/**
 * Names may be up to 64 characters, which can exceed the 255 bytes the field holds: such a
 * name is cut at a character boundary (the history API has it whole).
 */
function nameBytes(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= MAX_NAME_BYTES) return bytes;
  let end = MAX_NAME_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function nameLength(name: string): number {
  const length = Buffer.byteLength(name, 'utf8');
  return length <= MAX_NAME_BYTES ? length : nameBytes(name).length;
}

/** Bytes `msg` takes inside a DATA body. */
export function messageWireSize(msg: DatagramMessage): number {
  const text = msg.textOmitted ? 0 : Buffer.byteLength(msg.text, 'utf8');
  return MESSAGE_FIXED_BYTES + nameLength(msg.senderName) + msg.clientMsgId.length + text;
}

/** Whether `msg`, text included, fits a DATA datagram of at most maxBytes on its own. */
export function fitsAlone(msg: DatagramMessage, maxBytes = MAX_DATAGRAM_BYTES): boolean {
  return DATA_OVERHEAD_BYTES + messageWireSize(msg) <= maxBytes;
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) throw new RangeError(`${what} must be a u32`);
}

function checkSafe(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
}

function checkStream(stream: string): void {
  if (!isStreamId(stream)) throw new RangeError('stream must be a stream id: 20 lowercase hex characters');
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number | undefined {
  const high = buf.readUInt32BE(offset);
  if (high > MAX_SAFE_HIGH) return undefined;
  return high * TWO_32 + buf.readUInt32BE(offset + 4);
}

function writeHeader(type: number, stream: string, epoch: number, firstSeq: number, count: number, nonce: Buffer | undefined, out: Buffer): void {
  out.writeUInt16BE(MAGIC, 0);
  out.writeUInt8(DATAGRAM_VERSION, OFFSET_VERSION);
  out.writeUInt8(type, OFFSET_TYPE);
  out.write(stream, OFFSET_STREAM, STREAM_ID_BYTES, 'hex');
  out.writeUInt32BE(epoch, OFFSET_EPOCH);
  writeU64(out, firstSeq, OFFSET_SEQ);
  out.writeUInt16BE(count, OFFSET_COUNT);
  if (nonce) nonce.copy(out, OFFSET_NONCE);
  else out.fill(0, OFFSET_NONCE, HEADER_BYTES);
}

function writeMessage(msg: DatagramMessage, out: Buffer, offset: number): number {
  checkU32(msg.senderId, 'senderId');
  checkSafe(msg.sentAt, 'sentAt');
  if (msg.clientMsgId.length > MAX_CLIENT_MSG_ID_BYTES || !PRINTABLE_ASCII.test(msg.clientMsgId)) {
    throw new RangeError('clientMsgId must be at most 255 printable ASCII characters');
  }
  let at = out.writeUInt32BE(msg.senderId, offset);
  writeU64(out, msg.sentAt, at);
  at = out.writeUInt8(msg.textOmitted ? FLAG_TEXT_OMITTED : 0, at + 8);
  const name = nameBytes(msg.senderName);
  at = out.writeUInt8(name.length, at);
  at += name.copy(out, at);
  at = out.writeUInt8(msg.clientMsgId.length, at);
  at += out.write(msg.clientMsgId, at, 'latin1');
  const textLength = msg.textOmitted ? 0 : Buffer.byteLength(msg.text, 'utf8');
  if (textLength > MAX_TEXT_FIELD_BYTES) throw new RangeError('text too long for a datagram: send it with textOmitted');
  at = out.writeUInt16BE(textLength, at);
  if (textLength > 0) at += out.write(msg.text, at, textLength, 'utf8');
  return at;
}

/**
 * A sealed, signed DATA datagram. `messages` must have consecutive sequence numbers; their
 * size is not checked here (see fitsAlone and messageWireSize). `nonce` must never have been used under `key`.
 */
export function encodeData(
  d: { stream: string; epoch: number; messages: DatagramMessage[] },
  key: Buffer,
  nonce: Buffer,
  signingKey: KeyObject,
): Buffer {
  const { header, body } = dataParts(d, TYPE_DATA, nonce);
  return sealAndSign(header, body, key, nonce, signingKey);
}

/**
 * A sealed VOUCHED DATA datagram: DATA without a signature, believed only once a VOUCH
 * (encodeVouch) names its digest. Same rules for `messages` and `nonce` as encodeData.
 */
export function encodeVouchedData(d: { stream: string; epoch: number; messages: DatagramMessage[] }, key: Buffer, nonce: Buffer): Buffer {
  const { header, body } = dataParts(d, TYPE_VOUCHED_DATA, nonce);
  return Buffer.concat([header, seal(key, nonce, body, header)]);
}

/**
 * A signed VOUCH for `datagrams` (VOUCHED DATA of the chat `stream`, 1..MAX_VOUCHED_DATAGRAMS):
 * their digests, in order. `epoch` is theirs; its seq field is 0 and its count the digests'.
 */
export function encodeVouch(v: { stream: string; epoch: number }, datagrams: readonly Buffer[], signingKey: KeyObject): Buffer {
  checkStream(v.stream);
  checkU32(v.epoch, 'epoch');
  if (datagrams.length === 0 || datagrams.length > MAX_VOUCHED_DATAGRAMS) throw new RangeError(`A VOUCH names 1..${MAX_VOUCHED_DATAGRAMS} datagrams`);
  const signedEnd = HEADER_BYTES + datagrams.length * DIGEST_BYTES;
  const out = Buffer.allocUnsafe(signedEnd + SIGNATURE_BYTES);
  writeHeader(TYPE_VOUCH, v.stream, v.epoch, 0, datagrams.length, undefined, out);
  datagrams.forEach((datagram, i) => datagramDigest(datagram).copy(out, HEADER_BYTES + i * DIGEST_BYTES));
  sign(signingKey, out.subarray(0, signedEnd)).copy(out, signedEnd);
  return out;
}

/** The digest a VOUCH lists for a datagram: SHA-256 of all its bytes. */
export function datagramDigest(datagram: Buffer): Buffer {
  return createHash('sha256').update(datagram).digest();
}

/** The clear header and the plaintext body of a DATA or VOUCHED DATA datagram. */
function dataParts(d: { stream: string; epoch: number; messages: DatagramMessage[] }, type: number, nonce: Buffer): { header: Buffer; body: Buffer } {
  const { stream, epoch, messages } = d;
  checkStream(stream);
  checkU32(epoch, 'epoch');
  const first = messages[0];
  if (!first || messages.length > MAX_COUNT) throw new RangeError(`A DATA datagram holds 1..${MAX_COUNT} messages`);
  if (!Number.isSafeInteger(first.seq) || first.seq < 1 || first.seq > Number.MAX_SAFE_INTEGER - (messages.length - 1)) {
    throw new RangeError('seq out of range');
  }
  let bodySize = 0;
  for (let i = 0; i < messages.length; i++) {
    const msg = messages[i]!;
    if (msg.seq !== first.seq + i) throw new RangeError('messages must have consecutive sequence numbers');
    bodySize += messageWireSize(msg);
  }
  const body = Buffer.allocUnsafe(bodySize);
  let offset = 0;
  for (const msg of messages) offset = writeMessage(msg, body, offset);

  const header = Buffer.allocUnsafe(HEADER_BYTES);
  writeHeader(type, stream, epoch, first.seq, messages.length, nonce, header);
  return { header, body };
}

/** Header in clear (and the AEAD's associated data), the body sealed under the chat key, then the server's signature over both. */
function sealAndSign(header: Buffer, body: Buffer, key: Buffer, nonce: Buffer, signingKey: KeyObject): Buffer {
  const sealed = seal(key, nonce, body, header);
  const out = Buffer.allocUnsafe(HEADER_BYTES + sealed.length + SIGNATURE_BYTES);
  header.copy(out, 0);
  sealed.copy(out, HEADER_BYTES);
  const signedEnd = HEADER_BYTES + sealed.length;
  sign(signingKey, out.subarray(0, signedEnd)).copy(out, signedEnd);
  return out;
}

/** A signed HEARTBEAT: the chat's latest sequence number under the current epoch, no body. */
export function encodeHeartbeat(h: { stream: string; epoch: number; latestSeq: number }, signingKey: KeyObject): Buffer {
  checkStream(h.stream);
  checkU32(h.epoch, 'epoch');
  checkSafe(h.latestSeq, 'latestSeq');
  const out = Buffer.allocUnsafe(HEARTBEAT_BYTES);
  writeHeader(TYPE_HEARTBEAT, h.stream, h.epoch, h.latestSeq, 0, undefined, out);
  sign(signingKey, out.subarray(0, HEADER_BYTES)).copy(out, HEADER_BYTES);
  return out;
}

/** A signed PROBE answering the probe whose nonce is `nonce` (PROBE_NONCE_BYTES, base64url). */
export function encodeProbe(p: { stream: string; epoch: number; latestSeq: number; nonce: string }, signingKey: KeyObject): Buffer {
  checkStream(p.stream);
  checkU32(p.epoch, 'epoch');
  checkSafe(p.latestSeq, 'latestSeq');
  const nonce = Buffer.from(p.nonce, 'base64url');
  if (nonce.length !== NONCE_BYTES || nonce.toString('base64url') !== p.nonce) throw new RangeError(`a probe nonce is ${NONCE_BYTES} bytes, base64url`);
  const out = Buffer.allocUnsafe(HEARTBEAT_BYTES);
  writeHeader(TYPE_PROBE, p.stream, p.epoch, p.latestSeq, 0, nonce, out);
  sign(signingKey, out.subarray(0, HEADER_BYTES)).copy(out, HEADER_BYTES);
  return out;
}

/**
 * A sealed, signed EVENTS datagram: the events as UTF-8 JSON, sealed under the chat's key like a
 * DATA body (they say who types, reads, is online). Its seq field carries `stamp`, which must be
 * above every stamp sent before under this key (server/event-stamps.ts), and its count the
 * number of events. Throws RangeError if they do not fit MAX_DATAGRAM_BYTES.
 */
export function encodeEvents(e: { stream: string; epoch: number; stamp: number; events: ChatEvent[] }, key: Buffer, nonce: Buffer, signingKey: KeyObject): Buffer {
  checkStream(e.stream);
  checkU32(e.epoch, 'epoch');
  checkSafe(e.stamp, 'stamp');
  if (e.events.length === 0 || e.events.length > MAX_EVENTS_PER_BATCH) throw new RangeError(`An EVENTS datagram holds 1..${MAX_EVENTS_PER_BATCH} events`);
  const body = Buffer.from(JSON.stringify(e.events), 'utf8');
  if (DATA_OVERHEAD_BYTES + body.length > MAX_DATAGRAM_BYTES) throw new RangeError('events too large for one datagram');
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  writeHeader(TYPE_EVENTS, e.stream, e.epoch, e.stamp, e.events.length, nonce, header);
  return sealAndSign(header, body, key, nonce, signingKey);
}

// ---- decoding ----

function drop<R extends string>(reason: R): { reason: R } {
  return { reason };
}

/**
 * The clear header, checked against the datagram's length, or why it cannot be one. Cheap: a
 * receiver calls it first, to route by stream and count drops, before any cryptography.
 */
export function parseHeader(buf: Buffer): DatagramHeader | { reason: HeaderDropReason } {
  if (buf.length < OFFSET_TYPE + 1 || buf.readUInt16BE(0) !== MAGIC) return drop('malformed');
  const version = buf.readUInt8(OFFSET_VERSION);
  if (version !== DATAGRAM_VERSION) return drop('unknown-version');
  const typeByte = buf.readUInt8(OFFSET_TYPE);
  const type = TYPES[typeByte];
  if (!type) return drop('unknown-type');
  if (buf.length < HEADER_BYTES) return drop('malformed');

  const stream = buf.toString('hex', OFFSET_STREAM, OFFSET_EPOCH);
  const epoch = buf.readUInt32BE(OFFSET_EPOCH);
  const firstSeq = readU64(buf, OFFSET_SEQ);
  const count = buf.readUInt16BE(OFFSET_COUNT);
  const nonce = buf.subarray(OFFSET_NONCE, HEADER_BYTES);
  if (firstSeq === undefined) return drop('malformed');
  const header: DatagramHeader = { version, type, stream, epoch, firstSeq, count, nonce };

  switch (type) {
    case 'heartbeat':
      return buf.length === HEARTBEAT_BYTES && count === 0 && isZero(nonce) ? header : drop('malformed');
    case 'probe':
      return buf.length === HEARTBEAT_BYTES && count === 0 ? header : drop('malformed');
    case 'events':
      return count > 0 && count <= MAX_EVENTS_PER_BATCH && buf.length >= DATA_OVERHEAD_BYTES ? header : drop('malformed');
    case 'vouch':
      return firstSeq === 0 && count > 0 && count <= MAX_VOUCHED_DATAGRAMS && isZero(nonce) && buf.length === HEARTBEAT_BYTES + count * DIGEST_BYTES
        ? header
        : drop('malformed');
    case 'data':
    case 'vouched-data': {
      const overhead = type === 'data' ? DATA_OVERHEAD_BYTES : VOUCHED_DATA_OVERHEAD_BYTES;
      if (count === 0 || firstSeq < 1 || firstSeq > Number.MAX_SAFE_INTEGER - (count - 1)) return drop('malformed');
      return buf.length >= overhead + count * MESSAGE_FIXED_BYTES ? header : drop('malformed');
    }
  }
}

const TYPES: Record<number, DatagramHeader['type'] | undefined> = {
  [TYPE_DATA]: 'data',
  [TYPE_HEARTBEAT]: 'heartbeat',
  [TYPE_PROBE]: 'probe',
  [TYPE_EVENTS]: 'events',
  [TYPE_VOUCH]: 'vouch',
  [TYPE_VOUCHED_DATA]: 'vouched-data',
};

function isZero(bytes: Buffer): boolean {
  return bytes.every((b) => b === 0);
}

/**
 * Checks and opens a datagram: header, then the server's word (its signature, or for VOUCHED
 * DATA a digest in `vouched`), then the key for its epoch (`lookup` returns undefined for an
 * epoch the receiver does not hold), then the AEAD, then the body. Heartbeats need a known epoch
 * too: a heartbeat under a new epoch is how a receiver learns the key was rotated; a VOUCH needs
 * none (it is not sealed). A genuine VOUCH's digests go into `vouched`, so that decoding a chat's
 * datagrams in the order they come believes the ones it vouches for. Never throws on any input.
 */
export function decodeDatagram(
  buf: Buffer,
  lookup: (stream: string, epoch: number) => Buffer | undefined,
  serverPublicKey: KeyObject,
  vouched?: VouchedDigests,
): DecodeResult {
  const header = parseHeader(buf);
  if ('reason' in header) return { ok: false, reason: 'malformed' };
  const { stream, epoch, firstSeq } = header;
  const signed = header.type !== 'vouched-data';
  const signedEnd = signed ? buf.length - SIGNATURE_BYTES : buf.length;
  if (signed) {
    if (!verify(serverPublicKey, buf.subarray(0, signedEnd), buf.subarray(signedEnd))) return { ok: false, reason: 'bad-signature' };
  } else if (!vouched?.has(datagramDigest(buf))) {
    return { ok: false, reason: 'unvouched' };
  }
  if (header.type === 'vouch') {
    const digests = Array.from({ length: header.count }, (_, i) => Buffer.from(buf.subarray(HEADER_BYTES + i * DIGEST_BYTES, HEADER_BYTES + (i + 1) * DIGEST_BYTES)));
    vouched?.add(digests);
    return { ok: true, datagram: { type: 'vouch', stream, epoch, digests } };
  }
  const key = lookup(stream, epoch);
  if (!key) return { ok: false, reason: 'unknown-key' };
  if (header.type === 'heartbeat') return { ok: true, datagram: { type: 'heartbeat', stream, epoch, latestSeq: firstSeq } };
  if (header.type === 'probe') return { ok: true, datagram: { type: 'probe', stream, epoch, latestSeq: firstSeq, nonce: header.nonce.toString('base64url') } };

  const body = open(key, header.nonce, buf.subarray(HEADER_BYTES, signedEnd), buf.subarray(0, HEADER_BYTES));
  if (!body) return { ok: false, reason: 'undecryptable' };
  if (header.type === 'events') {
    const events = parseEvents(body, header.count);
    return events ? { ok: true, datagram: { type: 'events', stream, epoch, stamp: firstSeq, events } } : { ok: false, reason: 'malformed' };
  }
  const messages = parseBody(body, firstSeq, header.count);
  if (!messages) return { ok: false, reason: 'malformed' };
  return { ok: true, datagram: { type: 'data', stream, epoch, firstSeq, messages } };
}

/** The messages of a DATA body, or undefined unless it holds exactly `count` well-formed ones. */
function parseBody(body: Buffer, firstSeq: number, count: number): DatagramMessage[] | undefined {
  const messages: DatagramMessage[] = [];
  let at = 0;
  try {
    for (let i = 0; i < count; i++) {
      if (body.length - at < MESSAGE_FIXED_BYTES) return undefined;
      const senderId = body.readUInt32BE(at);
      const sentAt = readU64(body, at + 4);
      const flags = body.readUInt8(at + 12);
      if (sentAt === undefined || (flags & ~FLAG_TEXT_OMITTED) !== 0) return undefined;
      const textOmitted = (flags & FLAG_TEXT_OMITTED) !== 0;
      at += 13;

      const nameLength = body.readUInt8(at);
      const senderName = utf8.decode(body.subarray(at + 1, at + 1 + nameLength));
      at += 1 + nameLength;
      const idLength = body.readUInt8(at);
      const clientMsgId = body.toString('latin1', at + 1, at + 1 + idLength);
      at += 1 + idLength;
      const textLength = body.readUInt16BE(at);
      if (at + 2 + textLength > body.length || (textOmitted && textLength > 0)) return undefined;
      if (clientMsgId.length !== idLength || !PRINTABLE_ASCII.test(clientMsgId)) return undefined;
      const text = utf8.decode(body.subarray(at + 2, at + 2 + textLength));
      at += 2 + textLength;
      messages.push({ seq: firstSeq + i, senderId, senderName, sentAt, clientMsgId, text, textOmitted });
    }
  } catch {
    // Invalid UTF-8, or a length running past the end.
    return undefined;
  }
  return at === body.length ? messages : undefined;
}

/** The events of an EVENTS body: exactly `count` valid ones, or undefined. */
function parseEvents(body: Buffer, count: number): ChatEvent[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    return undefined;
  }
  const events = toChatEvents(value);
  return events?.length === count ? events : undefined;
}

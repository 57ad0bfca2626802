import fc from 'fast-check';
import { WIRE_ERROR_CODES } from '../../../src/protocol/errors.js';
import { type Frame, encodeFrame } from '../../../src/protocol/frames.js';
import { MAX_FRAME_BYTES } from '../../../src/protocol/limits.js';
import { type Edit, applyEdit, editArb, randomBytesArb } from './edits.js';

/** Byte streams for the TCP frame decoder and for the server's ingest. */

const clientId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
function chatInputArb(chats: string[]): fc.Arbitrary<string> {
  const made = fc.oneof(fc.constantFrom('ABCDE-FGHJK', 'abcdefghjk', 'ZZZZZ-ZZZZZ', ' abcde fghjk '), fc.string({ minLength: 1, maxLength: 32 }));
  if (chats.length === 0) return made;
  const real = fc.constantFrom(...chats);
  return fc.oneof({ weight: 2, arbitrary: made }, { weight: 2, arbitrary: real }, { weight: 1, arbitrary: real.map((c) => c.toLowerCase().replace('-', ' ')) });
}
const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200, unit: 'grapheme' }));
const iso = fc.constantFrom('2024-05-01T12:00:00.000Z', '2024-05-01T12:00:00+02:00');
const positive = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const seqOrZero = fc.oneof(fc.constant(0), positive);
/** A probe nonce: 16 characters of base64url are exactly 12 bytes. */
const nonce = fc.stringMatching(/^[A-Za-z0-9_-]{16}$/);
const errorCode = fc.constantFrom(...WIRE_ERROR_CODES);

/**
 * Well-formed frames of every type. `token` is used for some hellos and `chats` for some sends
 * (a real session and real chat codes, against the server's ingest).
 */
export function validFrameArb(token = 'A'.repeat(43), chats: string[] = []): fc.Arbitrary<Frame> {
  const chatInput = chatInputArb(chats);
  return fc.oneof(
    fc.record({ t: fc.constant('hello' as const), v: fc.oneof(fc.constant(1), positive), token: fc.oneof(fc.constant(token), fc.string({ minLength: 1, maxLength: 64 })) }),
    fc.record({ t: fc.constant('send' as const), id: clientId, chat: chatInput, text }),
    fc.constant({ t: 'ping' as const }),
    fc.constant({ t: 'pong' as const }),
    fc.record({ t: fc.constant('welcome' as const), v: positive, userId: positive }),
    fc.record({ t: fc.constant('ack' as const), id: clientId, chat: chatInput, seq: positive, sentAt: iso }),
    fc.record({ t: fc.constant('error' as const), code: errorCode, message: fc.string({ maxLength: 100 }) }),
    fc.record({
      t: fc.constant('messages' as const),
      chat: chatInput,
      messages: fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.array(fc.record({ sender: fc.record({ id: positive, name: fc.string({ maxLength: 20 }) }), text, sentAt: iso, clientMsgId: clientId }), { minLength: 1, maxLength: 3 })).map(([first, ms]) => ms.map((m, i) => ({ seq: first + i, ...m }))),
    }),
    fc.record({ t: fc.constant('probe' as const), chat: chatInput, nonce }),
    fc.record({ t: fc.constant('watch' as const), chat: chatInput, after: seqOrZero }),
    fc.record({ t: fc.constant('unwatch' as const), chat: chatInput }),
    fc.record({ t: fc.constant('probed' as const), chat: chatInput, nonce, latestSeq: seqOrZero }),
    fc.record({ t: fc.constant('refusal' as const), about: fc.constantFrom('probe' as const, 'watch' as const), chat: chatInput, code: errorCode, message: fc.string({ maxLength: 100 }) }),
  );
}

function prefixed(body: Buffer, length = body.length): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(length >>> 0, 0);
  body.copy(out, 4);
  return out;
}

const frameTypes = fc.constantFrom('hello', 'welcome', 'send', 'ack', 'error', 'ping', 'pong', 'messages', 'probe', 'probed', 'watch', 'unwatch', 'refusal', 'HELLO', '', 'constructor', '__proto__');
/** Objects with a frame's `t` and whatever fields, of whatever types. */
const frameShapedObject = fc
  .tuple(frameTypes, fc.dictionary(fc.constantFrom('v', 'token', 'id', 'chat', 'text', 'seq', 'sentAt', 'code', 'message', 'messages', 'sender', 'userId', 'clientMsgId', 'nonce', 'after', 'about', 'latestSeq', '__proto__', 'x'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }))
  .map(([t, fields]) => JSON.stringify({ ...fields, t }));

/** One piece of a stream: frames good and bad, prefixes that lie, and plain garbage. */
export function segmentArb(token?: string, chats: string[] = []): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: validFrameArb(token, chats).map((f) => encodeFrame(f)) },
    { weight: 2, arbitrary: frameShapedObject.map((json) => prefixed(Buffer.from(json))) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((json) => prefixed(Buffer.from(json))) },
    { weight: 1, arbitrary: randomBytesArb(200).map((body) => prefixed(body)) },
    // A length prefix that does not match what follows, or exceeds the limit.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.oneof(fc.nat({ max: 300 }), fc.constantFrom(MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1, 0xffff_ffff), fc.nat()), randomBytesArb(100))
        .map(([length, body]) => prefixed(body, length)),
    },
    { weight: 1, arbitrary: randomBytesArb(64) },
  );
}

/** A stream: random bytes, or 1..8 segments, then 0..4 edits of the whole. */
export function streamArb(token?: string, chats: string[] = []): fc.Arbitrary<Buffer> {
  const built = fc
    .tuple(fc.array(segmentArb(token, chats), { minLength: 1, maxLength: 8 }), fc.array(editArb, { maxLength: 4 }))
    .map(([segments, edits]) => {
      const whole = Buffer.concat(segments);
      return edits.reduce((buf: Buffer, edit: Edit) => applyEdit(buf, edit, segments), whole);
    });
  return fc.oneof({ weight: 1, arbitrary: randomBytesArb(2000) }, { weight: 5, arbitrary: built });
}

/** Cuts `stream` into chunks at the given points (taken modulo its length). */
export function chunk(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    if (p > start) chunks.push(stream.subarray(start, p));
    start = Math.max(start, p);
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

/** Cut points: none, a few, or many (down to single bytes). */
export const cutsArb: fc.Arbitrary<number[]> = fc.oneof(fc.constant<number[]>([]), fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 200 }));

/** What a logged-in client may say: sends, probes, watches, pings, pongs. */
function clientFrameArb(chats: string[]): fc.Arbitrary<Frame> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('send' as const), id: clientId, chat: chatInputArb(chats), text }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('probe' as const), chat: chatInputArb(chats), nonce }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('watch' as const), chat: chatInputArb(chats), after: seqOrZero }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('unwatch' as const), chat: chatInputArb(chats) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'ping' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'pong' as const }) },
  );
}

/** A logged-in conversation that mostly follows the protocol, then maybe one bad segment. */
export function politeStreamArb(token: string, chats: string[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.array(clientFrameArb(chats), { minLength: 1, maxLength: 12 }), fc.option(segmentArb(token, chats)))
    .map(([frames, tail]) => Buffer.concat([...frames.map((f) => encodeFrame(f)), ...(tail ? [tail] : [])]));
}

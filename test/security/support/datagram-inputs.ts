import fc from 'fast-check';
import { NonceSource, newChatKey, newSigningKeyPair, open, sign } from '../../../src/protocol/crypto.js';
import { type DatagramMessage, HEADER_BYTES, decodeDatagram, encodeData, encodeHeartbeat, encodeVouch, encodeVouchedData } from '../../../src/protocol/datagram.js';
import { VouchedDigests } from '../../../src/protocol/vouched-digests.js';
import { type Edit, applyEdit, editArb, randomBytesArb } from './edits.js';

/**
 * A small world of genuine datagrams (signed by "the server") and forgeries (made by someone
 * holding the chat key but not the server's signing key, as any member does), and the edits an
 * attacker on the LAN can make to either.
 */
export const STREAM = '5f3a9c0e7d21b4a86e0f';
export const EPOCH = 7;
export const NEXT_EPOCH = 8;
export const keys = new Map([
  [EPOCH, newChatKey()],
  [NEXT_EPOCH, newChatKey()],
]);
export const server = newSigningKeyPair();
const attacker = newSigningKeyPair();
const nonces = new Map([...keys.keys()].map((epoch) => [epoch, new NonceSource()]));

export const lookup = (stream: string, epoch: number) => (stream === STREAM ? keys.get(epoch) : undefined);

function msg(seq: number, text: string, extra: Partial<DatagramMessage> = {}): DatagramMessage {
  return { seq, senderId: 3, senderName: 'Ada', sentAt: 1_714_564_800_123, clientMsgId: `c-${seq}`, text, textOmitted: false, ...extra };
}

function data(epoch: number, messages: DatagramMessage[], signer = server.privateKey, key = keys.get(epoch)!): Buffer {
  return encodeData({ stream: STREAM, epoch, messages }, key, nonces.get(epoch)?.next() ?? new NonceSource().next(), signer);
}

function vouchedData(epoch: number, messages: DatagramMessage[], key = keys.get(epoch)!): Buffer {
  return encodeVouchedData({ stream: STREAM, epoch, messages }, key, nonces.get(epoch)?.next() ?? new NonceSource().next());
}

/** A run as the fan-out sends a backlog: a VOUCH signed by the server, then the datagrams it names. */
const run = [vouchedData(EPOCH, [msg(50, 'in a run'), msg(51, 'still')]), vouchedData(EPOCH, [msg(52, 'the run ends ✓')])];
const runVouch = encodeVouch({ stream: STREAM, epoch: EPOCH }, run, server.privateKey);

export const genuine: Buffer[] = [
  data(EPOCH, [msg(1, 'hello')]),
  data(EPOCH, Array.from({ length: 5 }, (_, i) => msg(10 + i, `message ${i} ✓`))),
  data(EPOCH, [msg(20, '', { textOmitted: true })]),
  data(EPOCH, [msg(21, 'ünïcödé 🎉 大', { senderName: '', clientMsgId: '' })]),
  data(EPOCH, [msg(22, 'x'.repeat(1000))]),
  data(EPOCH, [msg(Number.MAX_SAFE_INTEGER - 1, 'a'), msg(Number.MAX_SAFE_INTEGER, 'b')]),
  data(NEXT_EPOCH, [msg(30, 'after the rotation'), msg(31, 'and again')]),
  encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 0 }, server.privateKey),
  encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 42 }, server.privateKey),
  encodeHeartbeat({ stream: STREAM, epoch: NEXT_EPOCH, latestSeq: Number.MAX_SAFE_INTEGER }, server.privateKey),
  runVouch,
  ...run,
  // Genuine, but under an epoch the receiver no longer holds (unknown-key)…
  data(5, [msg(3, 'before a rotation')], server.privateKey, newChatKey()),
  encodeHeartbeat({ stream: STREAM, epoch: 5, latestSeq: 3 }, server.privateKey),
  // …or sealed under another key than the one the receiver holds for its epoch (undecryptable).
  data(EPOCH, [msg(4, 'sealed under a key this receiver does not have')], server.privateKey, newChatKey()),
];
export const genuineSet = new Set(genuine.map((d) => d.toString('base64')));

/**
 * What a receiver knows once the run's VOUCH came: the digests it names. Its clock stands still,
 * so that the digests do not age out however long the fuzzing takes.
 */
export function vouchedByServer(): VouchedDigests {
  const vouched = new VouchedDigests(() => 0);
  decodeDatagram(runVouch, lookup, server.publicKey, vouched);
  return vouched;
}

/** What a member (who has the chat key but not the server's signing key) can make. */
export const forgeries: Buffer[] = [
  data(EPOCH, [msg(2, 'I am the server, trust me', { senderId: 1, senderName: 'Admin' })], attacker.privateKey),
  data(NEXT_EPOCH, [msg(32, 'forged under the new key')], attacker.privateKey),
  data(9, [msg(1, 'an epoch nobody holds')], attacker.privateKey, newChatKey()),
  encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 1_000_000 }, attacker.privateKey),
  encodeHeartbeat({ stream: STREAM, epoch: 99, latestSeq: 5 }, attacker.privateKey),
  // Unsigned datagrams sealed with the chat key, which no VOUCH of the server names…
  vouchedData(EPOCH, [msg(52, 'slipped into the run')]),
  // …and a VOUCH for them that the server did not sign.
  encodeVouch({ stream: STREAM, epoch: EPOCH }, [vouchedData(EPOCH, [msg(53, 'vouched for by myself')])], attacker.privateKey),
];

/** The decrypted bodies of the genuine DATA datagrams, to mutate behind a valid seal and signature. */
export const genuineBodies: Buffer[] = genuine.flatMap((d) => {
  const key = keys.get(d.readUInt32BE(14));
  // DATA (type 1) ends in a signature; VOUCHED DATA (type 6) does not.
  const sealedEnd = d[3] === 1 ? d.length - 64 : d.length;
  const body = (d[3] === 1 || d[3] === 6) && key ? open(key, d.subarray(28, HEADER_BYTES), d.subarray(HEADER_BYTES, sealedEnd), d.subarray(0, HEADER_BYTES)) : undefined;
  return body ? [body] : [];
});

// Header fields (offset, length) from docs/protocol.md, and the signature at the end.
const FIELDS = [
  [0, 2],
  [2, 1],
  [3, 1],
  [4, 10],
  [14, 4],
  [18, 8],
  [26, 2],
  [28, 12],
] as const;

type DatagramEdit =
  | Edit
  | { kind: 'field'; field: number; bytes: Uint8Array }
  | { kind: 'stream'; id: Uint8Array }
  | { kind: 'resign' };

const fieldEdit = fc.record({
  kind: fc.constant('field' as const),
  field: fc.integer({ min: 0, max: FIELDS.length - 1 }),
  bytes: fc.oneof(
    fc.uint8Array({ minLength: 12, maxLength: 12 }),
    fc.constantFrom(new Uint8Array(12), new Uint8Array(12).fill(0xff), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])),
  ),
});
/** Another stream id in the header: another chat's, all zeros or ones, or the real one a bit off. */
const streamEdit = fc.record({
  kind: fc.constant('stream' as const),
  id: fc.oneof(
    fc.constantFrom(new Uint8Array(10), new Uint8Array(10).fill(0xff), Uint8Array.from(Buffer.from(STREAM, 'hex').map((b, i) => (i === 9 ? b ^ 1 : b)))),
    fc.uint8Array({ minLength: 10, maxLength: 10 }),
  ),
});
/** Re-signed by the attacker's key after the other edits: a forgery, never the server's word. */
const resignEdit = fc.constant({ kind: 'resign' as const });

export const datagramEditArb: fc.Arbitrary<DatagramEdit> = fc.oneof(
  { weight: 6, arbitrary: editArb },
  { weight: 2, arbitrary: fieldEdit },
  { weight: 1, arbitrary: streamEdit },
  { weight: 1, arbitrary: resignEdit },
);

const pool = [...genuine, ...forgeries];

export function applyDatagramEdit(input: Buffer, edit: DatagramEdit): Buffer {
  switch (edit.kind) {
    case 'field': {
      const [offset, length] = FIELDS[edit.field]!;
      if (input.length < offset + length) return input;
      const out = Buffer.from(input);
      Buffer.from(edit.bytes.subarray(0, length)).copy(out, offset);
      return out;
    }
    case 'stream': {
      if (input.length < 14) return input;
      const out = Buffer.from(input);
      Buffer.from(edit.id).copy(out, 4);
      return out;
    }
    case 'resign': {
      if (input.length < 64) return input;
      const out = Buffer.from(input);
      sign(attacker.privateKey, out.subarray(0, out.length - 64)).copy(out, out.length - 64);
      return out;
    }
    default:
      return applyEdit(input, edit, pool);
  }
}

/** An attacker's datagram: random bytes, or a genuine datagram or forgery with 1..4 edits. */
export const attackerDatagramArb: fc.Arbitrary<Buffer> = fc.oneof(
  // Replays, as they were sent.
  { weight: 1, arbitrary: fc.constantFrom(...pool) },
  { weight: 2, arbitrary: randomBytesArb(1400) },
  // Random bytes behind a plausible start, so that the header checks are exercised too.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...pool), fc.integer({ min: 2, max: 40 }), randomBytesArb(1300)).map(([base, keep, rest]) =>
      Buffer.concat([base.subarray(0, keep), rest]),
    ),
  },
  {
    weight: 7,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: pool.length - 1 }), fc.array(datagramEditArb, { minLength: 1, maxLength: 4 }))
      .map(([i, edits]) => edits.reduce((buf, edit) => applyDatagramEdit(buf, edit), pool[i]!)),
  },
);

/** A DATA body: random bytes, or a genuine body with 1..4 generic edits. */
export const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  randomBytesArb(1100),
  fc
    .tuple(fc.integer({ min: 0, max: genuineBodies.length - 1 }), fc.array(editArb, { minLength: 1, maxLength: 4 }))
    .map(([i, edits]) => edits.reduce((buf, edit) => applyEdit(buf, edit, genuineBodies), genuineBodies[i]!)),
);

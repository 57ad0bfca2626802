import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NonceSource, SIGNATURE_BYTES, newChatKey, newSigningKeyPair, seal, sign } from './crypto.js';
import {
  DATA_OVERHEAD_BYTES,
  type DatagramMessage,
  HEADER_BYTES,
  HEARTBEAT_BYTES,
  DIGEST_BYTES,
  datagramDigest,
  decodeDatagram,
  encodeData,
  encodeVouch,
  encodeVouchedData,
  encodeHeartbeat,
  encodeEvents,
  encodeProbe,
  fitsAlone,
  messageWireSize,
  parseHeader,
} from './datagram.js';
import { MAX_DATAGRAM_BYTES, MAX_VOUCHED_DATAGRAMS } from './limits.js';
import { VouchedDigests } from './vouched-digests.js';

const STREAM = '0123456789abcdef0a1b';
const EPOCH = 7;
const key = newChatKey();
const server = newSigningKeyPair();
const nonces = new NonceSource();
const lookup = (stream: string, epoch: number) => (stream === STREAM && epoch === EPOCH ? key : undefined);

function msg(seq: number, text: string, extra: Partial<DatagramMessage> = {}): DatagramMessage {
  return {
    seq,
    senderId: 12,
    senderName: 'Ada',
    sentAt: 1_714_564_800_123,
    clientMsgId: `c-${seq}`,
    text,
    textOmitted: false,
    ...extra,
  };
}

function data(messages: DatagramMessage[]): Buffer {
  return encodeData({ stream: STREAM, epoch: EPOCH, messages }, key, nonces.next(), server.privateKey);
}

function decode(buf: Buffer) {
  return decodeDatagram(buf, lookup, server.publicKey);
}

/** A copy of `original` with the byte at `offset` set to `value`. */
function withByte(original: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(original);
  copy[offset] = value;
  return copy;
}

/** Every copy of `original` with one byte changed (three ways), and what was changed. */
function* singleByteChanges(original: Buffer): Generator<{ mutated: Buffer; what: string }> {
  for (let i = 0; i < original.length; i++) {
    for (const change of [0x01, 0x80, 0xff]) {
      const mutated = Buffer.from(original);
      mutated[i] = mutated[i]! ^ change;
      yield { mutated, what: `byte ${i} ^ ${change}` };
    }
  }
}

function roundTrip(messages: DatagramMessage[]) {
  const result = decode(data(messages));
  expect(result).toEqual({ ok: true, datagram: { type: 'data', stream: STREAM, epoch: EPOCH, firstSeq: messages[0]!.seq, messages } });
}

describe('DATA round trips', () => {
  it('one message', () => roundTrip([msg(1, 'hello')]));

  it('many consecutive messages', () => {
    roundTrip(Array.from({ length: 30 }, (_, i) => msg(1000 + i, `message ${i}`)));
  });

  it('non-ASCII names and texts, empty text, empty names and ids, extreme numbers', () => {
    roundTrip([
      msg(5, 'héllo wörld 👋🏽 日本語 \u0000 \n', { senderName: 'Zoë 🎉' }),
      msg(6, '', { senderName: '', clientMsgId: '' }),
      msg(7, 'x', { senderId: 0xffff_ffff, sentAt: Number.MAX_SAFE_INTEGER }),
      msg(8, 'y', { senderId: 0, sentAt: 0 }),
    ]);
    roundTrip([msg(Number.MAX_SAFE_INTEGER, 'the last possible seq')]);
  });

  it('a message with its text omitted', () => {
    roundTrip([msg(3, 'small'), msg(4, '', { textOmitted: true }), msg(5, 'small again')]);
  });

  it('writes the header as documented', () => {
    const buf = data([msg(300, 'a'), msg(301, 'b')]);
    expect(buf.subarray(0, 2).toString('latin1')).toBe('CH');
    expect(buf[2]).toBe(2);
    expect(buf[3]).toBe(1);
    expect(buf.subarray(4, 14)).toEqual(Buffer.from(STREAM, 'hex'));
    expect(buf.readUInt32BE(14)).toBe(EPOCH);
    expect(buf.readBigUInt64BE(18)).toBe(300n);
    expect(buf.readUInt16BE(26)).toBe(2);
    expect(buf.length).toBe(DATA_OVERHEAD_BYTES + messageWireSize(msg(300, 'a')) + messageWireSize(msg(301, 'b')));
    expect(parseHeader(buf)).toMatchObject({ version: 2, type: 'data', stream: STREAM, epoch: EPOCH, firstSeq: 300, count: 2 });
  });

  it('does not carry the text, name or client id in clear', () => {
    const secret = 'attack at dawn, bring the blue folder';
    const buf = data([msg(1, secret, { senderName: 'Mallory Sender', clientMsgId: 'very-distinctive-id' })]);
    for (const clear of [secret, 'attack', 'Mallory', 'very-distinctive-id']) {
      expect(buf.includes(Buffer.from(clear, 'utf8'))).toBe(false);
    }
  });

  it('cuts a sender name over 255 bytes at a character boundary', () => {
    const name = '😀'.repeat(64); // 256 bytes
    const result = decode(data([msg(1, 'x', { senderName: name })]));
    expect(result.ok && result.datagram.type === 'data' && result.datagram.messages[0]!.senderName).toBe('😀'.repeat(63));
    expect(messageWireSize(msg(1, 'x', { senderName: name }))).toBe(messageWireSize(msg(1, 'x', { senderName: '😀'.repeat(63) })));
  });

  it('refuses what it cannot encode', () => {
    const good = { stream: STREAM, epoch: EPOCH, messages: [msg(1, 'x')] };
    const enc = (d: typeof good) => encodeData(d, key, nonces.next(), server.privateKey);
    expect(() => enc({ ...good, messages: [] })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(1, 'a'), msg(3, 'b')] })).toThrow(/consecutive/);
    expect(() => enc({ ...good, messages: [msg(0, 'a')] })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(Number.MAX_SAFE_INTEGER, 'a'), msg(Number.MAX_SAFE_INTEGER + 1, 'b')] })).toThrow(RangeError);
    // A stream id is 20 lowercase hex characters; a chat code is not one.
    expect(() => enc({ ...good, stream: 'ABCDEFGHJK' })).toThrow(RangeError);
    expect(() => enc({ ...good, stream: STREAM.toUpperCase() })).toThrow(RangeError);
    expect(() => enc({ ...good, stream: STREAM.slice(1) })).toThrow(RangeError);
    expect(() => enc({ ...good, stream: `${STREAM}00` })).toThrow(RangeError);
    expect(() => encodeHeartbeat({ stream: 'ABCDE-FGHJK', epoch: EPOCH, latestSeq: 1 }, server.privateKey)).toThrow(RangeError);
    expect(() => enc({ ...good, epoch: 2 ** 32 })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(1, 'x', { senderId: -1 })] })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(1, 'x', { sentAt: 1.5 })] })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(1, 'x', { clientMsgId: 'é' })] })).toThrow(RangeError);
    expect(() => enc({ ...good, messages: [msg(1, 'x'.repeat(70_000))] })).toThrow(RangeError);
    expect(() => encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: -1 }, server.privateKey)).toThrow(RangeError);
  });
});

describe('HEARTBEAT', () => {
  it('round-trips, with no body and a zero nonce', () => {
    const buf = encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 123_456_789_012 }, server.privateKey);
    expect(buf.length).toBe(HEARTBEAT_BYTES);
    expect(buf[3]).toBe(2);
    expect(buf.subarray(28, 40).every((b) => b === 0)).toBe(true);
    expect(parseHeader(buf)).toMatchObject({ type: 'heartbeat', firstSeq: 123_456_789_012, count: 0 });
    expect(decode(buf)).toEqual({ ok: true, datagram: { type: 'heartbeat', stream: STREAM, epoch: EPOCH, latestSeq: 123_456_789_012 } });
  });

  it('needs a known epoch, so that a new epoch is noticed', () => {
    const buf = encodeHeartbeat({ stream: STREAM, epoch: EPOCH + 1, latestSeq: 5 }, server.privateKey);
    expect(decode(buf)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('with a non-zero nonce or count is malformed', () => {
    const buf = encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 5 }, server.privateKey);
    const withNonce = Buffer.from(buf);
    withNonce[39] = 1;
    expect(parseHeader(withNonce)).toEqual({ reason: 'malformed' });
    const withCount = Buffer.from(buf);
    withCount[27] = 1;
    expect(parseHeader(withCount)).toEqual({ reason: 'malformed' });
  });
});

describe('PROBE', () => {
  const nonce = Buffer.from('0123456789ab').toString('base64url');

  it('round-trips the nonce and the latest seq, signed, in a heartbeat-sized datagram', () => {
    const buf = encodeProbe({ stream: STREAM, epoch: EPOCH, latestSeq: 42, nonce }, server.privateKey);
    expect(buf.length).toBe(HEARTBEAT_BYTES);
    expect(buf[3]).toBe(3);
    expect(parseHeader(buf)).toMatchObject({ type: 'probe', firstSeq: 42, count: 0 });
    expect(decode(buf)).toEqual({ ok: true, datagram: { type: 'probe', stream: STREAM, epoch: EPOCH, latestSeq: 42, nonce } });
  });

  it('cannot be forged or altered: another signer, or another nonce under the same signature, is refused', () => {
    const forger = newSigningKeyPair();
    expect(decode(encodeProbe({ stream: STREAM, epoch: EPOCH, latestSeq: 42, nonce }, forger.privateKey))).toEqual({ ok: false, reason: 'bad-signature' });
    const altered = encodeProbe({ stream: STREAM, epoch: EPOCH, latestSeq: 42, nonce }, server.privateKey);
    altered[30] = (altered[30] ?? 0) ^ 1;
    expect(decode(altered)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a nonce that is not 12 bytes of base64url', () => {
    for (const bad of ['', 'short', `${nonce}A`, '++++++++++++++++']) {
      expect(() => encodeProbe({ stream: STREAM, epoch: EPOCH, latestSeq: 1, nonce: bad }, server.privateKey)).toThrow(RangeError);
    }
  });
});

describe('EVENTS', () => {
  const events = [
    { kind: 'typing' as const, userId: 2, name: 'Bén', on: true },
    { kind: 'read' as const, userId: 3, name: 'Cleo', seq: 41 },
    { kind: 'presence' as const, userId: 4, name: 'Dan', state: 'away' as const },
  ];
  // A stamp as the server makes them: microseconds since the Unix epoch.
  const STAMP = 1_764_547_200_000_123;

  function eventsDatagram(stamp = STAMP, list = events, signer = server.privateKey, sealKey = key): Buffer {
    return encodeEvents({ stream: STREAM, epoch: EPOCH, stamp, events: list }, sealKey, nonces.next(), signer);
  }

  it('round-trips, sealed: no name or user in clear', () => {
    const buf = eventsDatagram();
    expect(buf[3]).toBe(4);
    expect(buf.includes(Buffer.from('Cleo'))).toBe(false);
    expect(parseHeader(buf)).toMatchObject({ type: 'events', firstSeq: STAMP, count: 3 });
    expect(decode(buf)).toEqual({ ok: true, datagram: { type: 'events', stream: STREAM, epoch: EPOCH, stamp: STAMP, events } });
  });

  it('carries its stamp in the seq field (offset 18, u64), under the signature and the AEAD', () => {
    const buf = eventsDatagram();
    expect(buf.readBigUInt64BE(18)).toBe(BigInt(STAMP));
    const restamped = Buffer.from(buf);
    restamped.writeBigUInt64BE(BigInt(STAMP + 1), 18);
    expect(decode(restamped)).toEqual({ ok: false, reason: 'bad-signature' });
    // Even signed again by the server itself, another stamp does not open: the header is the associated data.
    const signedEnd = restamped.length - SIGNATURE_BYTES;
    sign(server.privateKey, restamped.subarray(0, signedEnd)).copy(restamped, signedEnd);
    expect(decode(restamped)).toEqual({ ok: false, reason: 'undecryptable' });
  });

  it('takes stamp 0, which a server from before stamps sends, and refuses a stamp past 2^53 − 1', () => {
    expect(decode(eventsDatagram(0))).toMatchObject({ ok: true, datagram: { type: 'events', stamp: 0 } });
    expect(decode(eventsDatagram(Number.MAX_SAFE_INTEGER))).toMatchObject({ ok: true, datagram: { stamp: Number.MAX_SAFE_INTEGER } });
    const huge = eventsDatagram();
    huge.writeUInt32BE(0xffff_ffff, 18);
    expect(parseHeader(huge)).toEqual({ reason: 'malformed' });
    expect(() => eventsDatagram(-1)).toThrow(RangeError);
    expect(() => eventsDatagram(Number.MAX_SAFE_INTEGER + 1)).toThrow(RangeError);
  });

  it('is refused forged, under another key, or with a count that does not match', () => {
    const forger = newSigningKeyPair();
    expect(decode(eventsDatagram(STAMP, events, forger.privateKey))).toEqual({ ok: false, reason: 'bad-signature' });
    expect(decode(eventsDatagram(STAMP, events, server.privateKey, newChatKey()))).toEqual({ ok: false, reason: 'undecryptable' });
    const wrongCount = eventsDatagram();
    wrongCount.writeUInt16BE(2, 26);
    expect(decode(wrongCount).ok).toBe(false);
  });

  it('refuses to encode none, or more than fit a datagram', () => {
    expect(() => eventsDatagram(STAMP, [])).toThrow(RangeError);
    const many = Array.from({ length: 32 }, (_, i) => ({ kind: 'typing' as const, userId: i + 1, name: 'x'.repeat(60), on: true }));
    expect(() => eventsDatagram(STAMP, many)).toThrow(RangeError);
  });
});

describe('fitsAlone', () => {
  it('the largest text that fits alone fills a datagram exactly', () => {
    const room = MAX_DATAGRAM_BYTES - DATA_OVERHEAD_BYTES - messageWireSize(msg(1, ''));
    expect(fitsAlone(msg(1, 'x'.repeat(room)))).toBe(true);
    expect(fitsAlone(msg(1, 'x'.repeat(room + 1)))).toBe(false);
    expect(data([msg(1, 'x'.repeat(room))]).length).toBe(MAX_DATAGRAM_BYTES);
  });

});

describe('VOUCH and VOUCHED DATA', () => {
  const run = [1, 2, 3].map((i) => encodeVouchedData({ stream: STREAM, epoch: EPOCH, messages: [msg(10 * i, `run ${i}`), msg(10 * i + 1, 'and')] }, key, nonces.next()));
  const vouch = encodeVouch({ stream: STREAM, epoch: EPOCH }, run, server.privateKey);

  it('a VOUCH lists the digests of its datagrams, signed; they are believed once it is decoded', () => {
    expect(vouch.length).toBe(HEARTBEAT_BYTES + 3 * DIGEST_BYTES);
    expect(parseHeader(vouch)).toMatchObject({ type: 'vouch', firstSeq: 0, count: 3 });
    expect(parseHeader(run[0]!)).toMatchObject({ type: 'vouched-data', firstSeq: 10, count: 2 });
    const vouched = new VouchedDigests();
    expect(decodeDatagram(run[0]!, lookup, server.publicKey, vouched)).toEqual({ ok: false, reason: 'unvouched' });
    expect(decodeDatagram(vouch, lookup, server.publicKey, vouched)).toEqual({ ok: true, datagram: { type: 'vouch', stream: STREAM, epoch: EPOCH, digests: run.map(datagramDigest) } });
    run.forEach((d, i) => {
      expect(decodeDatagram(d, lookup, server.publicKey, vouched)).toEqual({
        ok: true,
        datagram: { type: 'data', stream: STREAM, epoch: EPOCH, firstSeq: 10 * (i + 1), messages: [msg(10 * (i + 1), `run ${i + 1}`), msg(10 * (i + 1) + 1, 'and')] },
      });
    });
    // A VOUCH needs no key: it is not sealed (its datagrams need one, as ever).
    const keyless = new VouchedDigests();
    expect(decodeDatagram(vouch, () => undefined, server.publicKey, keyless).ok).toBe(true);
    expect(decodeDatagram(run[0]!, () => undefined, server.publicKey, keyless)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('a member, who holds the chat key, can neither vouch nor slip a datagram of their own under a VOUCH', () => {
    const member = newSigningKeyPair();
    const forged = encodeVouchedData({ stream: STREAM, epoch: EPOCH, messages: [msg(10, 'I am the server')] }, key, nonces.next());
    const vouched = new VouchedDigests();
    expect(decodeDatagram(encodeVouch({ stream: STREAM, epoch: EPOCH }, [forged], member.privateKey), lookup, server.publicKey, vouched)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(decodeDatagram(forged, lookup, server.publicKey, vouched)).toEqual({ ok: false, reason: 'unvouched' });
    expect(decodeDatagram(vouch, lookup, server.publicKey, vouched).ok).toBe(true);
    expect(decodeDatagram(forged, lookup, server.publicKey, vouched)).toEqual({ ok: false, reason: 'unvouched' });
    // A vouched datagram with a signature appended, or its type turned into signed DATA: refused.
    expect(decodeDatagram(Buffer.concat([run[0]!, sign(member.privateKey, run[0]!)]), lookup, server.publicKey, vouched).ok).toBe(false);
    expect(decodeDatagram(withByte(run[0]!, 3, 1), lookup, server.publicKey, vouched).ok).toBe(false);
  });

  it('refuses every single-byte change of a VOUCH and of a vouched datagram, and every truncation', () => {
    for (const original of [vouch, run[1]!]) {
      for (const { mutated, what } of singleByteChanges(original)) {
        const vouched = new VouchedDigests();
        if (original !== vouch) decodeDatagram(vouch, lookup, server.publicKey, vouched);
        expect(decodeDatagram(mutated, lookup, server.publicKey, vouched).ok, what).toBe(false);
        // A mutated VOUCH vouches for nothing.
        if (original === vouch) expect(vouched.size).toBe(0);
      }
      const vouched = new VouchedDigests();
      decodeDatagram(vouch, lookup, server.publicKey, vouched);
      for (let length = 0; length < original.length; length++) expect(decodeDatagram(original.subarray(0, length), lookup, server.publicKey, vouched).ok).toBe(false);
    }
  });

  it('holds 1..MAX_VOUCHED_DATAGRAMS digests, and all of them fit a datagram', () => {
    const many = Array.from({ length: MAX_VOUCHED_DATAGRAMS }, (_, i) => encodeVouchedData({ stream: STREAM, epoch: EPOCH, messages: [msg(i + 1, 'x')] }, key, nonces.next()));
    const full = encodeVouch({ stream: STREAM, epoch: EPOCH }, many, server.privateKey);
    expect(full.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    expect(() => encodeVouch({ stream: STREAM, epoch: EPOCH }, [], server.privateKey)).toThrow(RangeError);
    expect(() => encodeVouch({ stream: STREAM, epoch: EPOCH }, [...many, many[0]!], server.privateKey)).toThrow(RangeError);
    // A count that disagrees with the length, or a nonce or seq where none belongs: malformed.
    const wrongCount = Buffer.from(full);
    wrongCount.writeUInt16BE(MAX_VOUCHED_DATAGRAMS - 1, 26);
    expect(parseHeader(wrongCount)).toEqual({ reason: 'malformed' });
    expect(parseHeader(withByte(vouch, 25, 1))).toEqual({ reason: 'malformed' });
    expect(parseHeader(withByte(vouch, 39, 1))).toEqual({ reason: 'malformed' });
  });
});

describe('decodeDatagram refusals', () => {
  const valid = data([msg(41, 'first'), msg(42, 'second 🙂')]);
  const heartbeat = encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 42 }, server.privateKey);

  it('rejects every single-byte change of a valid datagram', () => {
    for (const original of [valid, heartbeat]) {
      for (const { mutated, what } of singleByteChanges(original)) expect(decode(mutated).ok, what).toBe(false);
    }
  });

  it('rejects every truncation and extension', () => {
    for (let length = 0; length < valid.length; length++) expect(decode(valid.subarray(0, length)).ok).toBe(false);
    expect(decode(Buffer.concat([valid, Buffer.of(0)])).ok).toBe(false);
    for (let length = 0; length < heartbeat.length; length++) expect(decode(heartbeat.subarray(0, length)).ok).toBe(false);
  });

  it('says why: wrong server key, unknown epoch, wrong key, bad header', () => {
    expect(decodeDatagram(valid, lookup, newSigningKeyPair().publicKey)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(decodeDatagram(valid, () => undefined, server.publicKey)).toEqual({ ok: false, reason: 'unknown-key' });
    expect(decodeDatagram(valid, () => newChatKey(), server.publicKey)).toEqual({ ok: false, reason: 'undecryptable' });
    expect(decodeDatagram(valid, () => Buffer.alloc(3), server.publicKey)).toEqual({ ok: false, reason: 'undecryptable' });
    // Signed by an attacker under the right chat key: refused before decryption.
    const attacker = newSigningKeyPair();
    const forged = encodeData({ stream: STREAM, epoch: EPOCH, messages: [msg(43, 'forged')] }, key, nonces.next(), attacker.privateKey);
    expect(decode(forged)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(decode(encodeHeartbeat({ stream: STREAM, epoch: EPOCH, latestSeq: 1e6 }, attacker.privateKey))).toEqual({ ok: false, reason: 'bad-signature' });
    expect(decode(Buffer.from('hello'))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reads any 10 bytes as a stream id; another stream is known only by the lookup, and the signature covers it', () => {
    const other = Buffer.from(valid);
    Buffer.alloc(10, 0xff).copy(other, 4);
    expect(parseHeader(other)).toMatchObject({ type: 'data', stream: 'ff'.repeat(10) });
    // The stream id is signed and is the AEAD's associated data: moved to another stream, a
    // datagram is refused even by a receiver that would hold the right key there.
    expect(decodeDatagram(other, () => key, server.publicKey)).toEqual({ ok: false, reason: 'bad-signature' });
    // Even re-signed by the server's own key, the body was sealed under the first header.
    const resigned = Buffer.concat([other.subarray(0, other.length - 64), sign(server.privateKey, other.subarray(0, other.length - 64))]);
    expect(decodeDatagram(resigned, () => key, server.publicKey)).toEqual({ ok: false, reason: 'undecryptable' });
    // A genuine datagram of another stream: the lookup does not know it.
    const elsewhere = encodeData({ stream: 'ff'.repeat(10), epoch: EPOCH, messages: [msg(1, 'x')] }, key, nonces.next(), server.privateKey);
    expect(decode(elsewhere)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('parseHeader names unknown versions and types', () => {
    // Version 1 named the chat by its code: its datagrams are not read as streams.
    for (const version of [1, 3]) {
      const other = Buffer.from(valid);
      other[2] = version;
      expect(parseHeader(other)).toEqual({ reason: 'unknown-version' });
    }
    // Types 3 (PROBE), 4 (EVENTS), 5 (VOUCH) and 6 (VOUCHED DATA) came without a new version; 7 and up are unknown.
    expect(parseHeader(withByte(valid, 3, 7))).toEqual({ reason: 'unknown-type' });
    expect(parseHeader(withByte(valid, 3, 9))).toEqual({ reason: 'unknown-type' });
    expect(parseHeader(Buffer.alloc(0))).toEqual({ reason: 'malformed' });
  });

  it('refuses a first seq beyond Number.MAX_SAFE_INTEGER', () => {
    const tooBig = Buffer.from(heartbeat);
    tooBig.writeBigUInt64BE(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 18);
    expect(parseHeader(tooBig)).toEqual({ reason: 'malformed' });
    const lastSeqTooBig = Buffer.from(valid);
    lastSeqTooBig.writeBigUInt64BE(BigInt(Number.MAX_SAFE_INTEGER), 18); // two messages: last is unsafe
    expect(parseHeader(lastSeqTooBig)).toEqual({ reason: 'malformed' });
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        expect(decode(Buffer.from(bytes)).ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on random bytes behind a valid-looking header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: HEADER_BYTES }), (tail, keep) => {
        const buf = Buffer.concat([valid.subarray(0, keep), Buffer.from(tail)]);
        expect(decode(buf).ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('drops a correctly signed and sealed body that does not parse', () => {
    // The server's own keys over a malformed body: only the body parser stands in the way.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 5 }), (body, count) => {
        const buf = sealedRaw(Buffer.from(body), count);
        const result = decode(buf);
        // Random bytes are well formed only by rare luck; otherwise the drop is 'malformed'.
        if (!result.ok) expect(result.reason).toBe('malformed');
      }),
      { numRuns: 2000 },
    );
  });
});

/** A datagram with a valid signature and seal around an arbitrary body. */
function sealedRaw(body: Buffer, count: number): Buffer {
  const real = data(Array.from({ length: count }, (_, i) => msg(1 + i, '')));
  const header = Buffer.from(real.subarray(0, HEADER_BYTES));
  const nonce = nonces.next();
  nonce.copy(header, 28);
  const unsigned = Buffer.concat([header, seal(key, nonce, body, header)]);
  return Buffer.concat([unsigned, sign(server.privateKey, unsigned)]);
}

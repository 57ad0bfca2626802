import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChorusError } from './errors.js';
import { type Frame, FrameDecoder, FrameError, encodeFrame, validateFrame } from './frames.js';
import { MAX_FRAME_BYTES } from './limits.js';

const SAMPLES: Frame[] = [
  { t: 'hello', v: 1, token: 'abc_DEF-123' },
  { t: 'welcome', v: 1, userId: 7 },
  { t: 'welcome', v: 3, userId: 7, progress: true },
  { t: 'progress', chat: 'ABCDE-FGHJK', delivered: 0, repaired: 0 },
  { t: 'progress', chat: 'ABCDE-FGHJK', delivered: 9000, repaired: 1_000_000 },
  { t: 'send', id: 'm-1_a', chat: 'ABCDE-FGHJK', text: 'héllo 👋 "quoted" \\ \n' },
  { t: 'send', id: 'x', chat: 'ABCDEFGHJK', text: '' },
  { t: 'ack', id: 'm-1_a', chat: 'ABCDE-FGHJK', seq: 42, sentAt: '2024-05-01T12:00:00.123Z' },
  { t: 'error', id: 'm-1_a', code: 'NOT_A_MEMBER', message: 'You are not a member' },
  { t: 'error', code: 'UNAUTHENTICATED', message: 'Say hello first' },
  { t: 'ping' },
  { t: 'pong' },
  { t: 'probe', chat: 'ABCDE-FGHJK', nonce: 'MDEyMzQ1Njc4OWFi' },
  { t: 'probed', chat: 'ABCDE-FGHJK', nonce: 'MDEyMzQ1Njc4OWFi', latestSeq: 0 },
  { t: 'watch', chat: 'ABCDE-FGHJK', after: 12 },
  { t: 'unwatch', chat: 'ABCDE-FGHJK' },
  {
    t: 'messages',
    chat: 'ABCDE-FGHJK',
    messages: [
      { seq: 3, sender: { id: 2, name: 'Zoë' }, text: 'hi', sentAt: '2024-05-01T12:00:00Z', clientMsgId: 'c1' },
      { seq: 4, sender: { id: 3, name: 'Ann' }, text: '', sentAt: '2024-05-01T12:00:01Z', clientMsgId: 'c2' },
    ],
  },
  { t: 'refusal', about: 'watch', chat: 'ABCDE-FGHJK', code: 'NOT_A_MEMBER', message: 'not yours' },
  { t: 'refusal', about: 'probe', chat: 'ABCDE-FGHJK', code: 'TOO_MANY_REQUESTS', message: 'slow down', retryAfterMs: 500 },
  { t: 'typing', chat: 'ABCDE-FGHJK', on: true },
  { t: 'presence', state: 'away' },
  {
    t: 'events',
    chat: 'ABCDE-FGHJK',
    events: [
      { kind: 'typing', userId: 2, name: 'Ben', on: false },
      { kind: 'read', userId: 3, name: 'Cleo', seq: 41 },
      { kind: 'presence', userId: 4, name: 'Dan', state: 'offline' },
      { kind: 'membership', userId: 5, name: 'Eve', change: 'joined' },
      { kind: 'membership', userId: 6, name: 'Fay', change: 'left' },
    ],
  },
];

describe('delivery frames', () => {
  const message = { seq: 3, sender: { id: 2, name: 'Zoë' }, text: 'hi', sentAt: '2024-05-01T12:00:00Z', clientMsgId: 'c1' };
  it('refuses pushed messages that are not consecutive, or none', () => {
    expect(() => validateFrame({ t: 'messages', chat: 'ABCDE-FGHJK', messages: [message, { ...message, seq: 5 }] })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'messages', chat: 'ABCDE-FGHJK', messages: [] })).toThrow(FrameError);
  });
  it('refuses a probe nonce of the wrong length or alphabet', () => {
    for (const nonce of ['', 'MDEyMzQ1Njc4OWF', 'MDEyMzQ1Njc4OWFiA', 'MDEyMzQ1Njc4OW+i']) {
      expect(() => validateFrame({ t: 'probe', chat: 'ABCDE-FGHJK', nonce })).toThrow(FrameError);
    }
  });
  it('refuses events that are not valid, and presence states a client may not claim', () => {
    expect(() => validateFrame({ t: 'events', chat: 'ABCDE-FGHJK', events: [{ kind: 'typing', userId: 0, name: 'x', on: true }] })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'events', chat: 'ABCDE-FGHJK', events: [{ kind: 'dance', userId: 1, name: 'x' }] })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'events', chat: 'ABCDE-FGHJK', events: [{ kind: 'membership', userId: 1, name: 'x', change: 'banned' }] })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'events', chat: 'ABCDE-FGHJK', events: [] })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'presence', state: 'offline' })).toThrow(FrameError);
    expect(() => validateFrame({ t: 'typing', chat: 'ABCDE-FGHJK', on: 'yes' })).toThrow(FrameError);
  });

  it('refuses a refusal about anything but a probe, a watch or typing', () => {
    expect(() => validateFrame({ t: 'refusal', about: 'send', chat: 'ABCDE-FGHJK', code: 'NOT_A_MEMBER', message: 'x' })).toThrow(FrameError);
    expect(validateFrame({ t: 'refusal', about: 'typing', chat: 'ABCDE-FGHJK', code: 'TOO_MANY_REQUESTS', message: 'x' })).toMatchObject({ about: 'typing' });
  });
});

/** A frame with an arbitrary JSON body. */
function rawFrame(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length);
  return Buffer.concat([prefix, bytes]);
}

function decodeAll(bytes: Buffer): Frame[] {
  return new FrameDecoder().push(bytes);
}

function expectFrameError(fn: () => unknown, code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE') {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    expect(error).toBeInstanceOf(ChorusError);
    expect((error as FrameError).code).toBe(code);
    return;
  }
  throw new Error('expected a FrameError');
}

describe('encodeFrame / FrameDecoder', () => {
  it('round-trips every frame type', () => {
    for (const frame of SAMPLES) expect(decodeAll(encodeFrame(frame))).toEqual([frame]);
  });

  it('writes a 4-byte big-endian length then UTF-8 JSON', () => {
    const bytes = encodeFrame({ t: 'ping' });
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    expect(bytes.subarray(4).toString('utf8')).toBe('{"t":"ping"}');
  });

  it('decodes several frames in one chunk', () => {
    const all = Buffer.concat(SAMPLES.map(encodeFrame));
    expect(decodeAll(all)).toEqual(SAMPLES);
  });

  it('decodes frames split at every possible point, and byte by byte', () => {
    const all = Buffer.concat(SAMPLES.map(encodeFrame));
    for (let cut = 0; cut <= all.length; cut++) {
      const decoder = new FrameDecoder();
      const frames = [...decoder.push(all.subarray(0, cut)), ...decoder.push(all.subarray(cut))];
      expect(frames).toEqual(SAMPLES);
      expect(decoder.bufferedBytes).toBe(0);
    }
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let i = 0; i < all.length; i++) frames.push(...decoder.push(all.subarray(i, i + 1)));
    expect(frames).toEqual(SAMPLES);
  });

  it('decodes any chunking of any sequence of frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...SAMPLES), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (frames, sizes) => {
          const all = Buffer.concat(frames.map(encodeFrame));
          const decoder = new FrameDecoder();
          const out: Frame[] = [];
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const size = sizes[i % sizes.length]!;
            out.push(...decoder.push(all.subarray(at, at + size)));
            at += size;
          }
          expect(out).toEqual(frames);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES, split across chunks', () => {
    const frame: Frame = { t: 'send', id: 'big', chat: 'ABCDEFGHJK', text: '' };
    const overhead = encodeFrame(frame).length - 4;
    const big: Frame = { ...frame, text: 'x'.repeat(MAX_FRAME_BYTES - overhead) };
    const bytes = encodeFrame(big);
    expect(bytes.length).toBe(4 + MAX_FRAME_BYTES);
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (let at = 0; at < bytes.length; at += 1000) out.push(...decoder.push(bytes.subarray(at, at + 1000)));
    expect(out).toEqual([big]);
  });

  it('refuses to encode a frame over MAX_FRAME_BYTES', () => {
    expectFrameError(() => encodeFrame({ t: 'send', id: 'a', chat: 'ABCDEFGHJK', text: 'é'.repeat(MAX_FRAME_BYTES / 2) }), 'PAYLOAD_TOO_LARGE');
  });

  it('ignores unknown fields', () => {
    const [frame] = decodeAll(rawFrame('{"t":"ping","extra":1,"__proto__":{"polluted":true}}'));
    expect(frame).toEqual({ t: 'ping' });
    expect(Object.keys(frame!)).toEqual(['t']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a welcome's `progress` counts only as true: another value is a field this client does not know, dropped", () => {
    for (const value of ['false', '1', '"yes"', 'null', '{}']) {
      const [frame] = decodeAll(rawFrame(`{"t":"welcome","v":3,"userId":2,"progress":${value}}`));
      expect(frame).toEqual({ t: 'welcome', v: 3, userId: 2 });
    }
  });
});

describe('FrameDecoder refusals', () => {
  it('refuses an oversized length from its 4-byte prefix alone, before the body arrives', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expectFrameError(() => decodeAll(prefix), 'PAYLOAD_TOO_LARGE');
    // The prefix split over chunks, after a good frame.
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.concat([encodeFrame({ t: 'ping' }), prefix.subarray(0, 2)]))).toEqual([{ t: 'ping' }]);
    expectFrameError(() => decoder.push(prefix.subarray(2)), 'PAYLOAD_TOO_LARGE');
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    expectFrameError(() => decodeAll(huge), 'PAYLOAD_TOO_LARGE');
  });

  it('stays failed after an error', () => {
    const decoder = new FrameDecoder();
    expectFrameError(() => decoder.push(rawFrame('nope')), 'BAD_REQUEST');
    expectFrameError(() => decoder.push(encodeFrame({ t: 'ping' })), 'BAD_REQUEST');
  });

  it.each([
    ['not JSON', 'nope'],
    ['empty body', ''],
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"ping"'],
    ['no type', '{}'],
    ['unknown type', '{"t":"shout"}'],
    ['type not a string', '{"t":1}'],
    ['hello without token', '{"t":"hello","v":1}'],
    ['hello with empty token', '{"t":"hello","v":1,"token":""}'],
    ['hello with a long token', `{"t":"hello","v":1,"token":"${'a'.repeat(513)}"}`],
    ['hello with version 0', '{"t":"hello","v":0,"token":"a"}'],
    ['hello with fractional version', '{"t":"hello","v":1.5,"token":"a"}'],
    ['hello with version as string', '{"t":"hello","v":"1","token":"a"}'],
    ['welcome with userId 0', '{"t":"welcome","v":1,"userId":0}'],
    ['progress without chat', '{"t":"progress","delivered":1,"repaired":1}'],
    ['progress with a long chat', `{"t":"progress","chat":"${'A'.repeat(33)}","delivered":1,"repaired":1}`],
    ['progress with delivered -1', '{"t":"progress","chat":"ABCDEFGHJK","delivered":-1,"repaired":0}'],
    ['progress with fractional delivered', '{"t":"progress","chat":"ABCDEFGHJK","delivered":1.5,"repaired":0}'],
    ['progress with huge delivered', '{"t":"progress","chat":"ABCDEFGHJK","delivered":1e300,"repaired":0}'],
    ['progress without repaired', '{"t":"progress","chat":"ABCDEFGHJK","delivered":1}'],
    ['progress with repaired as string', '{"t":"progress","chat":"ABCDEFGHJK","delivered":1,"repaired":"3"}'],
    ['progress with repaired past the limit', '{"t":"progress","chat":"ABCDEFGHJK","delivered":1,"repaired":1000001}'],
    ['send with empty id', '{"t":"send","id":"","chat":"ABCDEFGHJK","text":"x"}'],
    ['send with 65-char id', `{"t":"send","id":"${'a'.repeat(65)}","chat":"ABCDEFGHJK","text":"x"}`],
    ['send with a space in id', '{"t":"send","id":"a b","chat":"ABCDEFGHJK","text":"x"}'],
    ['send with a non-ASCII id', '{"t":"send","id":"é","chat":"ABCDEFGHJK","text":"x"}'],
    ['send with id ending in newline', '{"t":"send","id":"abc\\n","chat":"ABCDEFGHJK","text":"x"}'],
    ['send with numeric text', '{"t":"send","id":"a","chat":"ABCDEFGHJK","text":5}'],
    ['send with null text', '{"t":"send","id":"a","chat":"ABCDEFGHJK","text":null}'],
    ['send without chat', '{"t":"send","id":"a","text":"x"}'],
    ['send with a long chat', `{"t":"send","id":"a","chat":"${'A'.repeat(33)}","text":"x"}`],
    ['ack with seq 0', '{"t":"ack","id":"a","chat":"ABCDEFGHJK","seq":0,"sentAt":"2024-05-01T12:00:00Z"}'],
    ['ack with huge seq', '{"t":"ack","id":"a","chat":"ABCDEFGHJK","seq":1e300,"sentAt":"2024-05-01T12:00:00Z"}'],
    ['ack with a bad time', '{"t":"ack","id":"a","chat":"ABCDEFGHJK","seq":1,"sentAt":"yesterday"}'],
    ['error with unknown code', '{"t":"error","code":"NOPE","message":"x"}'],
    ['error with inherited code', '{"t":"error","code":"toString","message":"x"}'],
    ['error with a bad id', '{"t":"error","id":"a b","code":"INTERNAL","message":"x"}'],
    ['error without message', '{"t":"error","code":"INTERNAL"}'],
    ['message without sender', '{"t":"message","chat":"ABCDEFGHJK","seq":1,"text":"x","sentAt":"2024-05-01T12:00:00Z","clientMsgId":"a"}'],
    ['message with sender as array', '{"t":"message","chat":"ABCDEFGHJK","seq":1,"sender":[1,"x"],"text":"x","sentAt":"2024-05-01T12:00:00Z","clientMsgId":"a"}'],
    ['message with sender id as string', '{"t":"message","chat":"ABCDEFGHJK","seq":1,"sender":{"id":"1","name":"x"},"text":"x","sentAt":"2024-05-01T12:00:00Z","clientMsgId":"a"}'],
  ])('refuses %s with BAD_REQUEST', (_name, body) => {
    expectFrameError(() => decodeAll(rawFrame(body)), 'BAD_REQUEST');
  });

  it('refuses ill-formed UTF-16 (a lone surrogate, as JSON may spell it) in any text, and takes surrogate pairs', () => {
    for (const body of [
      '{"t":"send","id":"a","chat":"ABCDEFGHJK","text":"\\ud800"}',
      '{"t":"send","id":"a","chat":"ABCDEFGHJK","text":"x\\udc00y"}',
      '{"t":"send","id":"a","chat":"ABCDEFGHJK","text":"\\ude00\\ud83d"}',
      '{"t":"send","id":"a","chat":"ABCDE\\ud800","text":"x"}',
      '{"t":"hello","v":1,"token":"abc\\udfff"}',
      '{"t":"messages","chat":"ABCDEFGHJK","messages":[{"seq":1,"sender":{"id":1,"name":"\\ud800"},"text":"x","sentAt":"2024-05-01T12:00:00Z","clientMsgId":"a"}]}',
      '{"t":"messages","chat":"ABCDEFGHJK","messages":[{"seq":1,"sender":{"id":1,"name":"a"},"text":"\\udfff","sentAt":"2024-05-01T12:00:00Z","clientMsgId":"a"}]}',
    ]) {
      expect(() => new FrameDecoder().push(rawFrame(body)), body).toThrow(/not well-formed Unicode/);
      expectFrameError(() => decodeAll(rawFrame(body)), 'BAD_REQUEST');
    }
    const pair = decodeAll(rawFrame('{"t":"send","id":"a","chat":"ABCDEFGHJK","text":"\\ud83d\\ude00 ok"}'));
    expect(pair).toEqual([{ t: 'send', id: 'a', chat: 'ABCDEFGHJK', text: '😀 ok' }]);
  });

  it('refuses invalid UTF-8', () => {
    expectFrameError(() => decodeAll(rawFrame(Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))), 'BAD_REQUEST');
  });

  it('throws nothing but FrameError, whatever bytes arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const decoder = new FrameDecoder();
        for (const chunk of chunks) {
          try {
            decoder.push(Buffer.from(chunk));
          } catch (error) {
            expect(error).toBeInstanceOf(FrameError);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('throws nothing but FrameError for arbitrary JSON bodies', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          const [frame] = decodeAll(rawFrame(JSON.stringify(value) ?? 'null'));
          // Whatever passes validation is a frame that survives a round trip.
          expect(decodeAll(encodeFrame(frame!))).toEqual([frame]);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('validateFrame accepts objects shaped like each frame type', () => {
    for (const frame of SAMPLES) expect(validateFrame(JSON.parse(JSON.stringify(frame)))).toEqual(frame);
  });
});

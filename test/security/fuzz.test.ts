import fc from 'fast-check';
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sender } from '../../src/client/sender.js';
import { NonceSource, seal, sign } from '../../src/protocol/crypto.js';
import { HEADER_BYTES, decodeDatagram, encodeData, parseHeader } from '../../src/protocol/datagram.js';
import { type Frame, FrameDecoder, FrameError, encodeFrame, validateFrame } from '../../src/protocol/frames.js';
import { DATAGRAM_VERSION, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/limits.js';
import { EPOCH, STREAM, attackerDatagramArb, bodyArb, genuine, genuineSet, keys, lookup, server, vouchedByServer } from './support/datagram-inputs.js';
import { chunk, cutsArb, politeStreamArb, streamArb } from './support/frame-inputs.js';
import { answerFault, rawAnswerFault, send, sendRaw } from './support/http-answers.js';
import { fuzzConnection } from './support/tcp-fuzz.js';
import { type FuzzRequest, type FuzzWorld, rawHttpArb, requestArb } from './support/http-requests.js';
import { connectedSender } from '../support/messaging.js';
import { http, signUp, startTestServer, type TestServer } from '../support/server.js';

/**
 * Fuzzing the three ways in from the network: multicast datagrams, TCP frames and the HTTP API.
 * RUNS inputs each (100,000 unless CHORUS_FUZZ_RUNS says otherwise, for a quick local run).
 * A failing case prints fast-check's seed and the shrunk input.
 */
const RUNS = Number(process.env.CHORUS_FUZZ_RUNS ?? 100_000);
const HANG_GUARD_MS = 600_000;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

function fail(message: string): never {
  throw new Error(message);
}

describe('datagram decoder', () => {
  const DROP_REASONS = new Set(['malformed', 'bad-signature', 'unvouched', 'unknown-key', 'undecryptable']);
  const HEADER_REASONS = new Set(['malformed', 'unknown-version', 'unknown-type']);

  it(
    `takes ${RUNS} random and mutated datagrams without throwing, and accepts only genuine ones`,
    () => {
      let inputs = 0;
      const seen = new Map<string, number>();
      // The receiver has had the server's VOUCH for the genuine run: its datagrams are believed.
      const vouched = vouchedByServer();
      fc.assert(
        fc.property(attackerDatagramArb, (datagram) => {
          inputs++;
          const header = parseHeader(datagram);
          if ('reason' in header) {
            if (!HEADER_REASONS.has(header.reason)) fail(`parseHeader reason ${header.reason}`);
          } else if (!/^[0-9a-f]{20}$/.test(header.stream) || !Number.isSafeInteger(header.firstSeq) || header.nonce.length !== 12) {
            fail(`parseHeader returned a bad header ${JSON.stringify(header)}`);
          }
          const result = decodeDatagram(datagram, lookup, server.publicKey, vouched);
          const outcome = result.ok ? 'accepted' : result.reason;
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
          if (result.ok) {
            if (!genuineSet.has(datagram.toString('base64'))) fail('accepted a datagram the server never sent');
          } else {
            if (!DROP_REASONS.has(result.reason)) fail(`unknown drop reason ${result.reason}`);
            if ('reason' in header && result.reason !== 'malformed') fail('a bad header must be malformed');
          }
        }),
        { numRuns: RUNS },
      );
      expect(inputs).toBeGreaterThanOrEqual(RUNS);
      // The inputs reached every check, not only the first.
      for (const outcome of ['accepted', 'malformed', 'bad-signature', 'unvouched', 'unknown-key', 'undecryptable']) expect(seen.get(outcome) ?? 0).toBeGreaterThan(0);
      // Nothing an attacker sent made a digest believed that the server's VOUCH did not name.
      expect(vouched.size).toBe(2);
    },
    HANG_GUARD_MS,
  );

  it(
    'behind a valid seal and signature, accepts a body only if it is the canonical encoding of what it decodes to',
    () => {
      const nonces = new NonceSource();
      let accepted = 0;
      fc.assert(
        fc.property(bodyArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 2 ** 40 }), (body, count, firstSeq) => {
          const header = Buffer.alloc(HEADER_BYTES);
          header.write('CH', 0, 'latin1');
          header.writeUInt8(DATAGRAM_VERSION, 2);
          header.writeUInt8(1, 3);
          header.write(STREAM, 4, 'hex');
          header.writeUInt32BE(EPOCH, 14);
          header.writeUInt32BE(Math.floor(firstSeq / 2 ** 32), 18);
          header.writeUInt32BE(firstSeq >>> 0, 22);
          header.writeUInt16BE(count, 26);
          const nonce = nonces.next();
          nonce.copy(header, 28);
          const signed = Buffer.concat([header, seal(keys.get(EPOCH)!, nonce, body, header)]);
          const datagram = Buffer.concat([signed, sign(server.privateKey, signed)]);
          const result = decodeDatagram(datagram, lookup, server.publicKey);
          if (!result.ok) {
            if (result.reason !== 'malformed') fail(`a body can only be malformed, not ${result.reason}`);
            return;
          }
          accepted++;
          if (result.datagram.type !== 'data') fail('a DATA datagram decoded as a heartbeat');
          const again = encodeData({ stream: STREAM, epoch: EPOCH, messages: result.datagram.messages }, keys.get(EPOCH)!, nonce, server.privateKey);
          if (!again.equals(datagram)) fail('decoded a body that does not re-encode to the same bytes');
        }),
        { numRuns: Math.ceil(RUNS / 5) },
      );
      expect(accepted).toBeGreaterThan(0);
    },
    HANG_GUARD_MS,
  );

  it('accepts the genuine datagrams under keys the receiver holds (the checks are not refusing everything)', () => {
    const vouched = vouchedByServer();
    const outcomes = genuine.map((d) => {
      const result = decodeDatagram(d, lookup, server.publicKey, vouched);
      return result.ok ? 'accepted' : result.reason;
    });
    expect(outcomes).toEqual([...Array(13).fill('accepted'), 'unknown-key', 'unknown-key', 'undecryptable']);
    // Without the VOUCH, the run's datagrams are not believed.
    expect(genuine.slice(11, 13).map((d) => decodeDatagram(d, lookup, server.publicKey))).toEqual([
      { ok: false, reason: 'unvouched' },
      { ok: false, reason: 'unvouched' },
    ]);
  });
});

describe('TCP frame decoder', () => {
  /** Feeds chunks; returns the frames before any error, and the error. */
  function decode(chunks: Buffer[]): { frames: Frame[]; error?: FrameError } {
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (const c of chunks) {
      try {
        frames.push(...decoder.push(c));
      } catch (error) {
        if (!(error instanceof FrameError)) fail(`threw ${String(error)}, not a FrameError`);
        if (error.code !== 'BAD_REQUEST' && error.code !== 'PAYLOAD_TOO_LARGE') fail(`FrameError code ${error.code}`);
        // A failed decoder stays failed, with the same error.
        let again: unknown;
        try {
          decoder.push(Buffer.from('{}'));
        } catch (e) {
          again = e;
        }
        if (again !== error) fail('a failed decoder accepted more input');
        return { frames, error };
      }
      if (decoder.bufferedBytes > 4 + MAX_FRAME_BYTES) fail(`holds ${decoder.bufferedBytes} bytes`);
    }
    return { frames };
  }

  it(
    `takes ${RUNS} random and mutated chunk streams, throwing nothing but FrameError, whatever the chunking`,
    () => {
      let streams = 0;
      let framesOut = 0;
      let failures = 0;
      fc.assert(
        fc.property(streamArb(), cutsArb, (stream, cuts) => {
          streams++;
          const whole = decode([stream]);
          const chunked = decode(chunk(stream, cuts));
          // Chunk boundaries change nothing: the same frames, or the same error.
          if (whole.error) {
            failures++;
            if (chunked.error?.code !== whole.error.code) fail(`one chunk: ${whole.error.code}; chunked: ${chunked.error?.code ?? 'no error'}`);
          } else {
            if (chunked.error) fail(`chunked failed with ${chunked.error.code}, one chunk did not`);
            expect(chunked.frames).toEqual(whole.frames);
          }
          for (const frame of chunked.frames) {
            framesOut++;
            // Only valid frames come out, and they survive a round trip.
            const again = new FrameDecoder().push(encodeFrame(frame));
            if (again.length !== 1) fail('a decoded frame does not re-encode to one frame');
            expect(again[0]).toEqual(frame);
            expect(validateFrame(JSON.parse(JSON.stringify(frame)))).toEqual(frame);
          }
        }),
        { numRuns: RUNS },
      );
      expect(streams).toBeGreaterThanOrEqual(RUNS);
      expect(framesOut).toBeGreaterThan(RUNS / 10);
      expect(failures).toBeGreaterThan(RUNS / 10);
    },
    HANG_GUARD_MS,
  );

  it('takes a largest frame one byte at a time, and many tiny frames in one chunk', () => {
    const big = encodeFrame({ t: 'send', id: 'big', chat: 'ABCDEFGHJK', text: 'x'.repeat(MAX_FRAME_BYTES - 60) });
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let i = 0; i < big.length; i++) frames.push(...decoder.push(big.subarray(i, i + 1)));
    expect(frames).toHaveLength(1);
    const pings = Buffer.concat(Array.from({ length: 100_000 }, () => encodeFrame({ t: 'ping' })));
    expect(new FrameDecoder().push(pings)).toHaveLength(100_000);
  });
});

/** A real user of the server under attack: everything they do must keep working. */
async function realUser(server: TestServer) {
  const alice = await signUp(server.httpUrl, 'Alice');
  const call = http(server.httpUrl);
  const chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Real work' } })).body as { code: string };
  const sender: Sender = await connectedSender(server.httpUrl, alice.token);
  const first = await sender.send(chat.code, 'hello from the real user');
  let checks = 0;
  return {
    alice,
    chat,
    get checks() {
      return checks;
    },
    /** Reads and writes as Alice, over HTTP and TCP, and checks every answer. */
    async check(): Promise<void> {
      const me = await call('GET', '/api/me', { token: alice.token });
      expect(me).toMatchObject({ status: 200, body: { id: alice.user.id } });
      const head = await call('GET', `/api/chats/${chat.code}/messages?after=0&limit=1`, { token: alice.token });
      expect(head.status).toBe(200);
      expect(head.body.messages[0]).toMatchObject({ seq: first.seq, text: 'hello from the real user', sender: { id: alice.user.id } });
      const text = `check ${checks}`;
      const ack = await sender.send(chat.code, text);
      const page = await call('GET', `/api/chats/${chat.code}/messages?after=${ack.seq - 1}&limit=1`, { token: alice.token });
      expect(page.body.messages).toEqual([expect.objectContaining({ seq: ack.seq, text, sender: { id: alice.user.id, name: 'Alice' } })]);
      checks++;
    },
    sender,
    close: () => sender.close(),
  };
}

/** Every message of a chat after `after`, page by page. */
async function historyAfter(server: TestServer, token: string, code: string, after: number) {
  const call = http(server.httpUrl);
  const all: { seq: number; text: string }[] = [];
  for (;;) {
    const page = await call('GET', `/api/chats/${code}/messages?after=${all.at(-1)?.seq ?? after}&limit=500`, { token });
    expect(page.status).toBe(200);
    all.push(...page.body.messages);
    if (page.body.messages.length < 500) return all;
  }
}

/** Runs `task` over `items` with `width` at a time. */
async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

describe('HTTP API under fuzzing', () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof realUser>>;
  let world: FuzzWorld;
  let port: number;

  beforeAll(async () => {
    server = await startTestServer();
    port = Number(new URL(server.httpUrl).port);
    user = await realUser(server);
    const mallory = await signUp(server.httpUrl, 'Mallory');
    const call = http(server.httpUrl);
    const own = await call('POST', '/api/chats', { token: mallory.token, json: { name: 'Mallory’s' } });
    world = {
      token: mallory.token,
      email: mallory.email,
      password: mallory.password,
      chatCodes: [user.chat.code, own.body.code],
      userIds: [user.alice.user.id, mallory.user.id],
    };
  });
  afterAll(async () => {
    user?.close();
    await server?.dispose();
  });

  it(
    `answers ${RUNS} random and mutated requests without a 5xx, every error a problem document, while serving a real user`,
    async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const seed = Number(process.env.CHORUS_FUZZ_SEED ?? Date.now() % 1_000_000);
      const faults: string[] = [];
      const statuses = new Map<number, number>();
      let answered = 0;
      const BATCH = 5000;
      const userChecks: Promise<void>[] = [];
      for (let start = 0; start < RUNS; start += BATCH) {
        const batch = fc.sample(requestArb(world), { numRuns: Math.min(BATCH, RUNS - start), seed: seed + start });
        // The real user acts while the fuzzer is busy, not between its batches.
        userChecks.push(new Promise((resolve) => setTimeout(resolve, 200)).then(() => user.check()));
        await inParallel(batch, 32, async (r: FuzzRequest) => {
          try {
            const answer = await send(port, agent, r);
            answered++;
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            const fault = answerFault(r, answer);
            if (fault && faults.length < 20) faults.push(`${fault} ← ${r.method} ${r.path.slice(0, 120)} ${JSON.stringify(r.headers).slice(0, 200)} body ${r.body?.length ?? 0} bytes: ${r.body?.toString('latin1').slice(0, 80) ?? ''}`);
          } catch (error) {
            if (faults.length < 20) faults.push(`${String(error)} ← ${r.method} ${r.path.slice(0, 120)} body ${r.body?.length ?? 0} bytes`);
          }
        });
      }
      await Promise.all(userChecks);
      await user.check();
      agent.destroy();
      expect(faults, `seed ${seed}`).toEqual([]);
      expect(answered).toBeGreaterThanOrEqual(RUNS);
      expect(user.checks).toBeGreaterThanOrEqual(Math.ceil(RUNS / BATCH) + 1);
      // The inputs reached past authentication and validation.
      for (const status of [200, 201, 400, 401, 403, 404]) expect(statuses.get(status) ?? 0, `answers ${status}`).toBeGreaterThan(0);
      console.info(`HTTP fuzz (seed ${seed}): ${answered} answers`, Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])));
    },
    HANG_GUARD_MS,
  );

  it('answers bad paths, over-long parameters and malformed HTTP as problem documents', async () => {
    const call = http(server.httpUrl);
    for (const path of ['/api/%zz', `/api/chats/${'Z'.repeat(200)}/messages`]) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 400, code: 'BAD_REQUEST', type: 'urn:chorus:error:BAD_REQUEST' });
    }
    for (const [raw, status] of [
      ['FOO /api/me HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [`GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`, 431],
    ] as const) {
      const answer = (await sendRaw(port, Buffer.from(raw))).toString('latin1');
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status, code: 'BAD_REQUEST' });
    }
  });

  it(
    'refuses malformed HTTP on raw connections, and keeps serving',
    async () => {
      const seed = Number(process.env.CHORUS_FUZZ_SEED ?? Date.now() % 1_000_000);
      const inputs = fc.sample(rawHttpArb, { numRuns: Math.ceil(RUNS / 50), seed });
      const faults: string[] = [];
      await inParallel(inputs, 16, async (bytes) => {
        try {
          const fault = rawAnswerFault(await sendRaw(port, bytes));
          if (fault && faults.length < 20) faults.push(`${fault} ← ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}`);
        } catch (error) {
          if (faults.length < 20) faults.push(`${String(error)} ← ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}`);
        }
      });
      await user.check();
      expect(faults, `seed ${seed}`).toEqual([]);
    },
    HANG_GUARD_MS,
  );
});

describe('TCP ingest under fuzzing', () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof realUser>>;
  let mallory: Awaited<ReturnType<typeof signUp>>;
  let malloryChat: string;

  beforeAll(async () => {
    server = await startTestServer();
    user = await realUser(server);
    mallory = await signUp(server.httpUrl, 'Mallory');
    malloryChat = (await http(server.httpUrl)('POST', '/api/chats', { token: mallory.token, json: { name: 'Mallory’s' } })).body.code;
  });
  afterAll(async () => {
    user?.close();
    await server?.dispose();
  });

  it(
    'takes random and mutated frames from many connections while a real user keeps sending and getting acks',
    async () => {
      const CONNECTIONS = Math.ceil(RUNS / 20);
      const seed = Number(process.env.CHORUS_FUZZ_SEED ?? Date.now() % 1_000_000);
      const hello = encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: mallory.token });
      // Half the connections log in first, so that their frames get past authentication.
      const chats = [malloryChat, user.chat.code];
      const streams = fc.oneof(streamArb(mallory.token, chats), politeStreamArb(mallory.token, chats));
      const inputs = fc.sample(fc.tuple(streams, cutsArb, fc.boolean(), fc.boolean()), { numRuns: CONNECTIONS, seed });

      // The real user sends all along, one message at a time, and checks each ack.
      let fuzzing = true;
      const acks: { seq: number; text: string }[] = [];
      const sending = (async () => {
        for (let i = 0; fuzzing; i++) {
          const text = `steady ${i}`;
          acks.push({ seq: (await user.sender.send(user.chat.code, text)).seq, text });
          await new Promise((r) => setTimeout(r, 10));
        }
      })();

      const faults: string[] = [];
      const seen = { bytes: 0, frames: 0, welcomes: 0, acks: 0, errors: new Map<string, number>() };
      await inParallel(inputs, 32, async ([stream, cuts, login, linger]) => {
        const bytes = login ? Buffer.concat([hello, stream]) : stream;
        const c = await fuzzConnection(server.tcpPort, chunk(stream, cuts), linger ? 'linger' : 'end', login ? hello : undefined);
        seen.bytes += bytes.length;
        const fault = (what: string) => faults.length < 20 && faults.push(`${what} ← ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
        if (c.badAnswer) fault(c.badAnswer);
        const sentToken = bytes.includes(Buffer.from(mallory.token));
        for (const f of c.frames) {
          seen.frames++;
          if (f.t === 'welcome') {
            seen.welcomes++;
            if (!sentToken) fault('welcome without the session token');
            if (f.userId !== mallory.user.id) fault(`welcome as user ${f.userId}`);
          } else if (f.t === 'ack') {
            seen.acks++;
            if (!c.frames.some((w) => w.t === 'welcome')) fault('ack before any welcome');
            if (f.chat !== malloryChat) fault(`ack for chat ${f.chat}, of which Mallory is not a member`);
          } else if (f.t === 'error') {
            seen.errors.set(f.code, (seen.errors.get(f.code) ?? 0) + 1);
            if (f.code === 'INTERNAL') fault(`internal error: ${f.message}`);
          } else if (f.t === 'messages' || f.t === 'probed' || f.t === 'events') {
            // Pushed messages, probes and events (typing, presence) only ever about a chat Mallory is in.
            if (f.chat !== malloryChat) fault(`${f.t} for chat ${f.chat}, of which Mallory is not a member`);
            if (!c.frames.some((w) => w.t === 'welcome')) fault(`${f.t} before any welcome`);
          } else if (f.t === 'refusal') {
            seen.errors.set(f.code, (seen.errors.get(f.code) ?? 0) + 1);
            if (f.code === 'INTERNAL') fault(`internal error: ${f.message}`);
          } else if (f.t !== 'pong') {
            fault(`the server sent a ${f.t} frame`);
          }
        }
      });
      fuzzing = false;
      await sending;
      await user.check();

      expect(faults, `seed ${seed}`).toEqual([]);
      expect(seen.welcomes).toBeGreaterThan(0);
      expect(seen.acks).toBeGreaterThan(0);
      for (const code of ['BAD_REQUEST', 'UNAUTHENTICATED', 'NOT_A_MEMBER', 'CHAT_NOT_FOUND']) expect(seen.errors.get(code) ?? 0, code).toBeGreaterThan(0);
      // Every one of the real user's messages was committed once, in the order sent.
      expect(acks.length).toBeGreaterThan(10);
      const stored = await historyAfter(server, user.alice.token, user.chat.code, acks[0]!.seq - 1);
      const steady = stored.filter((m) => m.text.startsWith('steady '));
      expect(steady.map((m) => [m.seq, m.text])).toEqual(acks.map((a) => [a.seq, a.text]));
      console.info(`TCP fuzz (seed ${seed}): ${CONNECTIONS} connections, ${seen.bytes} bytes, ${seen.frames} answers (${seen.acks} acks), ${acks.length} real messages meanwhile`, Object.fromEntries(seen.errors));
    },
    HANG_GUARD_MS,
  );
});

describe('no unhandled rejection or exception', () => {
  it('none was seen while fuzzing', () => {
    expect(unhandled).toEqual([]);
  });
});

import { type Socket, connect } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Sender } from '../client/sender.js';
import { ChorusError } from '../protocol/errors.js';
import { type Frame, FrameDecoder, encodeFrame } from '../protocol/frames.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../protocol/limits.js';
import type { User } from './accounts.js';
import { CodeGuessThrottle } from './code-guess-throttle.js';
import { Ingest, type IngestDeps } from './ingest.js';
import type { MembershipCache } from './membership-cache.js';
import { PushHub } from './push.js';
import { SendRateLimiter } from './send-rate.js';
import type { Sequencer } from './sequencer.js';

/**
 * The ingest alone, with the session lookup and membership as seams: a lookup that is slow or
 * fails, and sends that are all refused, without a database.
 */

const USER: User = { id: 7, name: 'Ada', email: 'ada@example.test', createdAt: new Date(0).toISOString() };
const HELLO_MS = 150;
type Lookup = IngestDeps['accounts']['session'];

const running: Ingest[] = [];
afterEach(async () => {
  for (const ingest of running.splice(0)) await ingest.close();
});

async function startIngest(session: Lookup, overrides: Partial<IngestDeps> = {}): Promise<{ ingest: Ingest; port: number }> {
  const ingest = new Ingest({
    accounts: { session },
    // Every send is refused, as for a chat one is not in: no sequencer needed.
    members: { requireMember: async () => Promise.reject(new ChorusError('NOT_A_MEMBER', 'Not a member of this chat')) } as unknown as MembershipCache,
    sequencer: {} as Sequencer,
    logger: pino({ level: 'silent' }),
    sendRate: new SendRateLimiter({ perSecond: 0, burst: 1 }),
    probeRate: new SendRateLimiter({ perSecond: 0, burst: 1 }),
    frameTimeoutMs: 10_000,
    guesses: new CodeGuessThrottle({ maxFailuresPerUser: 1e9, maxFailuresPerAddress: 1e9, windowSeconds: 600 }),
    helloTimeoutMs: HELLO_MS,
    drainTimeoutMs: 60_000,
    connectionLimits: { perUser: 100, perAddress: 100 },
    // No chat exists here: nothing is ever watched.
    push: new PushHub({ readAfter: async () => [], isMemberNow: () => false, isMember: async () => false, logger: pino({ level: 'silent' }) }),
    probes: { probe: async () => 0 },
    pace: { reportProgress: () => {} },
    eventRate: new SendRateLimiter({ perSecond: 0, burst: 1 }),
    events: { send: () => {} },
    presence: { connected: () => {}, changed: () => {}, disconnected: () => {} },
    ...overrides,
  });
  running.push(ingest);
  return { ingest, port: await ingest.listen('127.0.0.1', 0) };
}

/** Says hello on a raw connection; resolves with the first frame the server answers, or undefined if it just closes. */
function helloAnswer(port: number, version = PROTOCOL_VERSION): Promise<Frame | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(encodeFrame({ t: 'hello', v: version, token: 't' })));
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      const [frame] = decoder.push(chunk);
      if (frame) {
        resolve(frame);
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection that says hello, takes the welcome, then reads nothing more. */
async function peerThatStopsReading(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: 't' }));
  await new Promise((resolve) => socket.once('data', resolve));
  socket.pause();
  socket.on('error', () => {});
  return socket;
}

describe('a slow or failing session lookup', () => {
  it('a lookup slower than the hello deadline still gets its welcome: the deadline stops once the hello has arrived', async () => {
    const { port } = await startIngest(async () => {
      await sleep(HELLO_MS * 4);
      return { user: USER, expiresAt: Date.now() + 60_000 };
    });
    expect(await helloAnswer(port)).toMatchObject({ t: 'welcome', userId: USER.id });
  });

  it('a connection that says nothing is still closed at the hello deadline', async () => {
    const { port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }));
    const socket = connect({ port, host: '127.0.0.1' });
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
    await new Promise((resolve) => socket.on('close', resolve));
    expect(frames).toMatchObject([{ t: 'error', code: 'UNAUTHENTICATED' }]);
  });

  it('a lookup that fails (a database error) is answered UNAVAILABLE with retryAfterMs, never UNAUTHENTICATED', async () => {
    const { port } = await startIngest(async () => Promise.reject(new Error('canceling statement due to lock timeout')));
    const answer = await helloAnswer(port);
    expect(answer).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    expect((answer as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
  });

  it('an unknown or expired session is UNAUTHENTICATED', async () => {
    const { port } = await startIngest(async () => Promise.reject(new ChorusError('UNAUTHENTICATED', 'Session expired or logged out; log in again')));
    expect(await helloAnswer(port)).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED' });
  });

  it('a Sender keeps trying through UNAVAILABLE and is welcomed once the lookup works again, without giving up', async () => {
    let failures = 2;
    let lookups = 0;
    const { port } = await startIngest(async () => {
      lookups++;
      if (failures-- > 0) throw new Error('connection terminated unexpectedly');
      return { user: USER, expiresAt: Date.now() + 60_000 };
    });
    const sender = new Sender({ host: '127.0.0.1', port, token: 't', minBackoffMs: 10 });
    await sender.connect();
    expect(lookups).toBe(3);
    expect(sender.failure).toBeUndefined();
    expect(sender.connectionState).toBe('connected');
    sender.close();
  });
});

describe('protocol versions', () => {
  it('welcomes every version from MIN_PROTOCOL_VERSION to PROTOCOL_VERSION, echoing the client\'s', async () => {
    const { port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }));
    expect(MIN_PROTOCOL_VERSION).toBeLessThan(PROTOCOL_VERSION);
    for (let v = MIN_PROTOCOL_VERSION; v <= PROTOCOL_VERSION; v++) {
      // Progress reports are offered to clients of the current version only.
      expect(await helloAnswer(port, v)).toEqual({ t: 'welcome', v, userId: USER.id, ...(v === PROTOCOL_VERSION ? { progress: true } : {}) });
    }
  });

  it('refuses a version below MIN_PROTOCOL_VERSION or above PROTOCOL_VERSION with UNSUPPORTED_VERSION', async () => {
    const { port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }));
    for (const v of [MIN_PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
      expect(await helloAnswer(port, v)).toMatchObject({ t: 'error', code: 'UNSUPPORTED_VERSION' });
    }
  });
});

describe('the end of a session', () => {
  it('answers the sends already in flight before SESSION_ENDED, and takes no later one', async () => {
    let commits = 0;
    const { ingest, port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }), {
      members: { requireMember: async () => {} } as unknown as MembershipCache,
      // A slow commit: the logout lands while the send waits for it.
      sequencer: {
        submit: async () => {
          await sleep(300);
          return { seq: ++commits, sentAt: Date.now(), duplicate: false };
        },
      } as unknown as Sequencer,
    });
    const socket = connect({ port, host: '127.0.0.1' });
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: 't' }));
    await waitUntil(() => frames.length > 0);
    socket.write(encodeFrame({ t: 'send', id: 'inflight', chat: 'ABCDE-12345', text: 'hi' }));
    await sleep(100);
    ingest.endSession('t');
    socket.write(encodeFrame({ t: 'send', id: 'late', chat: 'ABCDE-12345', text: 'too late' }));
    await closed;
    expect(frames.map((f) => f.t)).toEqual(['welcome', 'ack', 'error']);
    expect(frames[1]).toMatchObject({ id: 'inflight', seq: 1 });
    expect(frames[2]).toMatchObject({ code: 'SESSION_ENDED' });
    expect(commits).toBe(1);
  });
});

describe('backpressure', () => {
  it('stops reading from a connection that pipelines refused sends and never reads: the server holds a bounded amount for it', async () => {
    const { ingest, port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }));
    // Logged in, then never reading, so the server's answers pile up on its side.
    const socket = await peerThatStopsReading(port);

    // Pipeline sends (each refused NOT_A_MEMBER) until the server has stopped reading them;
    // then a few megabytes more, which now wait in the network buffers, not in the server.
    const frame = (i: number) => encodeFrame({ t: 'send', id: `m${i}`, chat: 'ABCDE-12345', text: 'x' });
    let sent = 0;
    const sendBatch = async () => {
      const batch = Buffer.concat(Array.from({ length: 500 }, (_, k) => frame(sent + k)));
      sent += 500;
      if (!socket.write(batch)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), sleep(50)]);
      else await sleep(1);
    };
    while (ingest.pausedCount === 0 && sent < 1_000_000) await sendBatch();
    expect(ingest.pausedCount).toBe(1);
    const pausedAt = sent;
    while (sent < pausedAt + 50_000) await sendBatch();
    await sleep(300);
    expect(ingest.pausedCount).toBe(1);
    // What the server holds unsent for this peer stays near one socket's high-water mark plus
    // the answers to one chunk of frames, not the answers to everything sent.
    expect(ingest.unsentBytes).toBeLessThan(1024 * 1024);
    expect(ingest.connectionCount).toBe(1);

    // Once the peer reads again, the server reads again and answers the rest.
    const decoder = new FrameDecoder();
    let answered = 0;
    socket.on('data', (chunk) => (answered += decoder.push(chunk).filter((f) => f.t === 'error').length));
    socket.resume();
    const all = sent;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${answered} of ${all} answered`)), 60_000);
      const check = setInterval(() => {
        if (answered >= all) {
          clearInterval(check);
          clearTimeout(timer);
          resolve();
        }
      }, 20);
    });
    socket.destroy();
  }, 90_000);

  it('cuts off a peer that does not take its answers within the drain deadline', async () => {
    const { ingest, port } = await startIngest(async () => ({ user: USER, expiresAt: Date.now() + 60_000 }), { drainTimeoutMs: 500 });
    const socket = await peerThatStopsReading(port);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const pings = Buffer.concat(Array.from({ length: 10_000 }, () => encodeFrame({ t: 'ping' })));
    let wasPaused = false;
    for (let i = 0; i < 200 && !socket.destroyed && ingest.connectionCount > 0; i++) {
      if (!socket.write(pings)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), sleep(100)]);
      wasPaused ||= ingest.pausedCount > 0;
    }
    await waitUntil(() => ingest.connectionCount === 0);
    expect(wasPaused).toBe(true);
    socket.resume();
    await closed;
  }, 60_000);
});

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await sleep(20);
  expect(check()).toBe(true);
}

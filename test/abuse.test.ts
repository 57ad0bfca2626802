import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sender } from '../src/client/sender.js';
import { encodeFrame } from '../src/protocol/frames.js';
import { defaultServerConfig } from '../src/server/config.js';
import { tcpPortOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

// Small limits and short timeouts, so that each can be reached quickly.
// The grace is wide here so that a send can be placed inside it on a slow machine too.
const RATE = { perSecond: 2, burst: 10, graceMs: 3000 };
const TIMEOUTS = { httpHeadersMs: 800, httpRequestMs: 1500, httpIdleMs: 20_000, httpKeepAliveMs: 5000, tcpFrameMs: 800 };

let server: TestServer;
let call: ReturnType<typeof http>;
let httpPort: number;
let tcpPort: number;

beforeAll(async () => {
  server = await startTestServer({
    limits: { ...defaultServerConfig().limits, sendRate: RATE, chatsPerUser: 2, membersPerChat: 3 },
    timeouts: TIMEOUTS,
  });
  call = http(server.httpUrl);
  httpPort = Number(new URL(server.httpUrl).port);
  tcpPort = await tcpPortOf(server.httpUrl);
});
afterAll(async () => {
  await server.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('message rate limit over TCP', () => {
  it('refuses sends past the burst with RATE_LIMITED and the id, keeps the connection, and takes sends again later', async () => {
    const alice = await signUp(server.httpUrl, 'RateAlice');
    const chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Rate' } })).body;
    const c = await rawFrameClient(tcpPort);
    await c.login(alice.token);
    const total = 40;
    const started = performance.now();
    for (let i = 0; i < total; i++) c.send({ t: 'send', id: `r${i}`, chat: chat.code, text: `message ${i}` });
    await waitFor(() => c.frames.filter((f) => f.t === 'ack' || f.t === 'error').length === total, 'an answer to every send');
    const answeredAt = performance.now();
    const elapsedSeconds = (answeredAt - started) / 1000;
    const acks = c.frames.filter((f) => f.t === 'ack');
    const errors = c.frames.filter((f) => f.t === 'error');
    // The bucket starts full; it can have refilled by at most RATE.perSecond a second since.
    expect(acks.length).toBeGreaterThanOrEqual(RATE.burst);
    expect(acks.length).toBeLessThanOrEqual(RATE.burst + Math.ceil(elapsedSeconds * RATE.perSecond) + 1);
    expect(errors.length).toBe(total - acks.length);
    const sentIds = new Set(Array.from({ length: total }, (_, i) => `r${i}`));
    for (const e of errors) {
      expect(e).toMatchObject({ t: 'error', code: 'RATE_LIMITED', message: expect.stringMatching(/try again in \d+ ms/), retryAfterMs: expect.any(Number) });
      expect((e as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      expect(sentIds.has((e as { id: string }).id)).toBe(true);
    }
    // Nothing refused was stored.
    const stored = (await call('GET', `/api/chats/${chat.code}/messages?limit=500`, { token: alice.token })).body.messages;
    expect(stored.map((m: { clientMsgId: string }) => m.clientMsgId).sort()).toEqual(acks.map((a) => (a as { id: string }).id).sort());

    // Until the wait it was told is over, the connection's sends are refused even once a token
    // has refilled, so nothing pipelined overtakes a refused message.
    const told = (errors.at(-1) as { retryAfterMs: number }).retryAfterMs;
    const tokenBack = 1000 / RATE.perSecond;
    expect(told).toBeGreaterThan(tokenBack);
    await sleep(tokenBack + 20);
    c.send({ t: 'send', id: 'too-soon', chat: chat.code, text: 'within the grace' });
    expect(await c.next('error', errors.length)).toMatchObject({ id: 'too-soon', code: 'RATE_LIMITED' });

    // The connection is still open and usable: it answers a ping, and once a token is back it takes a send.
    c.send({ t: 'ping' });
    await c.next('pong');
    expect(c.isClosed).toBe(false);
    const wait = Number(/try again in (\d+) ms/.exec((errors.at(-1) as { message: string }).message)![1]);
    await sleep(Math.max(wait, 1000 / RATE.perSecond) + 50);
    c.send({ t: 'send', id: 'later', chat: chat.code, text: 'after waiting' });
    expect(await c.next('ack', acks.length)).toMatchObject({ id: 'later' });

    // The bucket is the user's, not the connection's: a second connection does not get a fresh burst.
    const second = await rawFrameClient(tcpPort);
    await second.login(alice.token);
    for (let i = 0; i < RATE.burst; i++) second.send({ t: 'send', id: `s${i}`, chat: chat.code, text: `second ${i}` });
    await waitFor(() => second.frames.filter((f) => f.t === 'ack' || f.t === 'error').length === RATE.burst, 'answers on the second connection');
    // When the last refusal was answered the bucket held under one token; since then it gained
    // RATE.perSecond a second, and 'later' took one.
    const available = 1 + Math.ceil(((performance.now() - answeredAt) / 1000) * RATE.perSecond);
    expect(second.frames.filter((f) => f.t === 'ack').length).toBeLessThanOrEqual(available);
    expect(second.frames.filter((f) => f.t === 'error').every((f) => (f as { code: string }).code === 'RATE_LIMITED')).toBe(true);

    // Another user is not slowed by Alice.
    const bob = await signUp(server.httpUrl, 'RateBob');
    await call('POST', `/api/chats/${chat.code}/members`, { token: bob.token });
    const b = await rawFrameClient(tcpPort);
    await b.login(bob.token);
    for (let i = 0; i < RATE.burst; i++) b.send({ t: 'send', id: `b${i}`, chat: chat.code, text: `bob ${i}` });
    await waitFor(() => b.frames.filter((f) => f.t === 'ack').length === RATE.burst, "all of Bob's burst acknowledged");
    for (const client of [c, second, b]) client.socket.destroy();
  });
});

describe('a Sender over the rate limit', () => {
  it('waits as told and resends what was refused, so every message is stored once and in the order sent', async () => {
    const carol = await signUp(server.httpUrl, 'RateCarol');
    const chat = (await call('POST', '/api/chats', { token: carol.token, json: { name: 'Paced' } })).body;
    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token: carol.token });
    await sender.connect();
    const total = RATE.burst + 6;
    const acks = await Promise.all(Array.from({ length: total }, (_, i) => sender.send(chat.code, `paced ${i}`, `p${i}`)));
    sender.close();
    // Ordered as sent: a later message never overtook a refused earlier one.
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const stored = (await call('GET', `/api/chats/${chat.code}/messages?limit=500`, { token: carol.token })).body.messages;
    expect(stored.map((m: { text: string }) => m.text)).toEqual(Array.from({ length: total }, (_, i) => `paced ${i}`));
  });

  it('refuses a text no frame could carry before sending anything, and keeps working', async () => {
    const dave = await signUp(server.httpUrl, 'RateDave');
    const chat = (await call('POST', '/api/chats', { token: dave.token, json: { name: 'Odd texts' } })).body;
    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token: dave.token });
    await sender.connect();
    await expect(sender.send(chat.code, '\u0001'.repeat(15_000))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(sender.send(chat.code, '')).rejects.toMatchObject({ code: 'INVALID_FIELD' });
    expect(await sender.send(chat.code, 'still fine')).toMatchObject({ seq: 1 });
    sender.close();
  });
});

describe('chat and member limits', () => {
  it('refuses a chat past the per-user limit with 409 TOO_MANY_CHATS, even when asked for all at once', async () => {
    const carol = await signUp(server.httpUrl, 'LimitCarol');
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) => call('POST', '/api/chats', { token: carol.token, json: { name: `Room ${i}` } })),
    );
    expect(attempts.filter((r) => r.status === 201)).toHaveLength(2);
    const refused = attempts.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.contentType).toContain('application/problem+json');
      expect(r.body).toMatchObject({ code: 'TOO_MANY_CHATS', status: 409, detail: expect.stringContaining('2 chats') });
    }
    expect((await call('GET', '/api/chats', { token: carol.token })).body.chats).toHaveLength(2);
    // Someone else's limit is their own.
    const dan = await signUp(server.httpUrl, 'LimitDan');
    expect((await call('POST', '/api/chats', { token: dan.token, json: { name: 'Mine' } })).status).toBe(201);
  });

  it('refuses a member past the per-chat limit with 409 CHAT_FULL, even when many join at once', async () => {
    const owner = await signUp(server.httpUrl, 'FullOwner');
    const chat = (await call('POST', '/api/chats', { token: owner.token, json: { name: 'Small room' } })).body;
    const joiners = await Promise.all(Array.from({ length: 5 }, (_, i) => signUp(server.httpUrl, `Joiner${i}`)));
    const attempts = await Promise.all(joiners.map((j) => call('POST', `/api/chats/${chat.code}/members`, { token: j.token })));
    const joined = joiners.filter((_, i) => attempts[i]!.status === 200);
    expect(joined).toHaveLength(2);
    for (const r of attempts.filter((a) => a.status !== 200)) {
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: 'CHAT_FULL', detail: expect.stringContaining('3 members') });
    }
    const members = (await call('GET', `/api/chats/${chat.code}/members`, { token: owner.token })).body.members;
    expect(members).toHaveLength(3);
    // Joining again is still harmless for a member of a full chat.
    expect((await call('POST', `/api/chats/${chat.code}/members`, { token: joined[0]!.token })).status).toBe(200);
    // When someone leaves, there is room again.
    const outsider = joiners.find((j) => !joined.includes(j))!;
    expect((await call('DELETE', `/api/chats/${chat.code}/members/me`, { token: joined[1]!.token })).status).toBe(204);
    expect((await call('POST', `/api/chats/${chat.code}/members`, { token: outsider.token })).status).toBe(200);
  });
});

/** Opens a raw TCP connection, runs `trickle` every 100 ms, and reports when and how the server closed it. */
async function trickleUntilClosed(port: number, opening: Buffer, trickle: () => Buffer, give: { maxMs: number }) {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (d) => received.push(d));
  socket.on('error', () => {});
  const started = performance.now();
  socket.write(opening);
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write(trickle());
  }, 100);
  let closedAt: number | undefined;
  socket.once('close', () => (closedAt = performance.now()));
  try {
    await waitFor(() => closedAt !== undefined, 'the server to close the slow connection', give.maxMs);
  } finally {
    clearInterval(timer);
    socket.destroy();
  }
  return { afterMs: closedAt! - started, received: Buffer.concat(received) };
}

describe('slow peers', () => {
  it('closes an HTTP request whose headers trickle in, after the headers timeout', async () => {
    const { afterMs, received } = await trickleUntilClosed(
      httpPort,
      Buffer.from('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n'),
      () => Buffer.from('X-Slow: a\r\n'),
      { maxMs: 10_000 },
    );
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.httpHeadersMs - 20);
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes an HTTP request whose body trickles in, after the request timeout', async () => {
    const { afterMs, received } = await trickleUntilClosed(
      httpPort,
      Buffer.from('POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{'),
      () => Buffer.from(' '),
      { maxMs: 10_000 },
    );
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.httpRequestMs - 20);
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('still serves an ordinary request', async () => {
    expect((await call('GET', '/api/health')).status).toBe(200);
  });

  it('closes a TCP connection whose frame trickles in, after the frame timeout', async () => {
    const erin = await signUp(server.httpUrl, 'SlowErin');
    const c = await rawFrameClient(tcpPort);
    await c.login(erin.token);
    const body = Buffer.alloc(2000, 0x20);
    const started = performance.now();
    // A 4-byte length announcing a 2000-byte body, then the body one byte at a time.
    c.socket.write(Buffer.from([0, 0, 0x07, 0xd0]));
    let at = 0;
    const timer = setInterval(() => {
      if (!c.isClosed && c.socket.writable) c.socket.write(body.subarray(at, ++at));
    }, 100);
    try {
      await waitFor(() => c.isClosed, 'the server to close the connection', 10_000);
    } finally {
      clearInterval(timer);
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUTS.tcpFrameMs - 20);
    expect(c.frames.find((f) => f.t === 'error')).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/not completed/) });
  });

  it('keeps a TCP connection that sends many small complete frames for longer than the frame timeout', async () => {
    const fay = await signUp(server.httpUrl, 'BusyFay');
    const c = await rawFrameClient(tcpPort);
    await c.login(fay.token);
    const ping = encodeFrame({ t: 'ping' });
    // Each write finishes one ping and begins the next, so a frame is always pending, but none
    // for long: only a frame that takes too long is cut off, not a connection that is busy.
    const until = performance.now() + TIMEOUTS.tcpFrameMs * 3;
    let pings = 0;
    c.socket.write(ping.subarray(0, 3));
    while (performance.now() < until) {
      await sleep(100);
      c.socket.write(Buffer.concat([ping.subarray(3), ping.subarray(0, 3)]));
      pings++;
    }
    c.socket.write(ping.subarray(3));
    pings++;
    await waitFor(() => c.frames.filter((f) => f.t === 'pong').length === pings, 'a pong for every ping');
    expect(c.isClosed).toBe(false);
    c.socket.destroy();
  });
});

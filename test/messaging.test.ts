import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, type Frame } from '../src/protocol/frames.js';
import { encodeData, encodeHeartbeat, parseHeader } from '../src/protocol/datagram.js';
import { NonceSource, newChatKey, newSigningKeyPair } from '../src/protocol/crypto.js';
import { normalizeChatCode } from '../src/protocol/chat-code.js';
import { PROTOCOL_VERSION } from '../src/protocol/limits.js';
import type { Receiver, ChatMessage } from '../src/client/receiver.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';
import { captureGroup, connectedSender, injectDatagrams, recordingReceiver, tcpPortOf, waitFor } from './support/messaging.js';

let server: TestServer;
let call: ReturnType<typeof http>;
type Account = Awaited<ReturnType<typeof signUp>>;
let alice: Account, bob: Account, carol: Account, mallory: Account;
let chat: { code: string; multicast: { group: string; port: number; streamId: string; keyEpoch: number; key: string } };
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startTestServer();
  call = http(server.httpUrl);
  const accounts = await Promise.all(['Alice', 'Bob', 'Carol', 'Mallory'].map((n) => signUp(server.httpUrl, n)));
  [alice, bob, carol, mallory] = accounts as [Account, Account, Account, Account];
  chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Loopback' } })).body;
  await call('POST', `/api/chats/${chat.code}/members`, { token: bob.token });
  await call('POST', `/api/chats/${chat.code}/members`, { token: carol.token });
});
afterAll(async () => {
  for (const r of receivers) r.close();
  await server.dispose();
});

/** A raw TCP client speaking frames, to test the server's side of the protocol directly. */
async function rawClient() {
  const socket = connect(await tcpPortOf(server.httpUrl), '127.0.0.1');
  await once(socket, 'connect');
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
  const closed = once(socket, 'close');
  return {
    socket,
    frames,
    closed,
    send: (frame: Frame) => socket.write(encodeFrame(frame)),
    next: async (t: Frame['t'], index = 0) => {
      await waitFor(() => frames.filter((f) => f.t === t).length > index, `a ${t} frame`, 10_000);
      return frames.filter((f) => f.t === t)[index]!;
    },
  };
}

describe('messaging on loopback', () => {
  it('delivers every message to three receivers exactly once, in the same order', async () => {
    const recs = await Promise.all([alice, bob, carol].map((u) => recordingReceiver(server.httpUrl, u.token)));
    for (const { receiver } of recs) {
      receivers.push(receiver);
      await receiver.join(chat.code, { latest: 0 });
    }
    const senders = await Promise.all([alice, bob].map((u) => connectedSender(server.httpUrl, u.token)));
    const perSender = 300;
    const acks = await Promise.all(
      senders.flatMap((s, k) => Array.from({ length: perSender }, (_, i) => s.send(chat.code, `sender ${k} message ${i} ✓`))),
    );
    expect(new Set(acks.map((a) => a.seq)).size).toBe(2 * perSender);
    for (const { delivered } of recs) await waitFor(() => delivered.length >= 2 * perSender, 'all messages at every receiver');
    const reference = recs[0]!.delivered.map((m) => `${m.seq}:${m.text}`);
    expect(recs[0]!.delivered.map((m) => m.seq)).toEqual(Array.from({ length: 2 * perSender }, (_, i) => i + 1));
    for (const { delivered } of recs) {
      expect(delivered.map((m) => `${m.seq}:${m.text}`)).toEqual(reference);
    }
    // Each sender's own messages arrive in the order it sent them.
    for (const k of [0, 1]) {
      const mine = reference.filter((r) => r.includes(`sender ${k} `)).map((r) => Number(/message (\d+)/.exec(r)![1]));
      expect(mine).toEqual(Array.from({ length: perSender }, (_, i) => i));
    }
    expect(recs[1]!.delivered[0]).toMatchObject({ chat: chat.code, sender: { name: expect.stringMatching(/Alice|Bob/) } });
    for (const s of senders) s.close();
  });

  it('stores one message when a send is retried with the same id, and answers both with the same seq', async () => {
    const c = await rawClient();
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: alice.token });
    await c.next('welcome');
    c.send({ t: 'send', id: 'retry-1', chat: chat.code, text: 'only once' });
    c.send({ t: 'send', id: 'retry-1', chat: chat.code, text: 'only once' });
    const first = (await c.next('ack', 0)) as Extract<Frame, { t: 'ack' }>;
    const second = (await c.next('ack', 1)) as Extract<Frame, { t: 'ack' }>;
    expect(second.seq).toBe(first.seq);
    const page = (await call('GET', `/api/chats/${chat.code}/messages?after=${first.seq - 1}`, { token: alice.token })).body;
    expect(page.messages.filter((m: ChatMessage) => m.clientMsgId === 'retry-1')).toHaveLength(1);
    c.socket.destroy();
  });

  it('refuses a client id reused for another text (CLIENT_ID_REUSED), storing nothing new and keeping the connection', async () => {
    const c = await rawClient();
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: alice.token });
    await c.next('welcome');
    c.send({ t: 'send', id: 'reused-1', chat: chat.code, text: 'the first text' });
    const first = (await c.next('ack', 0)) as Extract<Frame, { t: 'ack' }>;
    c.send({ t: 'send', id: 'reused-1', chat: chat.code, text: 'another text' });
    expect(await c.next('error')).toMatchObject({ id: 'reused-1', code: 'CLIENT_ID_REUSED' });
    c.send({ t: 'send', id: 'reused-1', chat: chat.code, text: 'the first text' });
    expect(((await c.next('ack', 1)) as Extract<Frame, { t: 'ack' }>).seq).toBe(first.seq);
    const page = (await call('GET', `/api/chats/${chat.code}/messages?after=${first.seq - 1}`, { token: alice.token })).body;
    expect(page.messages.filter((m: ChatMessage) => m.clientMsgId === 'reused-1').map((m: ChatMessage) => m.text)).toEqual(['the first text']);
    c.socket.destroy();
  });

  it("refuses a non-member's send with an error frame and keeps the connection usable", async () => {
    const c = await rawClient();
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: mallory.token });
    await c.next('welcome');
    c.send({ t: 'send', id: 'm1', chat: chat.code, text: 'let me in' });
    expect(await c.next('error')).toMatchObject({ id: 'm1', code: 'NOT_A_MEMBER' });
    c.send({ t: 'send', id: 'm2', chat: 'ZZZZZ-ZZZZZ', text: 'nowhere' });
    expect(await c.next('error', 1)).toMatchObject({ id: 'm2', code: 'CHAT_NOT_FOUND' });
    c.send({ t: 'ping' });
    await c.next('pong');
    c.socket.destroy();
  });

  it('refuses empty, invisible and oversized text, keeping the connection', async () => {
    const c = await rawClient();
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: alice.token });
    await c.next('welcome');
    c.send({ t: 'send', id: 'e1', chat: chat.code, text: '' });
    expect(await c.next('error')).toMatchObject({ id: 'e1', code: 'INVALID_FIELD' });
    c.send({ t: 'send', id: 'e1b', chat: chat.code, text: ' \u3164\u200b\u2800 ' });
    expect(await c.next('error', 1)).toMatchObject({ id: 'e1b', code: 'INVALID_FIELD', message: expect.stringContaining('invisible') });
    c.send({ t: 'send', id: 'e2', chat: chat.code, text: 'é'.repeat(8 * 1024 + 1) });
    expect(await c.next('error', 2)).toMatchObject({ id: 'e2', code: 'PAYLOAD_TOO_LARGE' });
    c.send({ t: 'send', id: 'e3', chat: chat.code, text: 'still here' });
    expect(await c.next('ack')).toMatchObject({ id: 'e3' });
    c.socket.destroy();
  });

  it('closes a connection that sends before authenticating, or with a bad token', async () => {
    const early = await rawClient();
    early.send({ t: 'send', id: 'x', chat: chat.code, text: 'sneaky' });
    expect(await early.next('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    await early.closed;
    const forged = await rawClient();
    forged.send({ t: 'hello', v: PROTOCOL_VERSION, token: 'A'.repeat(43) });
    expect(await forged.next('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    await forged.closed;
  });

  it('delivers a message too large for one datagram by fetching it over HTTP', async () => {
    const { receiver, delivered } = await recordingReceiver(server.httpUrl, bob.token);
    receivers.push(receiver);
    const start = (await call('GET', `/api/chats/${chat.code}`, { token: bob.token })).body.latestSeq;
    await receiver.join(chat.code, { after: start });
    const sender = await connectedSender(server.httpUrl, alice.token);
    const big = '大'.repeat(5000);
    const ack = await sender.send(chat.code, big);
    await waitFor(() => delivered.some((m) => m.seq === ack.seq), 'the large message');
    expect(delivered.find((m) => m.seq === ack.seq)?.text).toBe(big);
    sender.close();
  });

  it('never puts message text on the wire in clear', async () => {
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const sender = await connectedSender(server.httpUrl, carol.token);
    const secret = `top secret ${randomBytes(8).toString('hex')}`;
    await sender.send(chat.code, secret);
    await waitFor(() => capture.datagrams.length > 0, 'a captured datagram');
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const d of capture.datagrams) {
      expect(d.includes(Buffer.from(secret))).toBe(false);
      expect(d.includes(Buffer.from('top secret'))).toBe(false);
    }
    await capture.close();
    sender.close();
  });

  it("never puts the chat's code on the wire: headers carry the stream id members are given", async () => {
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const sender = await connectedSender(server.httpUrl, bob.token);
    const before = capture.datagrams.length;
    for (let i = 0; i < 5; i++) await sender.send(chat.code, `where is this going ${i}`);
    // Data datagrams and the first heartbeats after them (+50 ms, +250 ms).
    await waitFor(() => capture.datagrams.slice(before).filter((d) => d[3] === 2).length >= 2, 'data and heartbeats', 5000);
    await capture.close();
    sender.close();
    const captured = capture.datagrams.slice(before);
    const code = normalizeChatCode(chat.code)!;
    expect(captured.some((d) => d[3] === 1)).toBe(true);
    for (const d of captured) {
      for (const form of [code, chat.code, code.toLowerCase(), chat.code.toLowerCase()]) {
        expect(d.includes(Buffer.from(form, 'ascii')), `${form} in a datagram`).toBe(false);
      }
      const header = parseHeader(d);
      if ('reason' in header) throw new Error(`captured an unreadable datagram: ${header.reason}`);
      expect(header.stream).toBe(chat.multicast.streamId);
      expect(d.subarray(4, 14)).toEqual(Buffer.from(chat.multicast.streamId, 'hex'));
    }
    // Every member is told the same stream id; it is not the code in any form.
    const asCarol = (await call('GET', `/api/chats/${chat.code}`, { token: carol.token })).body;
    expect(asCarol.multicast.streamId).toBe(chat.multicast.streamId);
    expect(chat.multicast.streamId).toMatch(/^[0-9a-f]{20}$/);
    expect(chat.multicast.streamId).not.toBe(Buffer.from(code, 'latin1').toString('hex'));
  });

  it('ignores garbage, forgeries and replays on the group, and keeps delivering', async () => {
    const { receiver, delivered } = await recordingReceiver(server.httpUrl, carol.token);
    receivers.push(receiver);
    const start = (await call('GET', `/api/chats/${chat.code}`, { token: carol.token })).body.latestSeq;
    await receiver.join(chat.code, { after: start });
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const sender = await connectedSender(server.httpUrl, alice.token);
    const before = await sender.send(chat.code, 'before the attack');
    await waitFor(() => delivered.length === 1 && capture.datagrams.length > 0, 'the first message');
    const genuine = capture.datagrams[0]!;

    const stream = chat.multicast.streamId;
    const attacker = newSigningKeyPair();
    const realKey = Buffer.from(chat.multicast.key, 'base64');
    const forgedMessage = { seq: before.seq + 1, senderId: alice.user.id, senderName: 'Alice', sentAt: Date.now(), clientMsgId: 'forged', text: 'FORGED', textOmitted: false };
    const junk = [
      randomBytes(0),
      randomBytes(1),
      randomBytes(100),
      randomBytes(1200),
      genuine.subarray(0, genuine.length - 1),
      genuine.subarray(0, 20),
      Buffer.concat([genuine, Buffer.from([0])]),
      // Signed by someone else with the real key (a member trying to impersonate the server):
      encodeData({ stream, epoch: chat.multicast.keyEpoch, messages: [forgedMessage] }, realKey, new NonceSource().next(), attacker.privateKey),
      // Signed by someone else with a made-up key:
      encodeData({ stream, epoch: chat.multicast.keyEpoch, messages: [forgedMessage] }, newChatKey(), new NonceSource().next(), attacker.privateKey),
      encodeHeartbeat({ stream, epoch: chat.multicast.keyEpoch, latestSeq: 1_000_000 }, attacker.privateKey),
      // A replay of a genuine datagram already delivered:
      genuine,
      genuine,
    ];
    const flipped = Buffer.from(genuine);
    flipped[flipped.length - 70]! ^= 1;
    junk.push(flipped);
    await injectDatagrams(chat.multicast.group, chat.multicast.port, junk);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(delivered.map((m) => m.text)).toEqual(['before the attack']);
    expect(receiver.drops.malformed + receiver.drops['bad-signature']).toBeGreaterThanOrEqual(8);

    await sender.send(chat.code, 'after the attack');
    await waitFor(() => delivered.length === 2, 'a message after the attack');
    expect(delivered.map((m) => m.text)).toEqual(['before the attack', 'after the attack']);
    expect(delivered.every((m) => m.text !== 'FORGED')).toBe(true);
    await capture.close();
    sender.close();
  });

  it('starts from history and switches to live messages with no gap and no duplicate', async () => {
    const sender = await connectedSender(server.httpUrl, alice.token);
    const { receiver, delivered } = await recordingReceiver(server.httpUrl, carol.token);
    receivers.push(receiver);
    // Keep sending while the receiver joins, so live datagrams race the history load.
    let sending = true;
    const sent: number[] = [];
    const pump = (async () => {
      for (let i = 0; sending; i++) {
        sent.push((await sender.send(chat.code, `race ${i}`)).seq);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await receiver.join(chat.code, { latest: 5 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    sending = false;
    await pump;
    const last = sent.at(-1)!;
    await waitFor(() => delivered.at(-1)?.seq === last, 'the last raced message');
    const seqs = delivered.map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    sender.close();
  });

  it('resends unacknowledged messages after a reconnect without storing them twice', async () => {
    const sender = await connectedSender(server.httpUrl, bob.token);
    const pending = Array.from({ length: 50 }, (_, i) => sender.send(chat.code, `reconnect ${i}`));
    // Cut the connection under the sender's feet right after writing.
    (sender as unknown as { socket: { destroy(): void } }).socket.destroy();
    const acks = await Promise.all(pending);
    const seqs = acks.map((a) => a.seq);
    expect(new Set(seqs).size).toBe(50);
    const page = (await call('GET', `/api/chats/${chat.code}/messages?after=${Math.min(...seqs) - 1}&limit=500`, { token: bob.token })).body;
    const texts = page.messages.map((m: ChatMessage) => m.text).filter((t: string) => t.startsWith('reconnect '));
    expect(texts).toEqual(Array.from({ length: 50 }, (_, i) => `reconnect ${i}`));
    sender.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Datagram, decodeDatagram } from '../src/protocol/datagram.js';
import type { Frame, MessagesFrame } from '../src/protocol/frames.js';
import { MAX_FRAME_BYTES, PROBE_BURST, PUSH_HIGH_WATER_BYTES } from '../src/protocol/limits.js';
import { newSigningKeyPair } from '../src/protocol/crypto.js';
import { defaultServerConfig } from '../src/server/config.js';
import { captureGroup, connectedSender, serverKeyOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Delivery by server push, end to end on a real server (on the engine under test): a raw TCP
 * client watches a chat and gets its committed messages as `messages` frames; probes come back
 * as `probed` and as a signed PROBE datagram on the chat's group (loopback).
 */

let server: TestServer;
let call: ReturnType<typeof http>;
type Account = Awaited<ReturnType<typeof signUp>>;
let ann: Account;
let bob: Account;
let eve: Account;

beforeAll(async () => {
  server = await startTestServer({
    limits: {
      ...defaultServerConfig().limits,
      // The tests send thousands of messages from one user.
      sendRate: { perSecond: 1_000_000, burst: 1_000_000 },
    },
  });
  call = http(server.httpUrl);
  [ann, bob, eve] = await Promise.all([signUp(server.httpUrl, 'Ann'), signUp(server.httpUrl, 'Bob'), signUp(server.httpUrl, 'Eve')]);
});
afterAll(async () => server?.dispose());

/** A chat Ann created and Bob joined. */
async function sharedChat(): Promise<{ code: string; multicast: { group: string; port: number; keyEpoch: number; key: string } }> {
  const chat = (await call('POST', '/api/chats', { token: ann.token, json: { name: 'Pushed' } })).body;
  expect((await call('POST', `/api/chats/${chat.code}/members`, { token: bob.token })).status).toBe(200);
  return chat;
}

type Client = Awaited<ReturnType<typeof rawFrameClient>>;

async function connected(who: Account): Promise<Client> {
  const c = await rawFrameClient(server.tcpPort);
  await c.login(who.token);
  return c;
}

function pushedSeqs(c: Client, chat: string): number[] {
  return c.frames.filter((f): f is MessagesFrame => f.t === 'messages' && f.chat === chat).flatMap((f) => f.messages.map((m) => m.seq));
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** A round trip on the connection: whatever the server wrote to it before is in by then. */
async function roundTrip(c: Client): Promise<void> {
  const pongs = c.frames.filter((f) => f.t === 'pong').length;
  c.send({ t: 'ping' });
  await c.next('pong', pongs);
}

async function metricsSample(series: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.httpUrl}/api/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('watch', () => {
  it('from 0 gets the history, then live, every message in order and once, while another client sends meanwhile', async () => {
    const { code } = await sharedChat();
    const sender = await connectedSender(server.httpUrl, ann.token);
    await Promise.all(Array.from({ length: 300 }, (_, i) => sender.send(code, `before ${i + 1}`)));
    const bobs = await connected(bob);
    bobs.send({ t: 'watch', chat: code, after: 0 });
    const sending = Promise.all(Array.from({ length: 300 }, (_, i) => sender.send(code, `during ${i + 1}`)));
    const acks = await sending;
    const last = acks.at(-1)!.seq;
    expect(last).toBe(600);
    await waitFor(() => pushedSeqs(bobs, code).length >= 600, 'all 600 pushed', 30_000);
    await roundTrip(bobs);
    expect(pushedSeqs(bobs, code)).toEqual(range(1, 600));
    const texts = bobs.frames.flatMap((f) => (f.t === 'messages' ? f.messages : []));
    expect(texts[0]).toMatchObject({ seq: 1, text: 'before 1', sender: { id: ann.user.id, name: 'Ann' } });
    expect(texts.at(-1)).toMatchObject({ seq: 600, text: 'during 300' });
    expect(bobs.frames.some((f) => f.t === 'refusal')).toBe(false);
    sender.close();
    bobs.socket.destroy();
  }, 60_000);

  it('after S sends only what follows S; unwatch stops it; watching again restarts from the new after', async () => {
    const { code } = await sharedChat();
    const sender = await connectedSender(server.httpUrl, ann.token);
    for (let i = 1; i <= 5; i++) await sender.send(code, `m${i}`);
    const bobs = await connected(bob);
    bobs.send({ t: 'watch', chat: code, after: 3 });
    await waitFor(() => pushedSeqs(bobs, code).length === 2, 'messages 4 and 5');
    await sender.send(code, 'm6');
    await waitFor(() => pushedSeqs(bobs, code).length === 3, 'message 6, live');
    bobs.send({ t: 'unwatch', chat: code });
    bobs.send({ t: 'unwatch', chat: code }); // not watched any more: a no-op
    await roundTrip(bobs);
    await sender.send(code, 'm7');
    await roundTrip(bobs);
    expect(pushedSeqs(bobs, code)).toEqual([4, 5, 6]);
    bobs.send({ t: 'watch', chat: code, after: 5 });
    await waitFor(() => pushedSeqs(bobs, code).length === 5, 'messages 6 and 7 again');
    expect(pushedSeqs(bobs, code)).toEqual([4, 5, 6, 6, 7]);
    sender.close();
    bobs.socket.destroy();
  });

  it('is refused, as a refusal frame, for a chat one is not in or that does not exist; the connection goes on', async () => {
    const { code } = await sharedChat();
    const eves = await connected(eve);
    eves.send({ t: 'watch', chat: code, after: 0 });
    eves.send({ t: 'watch', chat: 'zzzzz zzzzz', after: 0 });
    eves.send({ t: 'probe', chat: code, nonce: 'AAECAwQFBgcICQoL' });
    await waitFor(() => eves.frames.filter((f) => f.t === 'refusal').length === 3, 'three refusals');
    // Watches answer in order; a probe does not wait for them.
    const refusals = eves.frames.filter((f) => f.t === 'refusal');
    expect(refusals.filter((f) => f.about === 'watch')).toEqual([
      expect.objectContaining({ chat: code, code: 'NOT_A_MEMBER' }),
      expect.objectContaining({ chat: 'ZZZZZ-ZZZZZ', code: 'CHAT_NOT_FOUND' }),
    ]);
    expect(refusals.filter((f) => f.about === 'probe')).toEqual([expect.objectContaining({ chat: code, code: 'NOT_A_MEMBER' })]);
    const sender = await connectedSender(server.httpUrl, ann.token);
    await sender.send(code, 'not for Eve');
    await roundTrip(eves);
    expect(eves.isClosed).toBe(false);
    expect(eves.frames.some((f) => f.t === 'messages' || f.t === 'probed')).toBe(false);
    // Still usable for her own chat.
    const own = (await call('POST', '/api/chats', { token: eve.token, json: { name: 'Eve’s' } })).body.code as string;
    eves.send({ t: 'watch', chat: own, after: 0 });
    sender.close();
    const eveSender = await connectedSender(server.httpUrl, eve.token);
    await eveSender.send(own, 'mine');
    await waitFor(() => pushedSeqs(eves, own).length === 1, 'her own message');
    eveSender.close();
    eves.socket.destroy();
  });

  it('stops, with a NOT_A_MEMBER refusal, for a member the creator removes: nothing committed after the removal reaches them', async () => {
    const { code } = await sharedChat();
    const sender = await connectedSender(server.httpUrl, ann.token);
    await sender.send(code, 'before');
    const bobs = await connected(bob);
    bobs.send({ t: 'watch', chat: code, after: 0 });
    await waitFor(() => pushedSeqs(bobs, code).length === 1, 'the first message');
    expect((await call('DELETE', `/api/chats/${code}/members/${bob.user.id}`, { token: ann.token })).status).toBe(204);
    // At the removal itself, not at the chat's next message: Bob's client can say so at once.
    await waitFor(() => bobs.frames.some((f) => f.t === 'refusal'), 'the refusal');
    for (let i = 0; i < 5; i++) await sender.send(code, `after removal ${i}`);
    await roundTrip(bobs);
    expect(pushedSeqs(bobs, code)).toEqual([1]);
    expect(bobs.frames.filter((f) => f.t === 'refusal')).toEqual([expect.objectContaining({ about: 'watch', chat: code, code: 'NOT_A_MEMBER' })]);
    expect(bobs.frames.flatMap((f) => (f.t === 'messages' ? f.messages.map((m) => m.text) : [])).some((t) => t.startsWith('after removal'))).toBe(false);
    sender.close();
    bobs.socket.destroy();
  });

  it('never buffers without bound for a reader that stops reading; once it reads again it gets every message in order', async () => {
    const { code } = await sharedChat();
    const bobs = await connected(bob);
    bobs.send({ t: 'watch', chat: code, after: 0 });
    await roundTrip(bobs);
    bobs.socket.pause();
    const sender = await connectedSender(server.httpUrl, ann.token);
    const text = 'z'.repeat(12_000);
    // 24 MB of messages: far more than the socket buffers of both ends hold.
    const COUNT = 2000;
    let maxUnsent = 0;
    for (let i = 0; i < COUNT; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => sender.send(code, `${i + k + 1} ${text}`)));
      maxUnsent = Math.max(maxUnsent, (await metricsSample('chorus_tcp_unsent_bytes')) ?? Infinity);
    }
    maxUnsent = Math.max(maxUnsent, (await metricsSample('chorus_tcp_unsent_bytes')) ?? Infinity);
    expect(pushedSeqs(bobs, code).length).toBeLessThan(COUNT);
    // Push stops at its high-water mark (plus one frame), whatever was committed.
    expect(maxUnsent).toBeLessThan(PUSH_HIGH_WATER_BYTES + MAX_FRAME_BYTES + 64 * 1024);
    expect(maxUnsent).toBeGreaterThan(0);
    bobs.socket.resume();
    await waitFor(() => pushedSeqs(bobs, code).length >= COUNT, `all ${COUNT} pushed`, 60_000);
    await roundTrip(bobs);
    expect(pushedSeqs(bobs, code)).toEqual(range(1, COUNT));
    expect(bobs.isClosed).toBe(false);
    sender.close();
    bobs.socket.destroy();
  }, 120_000);

  it('is counted in /api/metrics: clients on push, watches, messages pushed, probes', async () => {
    const { code } = await sharedChat();
    const pushedBefore = (await metricsSample('chorus_messages_pushed_total')) ?? 0;
    const probesBefore = (await metricsSample('chorus_probes_total')) ?? 0;
    const bobs = await connected(bob);
    bobs.send({ t: 'watch', chat: code, after: 0 });
    bobs.send({ t: 'probe', chat: code, nonce: 'AAECAwQFBgcICQoL' });
    await bobs.next('probed');
    const sender = await connectedSender(server.httpUrl, ann.token);
    for (let i = 0; i < 3; i++) await sender.send(code, `counted ${i}`);
    await waitFor(() => pushedSeqs(bobs, code).length === 3, 'three pushed');
    expect(await metricsSample('chorus_push_clients')).toBe(1);
    expect(await metricsSample('chorus_push_watches')).toBe(1);
    expect(await metricsSample('chorus_messages_pushed_total')).toBe(pushedBefore + 3);
    expect(await metricsSample('chorus_probes_total')).toBe(probesBefore + 1);
    expect(await metricsSample('chorus_multicast_send_errors_total')).toBe(0);
    expect(await metricsSample('chorus_multicast_sending_fails')).toBe(0);
    bobs.send({ t: 'unwatch', chat: code });
    await roundTrip(bobs);
    expect(await metricsSample('chorus_push_clients')).toBe(0);
    sender.close();
    bobs.socket.destroy();
  });
});

describe('probe', () => {
  it('is answered `probed` with the nonce and the latest seq, and a signed PROBE datagram with that nonce arrives on the chat\'s group', async () => {
    const chat = await sharedChat();
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    try {
      const sender = await connectedSender(server.httpUrl, ann.token);
      for (let i = 0; i < 3; i++) await sender.send(chat.code, `m${i}`);
      const key = Buffer.from(chat.multicast.key, 'base64');
      const serverKey = await serverKeyOf(server.httpUrl);
      const decoded = (): Datagram[] => capture.datagrams.map((d) => decodeDatagram(d, () => key, serverKey)).flatMap((r) => (r.ok ? [r.datagram] : []));
      // The three messages went out by multicast before the probe asks how far it got.
      await waitFor(() => decoded().some((d) => d.type === 'data' && d.messages.some((m) => m.seq === 3)), 'the data datagrams');
      const bobs = await connected(bob);
      const nonce = 'q1w2e3r4t5y6u7i8';
      bobs.send({ t: 'probe', chat: chat.code.toLowerCase().replace('-', ' '), nonce });
      expect(await bobs.next('probed')).toEqual({ t: 'probed', chat: chat.code, nonce, latestSeq: 3 });
      await waitFor(() => decoded().some((d) => d.type === 'probe'), 'the PROBE datagram');
      expect(decoded().filter((d) => d.type === 'probe')).toEqual([{ type: 'probe', stream: expect.any(String), epoch: chat.multicast.keyEpoch, latestSeq: 3, nonce }]);
      // Signed by the server: under another key it does not verify.
      const probeBytes = capture.datagrams.find((d) => d[3] === 3)!;
      expect(decodeDatagram(probeBytes, () => key, newSigningKeyPair().publicKey)).toEqual({ ok: false, reason: 'bad-signature' });
      sender.close();
      bobs.socket.destroy();
    } finally {
      await capture.close();
    }
  });

  it(`is limited per user, across connections, to bursts of ${PROBE_BURST}: beyond, refused TOO_MANY_REQUESTS with retryAfterMs, and the connection goes on`, async () => {
    // A user of its own, whose bucket no other test has touched.
    const pia = await signUp(server.httpUrl, 'Pia');
    const { code } = await sharedChat();
    expect((await call('POST', `/api/chats/${code}/members`, { token: pia.token })).status).toBe(200);
    // Two connections of one user share the bucket: each alone stays under the burst, together
    // they go well past it (by more than the bucket refills in several seconds), so the second is
    // refused some, whatever the machine's speed.
    const bobs = await connected(pia);
    const bobsOther = await connected(pia);
    const first = PROBE_BURST - 10;
    const second = 160;
    for (let i = 0; i < first; i++) bobsOther.send({ t: 'probe', chat: code, nonce: `other${String(i).padStart(11, '0')}` });
    await waitFor(() => bobsOther.frames.filter((f) => f.t === 'probed').length === first, "the other connection's answers");
    for (let i = 0; i < second; i++) bobs.send({ t: 'probe', chat: code, nonce: `probe${String(i).padStart(11, '0')}` });
    await waitFor(() => bobs.frames.filter((f) => f.t === 'probed' || f.t === 'refusal').length === second, 'every answer');
    bobsOther.socket.destroy();
    const refusals = bobs.frames.filter((f): f is Extract<Frame, { t: 'refusal' }> => f.t === 'refusal');
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) expect(refusal).toMatchObject({ about: 'probe', chat: code, code: 'TOO_MANY_REQUESTS' });
    expect(refusals[0]!.retryAfterMs).toBeGreaterThan(0);
    // What the first connection left of the burst was still the second's to use.
    expect(bobs.frames.filter((f) => f.t === 'probed').length).toBeGreaterThanOrEqual(PROBE_BURST - first);
    await roundTrip(bobs);
    expect(bobs.isClosed).toBe(false);
    bobs.socket.destroy();
  });
});

describe('protocol versions', () => {
  it('a version 2 hello is still welcomed, as version 2', async () => {
    const c = await rawFrameClient(server.tcpPort);
    c.send({ t: 'hello', v: 2, token: ann.token });
    expect(await c.next('welcome')).toEqual({ t: 'welcome', v: 2, userId: ann.user.id });
    c.socket.destroy();
  });
});

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Receiver } from '../../src/client/receiver.js';
import type { Ack, Sender } from '../../src/client/sender.js';
import { NonceSource, newSigningKeyPair } from '../../src/protocol/crypto.js';
import { decodeDatagram, encodeData, encodeHeartbeat, encodeVouch, encodeVouchedData } from '../../src/protocol/datagram.js';
import { VouchedDigests } from '../../src/protocol/vouched-digests.js';
import { type Frame, encodeFrame } from '../../src/protocol/frames.js';
import { MAX_DATAGRAM_BYTES, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { captureGroup, connectedSender, recordingReceiver, serverKeyOf, waitFor } from '../support/messaging.js';
import { rawFrameClient } from '../support/raw-tcp.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { http, signUp, startTestServer, type TestServer } from '../support/server.js';
import { applyEdit } from './support/edits.js';
import { fuzzConnection } from './support/tcp-fuzz.js';

/**
 * Load from abuse: junk datagrams flooding a chat's group and port, and a burst of bad TCP
 * frames from one member's connections, while the other members talk. Every member must still
 * get every message exactly once, in order, and the receivers' drop counters must show that
 * the junk arrived and was thrown away.
 */

type Account = Awaited<ReturnType<typeof signUp>>;
interface ChatInfo {
  code: string;
  multicast: { group: string; port: number; streamId: string; keyEpoch: number; key: string };
}

const JUNK_DATAGRAMS = 20_000;
const MESSAGES_PER_SENDER = 150;
/** Sent at once by one member at the end: a backlog, which goes out as runs (a VOUCH, then unsigned datagrams). */
const BURST = 300;

let server: TestServer;
let call: ReturnType<typeof http>;
let alice: Account, bob: Account, carol: Account, dave: Account, mallory: Account;
let chat: ChatInfo;
let otherChat: ChatInfo;
/** Genuine datagrams of the chat under the epoch before a rotation: now unknown-key. */
let beforeRotation: Buffer[] = [];
const receivers: Receiver[] = [];
const senders: Sender[] = [];

beforeAll(async () => {
  // A slow multicast pace, so that the burst queues whatever the commits' timing and goes out as
  // runs (a VOUCH, then unsigned datagrams) through the flood; and datagrams of the size any
  // network takes, as on Ethernet (loopback's MTU would carry the burst in two or three).
  const defaults = defaultServerConfig({ dataDir: '' }).multicast;
  server = await startTestServer({ multicast: { ...defaults, interface: '127.0.0.1', rate: { bytesPerSecond: 1_500_000, datagramsPerSecond: 50 }, datagramBytes: MAX_DATAGRAM_BYTES } });
  call = http(server.httpUrl);
  [alice, bob, carol, dave, mallory] = (await Promise.all(['Alice', 'Bob', 'Carol', 'Dave', 'Mallory'].map((n) => signUp(server.httpUrl, n)))) as [
    Account,
    Account,
    Account,
    Account,
    Account,
  ];
  chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Under fire' } })).body;
  for (const member of [bob, carol, dave, mallory]) expect((await call('POST', `/api/chats/${chat.code}/members`, { token: member.token })).status).toBe(200);
  otherChat = (await call('POST', '/api/chats', { token: mallory.token, json: { name: 'Elsewhere' } })).body;

  // A few messages under the first epoch, kept as a LAN eavesdropper would; then Dave leaves,
  // which rotates the key: replaying them later is "unknown-key" for everyone.
  const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
  const sender = await connectedSender(server.httpUrl, alice.token);
  senders.push(sender);
  for (let i = 0; i < 3; i++) await sender.send(chat.code, `before the rotation ${i}`);
  await waitFor(() => capture.datagrams.filter((d) => d[3] === 1).length >= 1, 'datagrams of the first epoch');
  beforeRotation = capture.datagrams.filter((d) => d.readUInt32BE(14) === chat.multicast.keyEpoch);
  await capture.close();
  expect((await call('DELETE', `/api/chats/${chat.code}/members/me`, { token: dave.token })).status).toBe(204);
  chat = (await call('GET', `/api/chats/${chat.code}`, { token: alice.token })).body;
  expect(chat.multicast.keyEpoch).toBeGreaterThan(beforeRotation[0]!.readUInt32BE(14));
});

afterAll(async () => {
  for (const r of receivers) r.close();
  for (const s of senders) s.close();
  await server?.dispose();
});

/** Sends datagrams to a group over loopback (TTL 1), yielding now and then so others run too. */
async function flood(group: string, port: number, datagrams: () => Buffer | undefined): Promise<number> {
  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setMulticastInterface('127.0.0.1');
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  let sent = 0;
  for (let d = datagrams(); d; d = datagrams()) {
    await new Promise<void>((resolve) => socket.send(d!, port, group, () => resolve()));
    if (++sent % 100 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return sent;
}

describe('abuse does not stop the members', () => {
  it('delivers every message exactly once, in order, through a datagram flood and a TCP burst', async () => {
    const members = [alice, bob, carol];
    const recs = await Promise.all(members.map((m) => recordingReceiver(server.httpUrl, m.token)));
    const start: number = (await call('GET', `/api/chats/${chat.code}`, { token: alice.token })).body.latestSeq;
    for (const { receiver } of recs) {
      receivers.push(receiver);
      await receiver.join(chat.code, { after: start });
    }

    // Genuine datagrams of the current epoch, captured as they go by (among the junk), for replays.
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const serverKey = await serverKeyOf(server.httpUrl);
    const current = new Map([[chat.multicast.keyEpoch, Buffer.from(chat.multicast.key, 'base64')]]);
    const genuine: Buffer[] = [];
    let scanned = 0;
    // Read in the order they came, as a receiver does: VOUCHes vouch for the runs' datagrams.
    const vouched = new VouchedDigests();
    const replay = () => {
      for (; scanned < capture.datagrams.length; scanned++) {
        const d = capture.datagrams[scanned]!;
        if (decodeDatagram(d, (_c, e) => current.get(e), serverKey, vouched).ok) genuine.push(d);
      }
      return genuine.at(Math.floor(Math.random() * genuine.length)) ?? beforeRotation[0]!;
    };
    const stream = chat.multicast.streamId;
    const otherStream = otherChat.multicast.streamId;
    const attacker = newSigningKeyPair();
    const memberKey = Buffer.from(chat.multicast.key, 'base64');
    const nonces = new NonceSource();
    const forged = (seq: number) => ({ seq, senderId: alice.user.id, senderName: 'Alice', sentAt: Date.now(), clientMsgId: `forged-${seq}`, text: 'FORGED', textOmitted: false });
    const epoch = chat.multicast.keyEpoch;
    // Each kind of junk, in turn.
    const kinds: (() => Buffer)[] = [
      () => randomBytes(1 + Math.floor(Math.random() * 1200)),
      // A member (who holds the chat key) signing as the server: bad signature.
      () => encodeData({ stream, epoch, messages: [forged(start + 1 + Math.floor(Math.random() * 50))] }, memberKey, nonces.next(), attacker.privateKey),
      () => encodeHeartbeat({ stream, epoch, latestSeq: start + 1_000_000 }, attacker.privateKey),
      // A member's own unsigned datagram, as if in a run (no VOUCH names it)…
      () => encodeVouchedData({ stream, epoch, messages: [forged(start + 1 + Math.floor(Math.random() * (2 * MESSAGES_PER_SENDER + BURST)))] }, memberKey, nonces.next()),
      // …and a VOUCH for it that the server did not sign.
      () => {
        const own = encodeVouchedData({ stream, epoch, messages: [forged(start + 1 + Math.floor(Math.random() * 50))] }, memberKey, nonces.next());
        return encodeVouch({ stream, epoch }, [own], attacker.privateKey);
      },
      // Wrong epoch, either way, forged: bad signature before any key is looked up.
      () => encodeHeartbeat({ stream, epoch: epoch + 1 + Math.floor(Math.random() * 5), latestSeq: start + 10 }, attacker.privateKey),
      () => encodeData({ stream, epoch: Math.max(0, epoch - 1), messages: [forged(start + 1)] }, memberKey, nonces.next(), attacker.privateKey),
      // Genuine, but from before the rotation: unknown key.
      () => beforeRotation[Math.floor(Math.random() * beforeRotation.length)]!,
      // Another chat's stream id in the header, on this chat's group and port.
      () => encodeHeartbeat({ stream: otherStream, epoch: 1, latestSeq: 5 }, attacker.privateKey),
      // Replays and mutations of genuine datagrams of this epoch.
      replay,
      () => {
        const d = replay();
        return applyEdit(d, { kind: 'flip', at: Math.floor(Math.random() * d.length), bit: Math.floor(Math.random() * 8) }, []);
      },
    ];
    // The flood goes on for as long as the members talk, and for at least JUNK_DATAGRAMS.
    let junk = 0;
    let talking = true;
    let junkWhileTalking = 0;
    const flooding = flood(chat.multicast.group, chat.multicast.port, () => {
      if (junk >= JUNK_DATAGRAMS && !talking) return undefined;
      if (talking) junkWhileTalking++;
      return kinds[junk++ % kinds.length]!();
    });

    // Mallory, a member, bursts bad frames over several connections while the others talk.
    const now = new Date().toISOString();
    const fatalBeforeHello: Buffer[] = [
      Buffer.concat([Buffer.from([0, 0, 0, 8]), randomBytes(4092)]),
      Buffer.from([0xff, 0xff, 0xff, 0xff]),
      Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from('not json!!')]),
      encodeFrame({ t: 'send', id: 'early', chat: chat.code, text: 'before hello' }),
      encodeFrame({ t: 'welcome', v: PROTOCOL_VERSION, userId: alice.user.id }),
    ];
    // After a welcome: frames only a server may send, and garbage.
    const fatalAfterHello: Buffer[] = [
      encodeFrame({ t: 'welcome', v: PROTOCOL_VERSION, userId: alice.user.id }),
      encodeFrame({ t: 'ack', id: 'x', chat: chat.code, seq: 1, sentAt: now }),
      encodeFrame({ t: 'messages', chat: chat.code, messages: [{ seq: start + 1, sender: { id: alice.user.id, name: 'Alice' }, text: 'spoofed', sentAt: now, clientMsgId: 'spoof' }] }),
      encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: mallory.token }),
      Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(0x10000, 0x7b)]),
    ];
    const hello = encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: mallory.token });
    const tcpBurst = Promise.all([
      ...Array.from({ length: 10 }, (_, i) => fuzzConnection(server.tcpPort, [fatalBeforeHello[i % fatalBeforeHello.length]!], 'until-closed')),
      ...Array.from({ length: 10 }, (_, i) => fuzzConnection(server.tcpPort, [fatalAfterHello[i % fatalAfterHello.length]!], 'until-closed', hello)),
    ]);
    // And one logged-in connection pipelines 500 sends the server must refuse one by one.
    const refused: Frame[] = [
      { t: 'send', id: 'empty', chat: chat.code, text: '' },
      { t: 'send', id: 'huge', chat: chat.code, text: 'x'.repeat(17 * 1024) },
      { t: 'send', id: 'nowhere', chat: 'ZZZZZ-ZZZZZ', text: 'hi' },
      { t: 'send', id: 'garbled', chat: '%%%', text: 'hi' },
      { t: 'send', id: 'elsewhere', chat: otherChat.code.replace(/./, (c) => (c === 'Z' ? 'Y' : 'Z')), text: 'hi' },
    ];
    const burster = await rawFrameClient(server.tcpPort);
    await burster.login(mallory.token);
    burster.socket.write(Buffer.concat(Array.from({ length: 500 }, (_, i) => encodeFrame(refused[i % refused.length]!))));
    // Pings as a client does: on a slow run (PostgreSQL's round trips share a loaded event loop
    // with the flood) the test may outlast the idle timeout, which is not what it is about.
    const keepAlive = setInterval(() => burster.send({ t: 'ping' }), 10_000).unref();

    const talkers = await Promise.all([alice, bob].map((m) => connectedSender(server.httpUrl, m.token)));
    senders.push(...talkers);
    const acks: (Ack & { text: string })[] = [];
    await Promise.all(
      talkers.map(async (s, k) => {
        for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
          const text = `${members[k]!.user.name} ${i}`;
          acks.push({ ...(await s.send(chat.code, text)), text });
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    // Then a burst: Carol (whose send budget is whole) pipelines BURST messages, which queue
    // and go out as runs.
    const burster2 = await connectedSender(server.httpUrl, carol.token);
    senders.push(burster2);
    const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => burster2.send(chat.code, `burst ${i}`).then((ack) => ({ ...ack, text: `burst ${i}` }))));
    acks.push(...burst);
    talking = false;
    const sentJunk = await flooding;
    const connections = await tcpBurst;
    await burster.next('error', 499);

    const total = 2 * MESSAGES_PER_SENDER + BURST;
    expect(acks).toHaveLength(total);
    const bySeq = new Map(acks.map((a) => [a.seq, a.text]));
    for (const { delivered } of recs) await waitFor(() => delivered.length >= total, 'every message at every member', 30_000);
    // Let anything late (a replay, a repair) arrive, so that a duplicate would show.
    await new Promise((r) => setTimeout(r, 300));
    const expected = [...bySeq.keys()].sort((a, b) => a - b).map((seq) => [seq, bySeq.get(seq)]);
    expect(expected.map(([seq]) => seq)).toEqual(Array.from({ length: total }, (_, i) => start + 1 + i));
    for (const { delivered } of recs) {
      expect(delivered.map((m: ChatMessage) => [m.seq, m.text])).toEqual(expected);
      expect(delivered.some((m) => m.text === 'FORGED' || m.text === 'spoofed')).toBe(false);
    }

    // The burst went out as runs (a VOUCH, then unsigned datagrams). Whether a receiver read a
    // VOUCH depends on the flood: its socket overflows, and a run whose VOUCH it lost is repaired.
    const metrics = await (await fetch(`${server.httpUrl}/api/metrics`)).text();
    expect(Number(/^chorus_vouches_sent_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    // The junk was seen, and dropped for the right reasons.
    console.info(`flood: ${sentJunk} junk datagrams (${junkWhileTalking} while members talked)`, recs.map(({ receiver }) => ({ ...receiver.drops, ...receiver.counts })));
    expect(sentJunk).toBeGreaterThanOrEqual(JUNK_DATAGRAMS);
    expect(junkWhileTalking).toBeGreaterThan(1000);
    for (const { receiver } of recs) {
      expect(receiver.drops.malformed, 'malformed').toBeGreaterThan(0);
      // Forgeries past the verification budget are dropped unchecked (over-budget).
      expect(receiver.drops['bad-signature'] + receiver.drops['over-budget'], 'bad-signature or over-budget').toBeGreaterThan(JUNK_DATAGRAMS / 20);
      expect(receiver.drops['bad-signature'], 'bad-signature').toBeGreaterThan(0);
      expect(receiver.drops['unknown-key'], 'unknown-key').toBeGreaterThan(0);
      expect(receiver.drops['other-chat'], 'other-chat').toBeGreaterThan(0);
      // Members' own unsigned datagrams were refused.
      expect(receiver.drops.unvouched, 'unvouched').toBeGreaterThan(0);
      expect(receiver.counts.datagrams).toBeGreaterThan(JUNK_DATAGRAMS / 10);
    }

    // Every bad connection was told why and closed; the refused sends were refused one by one.
    for (const c of connections) {
      expect(c.badAnswer).toBeUndefined();
      expect(c.frames.some((f) => f.t === 'error' && f.id === undefined)).toBe(true);
      expect(c.closedByServer).toBe(true);
      expect(c.frames.some((f) => f.t === 'ack')).toBe(false);
    }
    expect(burster.frames.filter((f) => f.t === 'error' && f.id !== undefined)).toHaveLength(500);
    expect(burster.frames.some((f) => f.t === 'ack')).toBe(false);
    clearInterval(keepAlive);
    expect(burster.isClosed).toBe(false);
    burster.socket.destroy();
    await capture.close();
  }, 120_000);

  it('cuts off a client that never reads its answers instead of buffering them without bound, and keeps serving the others', async () => {
    const reader = await connectedSender(server.httpUrl, bob.token);
    senders.push(reader);
    const glutton = await rawFrameClient(server.tcpPort);
    await glutton.login(mallory.token);
    // The server resets the connection: that ends it too.
    const ended = glutton.closed.catch(() => {});
    // Stop reading: the server's pongs pile up in its socket buffer.
    glutton.socket.pause();
    const pings = Buffer.concat(Array.from({ length: 10_000 }, () => encodeFrame({ t: 'ping' })));
    let written = 0;
    // 1,000,000 pings: some 16 MB of pongs the server would otherwise keep for us.
    for (let i = 0; i < 100 && !glutton.socket.destroyed; i++) {
      if (!glutton.socket.write(pings)) await Promise.race([new Promise((r) => glutton.socket.once('drain', r)), ended, new Promise((r) => setTimeout(r, 2000))]);
      written += 10_000;
    }
    glutton.socket.resume();
    await ended;
    // It was cut off before it got all its answers, and the others were served meanwhile.
    expect(written).toBeGreaterThan(0);
    expect(glutton.frames.filter((f) => f.t === 'pong').length).toBeLessThan(written);
    const ack = await reader.send(chat.code, 'still served');
    expect((await call('GET', `/api/chats/${chat.code}/messages?after=${ack.seq - 1}&limit=1`, { token: alice.token })).body.messages[0].text).toBe('still served');
  }, 120_000);
});

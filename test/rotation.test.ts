import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Receiver } from '../src/client/receiver.js';
import type { Ack, Sender } from '../src/client/sender.js';
import { decodeDatagram, parseHeader } from '../src/protocol/datagram.js';
import { captureGroup, connectedSender, recordingReceiver, serverKeyOf, tcpPortOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

type Account = Awaited<ReturnType<typeof signUp>>;
interface ChatInfo {
  code: string;
  multicast: { group: string; port: number; streamId: string; keyEpoch: number; key: string };
}

let server: TestServer;
let call: ReturnType<typeof http>;
let alice: Account, bob: Account, carol: Account, dave: Account, erin: Account, mallory: Account;
let chat: ChatInfo;
const receivers: Receiver[] = [];
const senders: Sender[] = [];

beforeAll(async () => {
  server = await startTestServer();
  call = http(server.httpUrl);
  const accounts = await Promise.all(['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Mallory'].map((n) => signUp(server.httpUrl, n)));
  [alice, bob, carol, dave, erin, mallory] = accounts as [Account, Account, Account, Account, Account, Account];
  chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Rotation' } })).body;
  for (const member of [bob, carol, dave, erin]) {
    expect((await call('POST', `/api/chats/${chat.code}/members`, { token: member.token })).status).toBe(200);
  }
});
afterAll(async () => {
  for (const r of receivers) r.close();
  for (const s of senders) s.close();
  await server.dispose();
});

async function chatAs(account: Account): Promise<ChatInfo> {
  const r = await call('GET', `/api/chats/${chat.code}`, { token: account.token });
  expect(r.status).toBe(200);
  return r.body;
}

const removePath = (userId: number | string) => `/api/chats/${chat.code}/members/${userId}`;

describe('removing a member', () => {
  it('is for the chat creator only, and only for members', async () => {
    const byMember = await call('DELETE', removePath(dave.user.id), { token: erin.token });
    expect(byMember.status).toBe(403);
    expect(byMember.body).toMatchObject({ code: 'FORBIDDEN' });
    const byOutsider = await call('DELETE', removePath(dave.user.id), { token: mallory.token });
    expect(byOutsider.status).toBe(403);
    expect(byOutsider.body).toMatchObject({ code: 'NOT_A_MEMBER' });
    expect((await call('DELETE', removePath(dave.user.id))).status).toBe(401);
    const notMember = await call('DELETE', removePath(mallory.user.id), { token: alice.token });
    expect(notMember.status).toBe(404);
    expect(notMember.body).toMatchObject({ code: 'NOT_FOUND' });
    expect((await call('DELETE', removePath(999_999), { token: alice.token })).status).toBe(404);
    expect((await call('DELETE', removePath('abc'), { token: alice.token })).body).toMatchObject({ code: 'INVALID_FIELD' });
    const unknownChat = await call('DELETE', `/api/chats/ZZZZZ-ZZZZZ/members/${dave.user.id}`, { token: alice.token });
    expect(unknownChat.body).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    // Nothing happened: the epoch and the members are as they were.
    const members = (await call('GET', `/api/chats/${chat.code}/members`, { token: alice.token })).body.members;
    expect(members.map((m: { id: number }) => m.id)).toContain(dave.user.id);
    expect((await chatAs(alice)).multicast.keyEpoch).toBe(chat.multicast.keyEpoch);
  });
});

describe('key rotation when a member leaves or is removed', () => {
  it('starts a new epoch the former member cannot read, while members miss nothing', async () => {
    const stream = chat.multicast.streamId;
    const serverKey = await serverKeyOf(server.httpUrl);
    const recs = await Promise.all([alice, bob].map((u) => recordingReceiver(server.httpUrl, u.token)));
    for (const { receiver } of recs) {
      receivers.push(receiver);
      await receiver.join(chat.code, { after: 0 });
    }
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);

    // Dave's connection is open and working before he is removed.
    const daveTcp = await rawFrameClient(await tcpPortOf(server.httpUrl));
    await daveTcp.login(dave.token);
    daveTcp.send({ t: 'send', id: 'dave-before', chat: chat.code, text: 'hello from Dave' });
    expect(await daveTcp.next('ack')).toMatchObject({ id: 'dave-before' });

    // Alice and Bob keep sending throughout both rotations.
    const acks: Ack[] = [];
    let pumping = true;
    const pumps = [alice, bob].map(async (account, k) => {
      const sender = await connectedSender(server.httpUrl, account.token);
      senders.push(sender);
      for (let i = 0; pumping; i++) {
        acks.push(await sender.send(chat.code, `pump ${k} ${i}`));
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return sender;
    });
    await waitFor(() => acks.length >= 20, 'messages before the rotations');

    // Carol leaves.
    const carolKey = await chatAs(carol);
    expect((await call('DELETE', `/api/chats/${chat.code}/members/me`, { token: carol.token })).status).toBe(204);
    const afterLeave = await chatAs(alice);
    expect(afterLeave.multicast.keyEpoch).toBeGreaterThan(carolKey.multicast.keyEpoch);
    expect(afterLeave.multicast.key).not.toBe(carolKey.multicast.key);
    await waitFor(() => acks.length >= 40, 'messages between the rotations');

    // Dave is removed by Alice, the creator.
    const daveKey = await chatAs(dave);
    expect(daveKey.multicast.keyEpoch).toBe(afterLeave.multicast.keyEpoch);
    expect((await call('DELETE', removePath(dave.user.id), { token: alice.token })).status).toBe(204);
    const afterRemoval = await chatAs(bob);
    expect(afterRemoval.multicast.keyEpoch).toBeGreaterThan(daveKey.multicast.keyEpoch);
    expect(afterRemoval.multicast.key).not.toBe(daveKey.multicast.key);
    const members = (await call('GET', `/api/chats/${chat.code}/members`, { token: alice.token })).body.members;
    expect(members.map((m: { id: number }) => m.id).sort()).toEqual([alice.user.id, bob.user.id, erin.user.id].sort());

    // Dave loses access at once: over HTTP (told he was removed), and on the TCP connection he already had open.
    for (const path of [`/api/chats/${chat.code}/messages`, `/api/chats/${chat.code}`, `/api/chats/${chat.code}/members`]) {
      const r = await call('GET', path, { token: dave.token });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'BANNED' });
    }
    daveTcp.send({ t: 'send', id: 'dave-after', chat: chat.code, text: 'am I still here?' });
    expect(await daveTcp.next('error')).toMatchObject({ id: 'dave-after', code: 'NOT_A_MEMBER' });
    expect(daveTcp.isClosed).toBe(false);

    // A marker sent after both rotations, then stop the pumps.
    const marker = await senders[0]!.send(chat.code, 'after both rotations', 'marker-after');
    const sentBeforeMarker = acks.length;
    await waitFor(() => acks.length >= sentBeforeMarker + 20, 'messages after the rotations');
    pumping = false;
    await Promise.all(pumps);
    const lastSeq = Math.max(marker.seq, ...acks.map((a) => a.seq));

    // What an eavesdropper holding a former key captured after the rotations: unreadable with
    // that key, readable with the current one.
    const newKey = Buffer.from(afterRemoval.multicast.key, 'base64');
    const decodeWith = (d: Buffer, key: Buffer, epoch?: number) =>
      decodeDatagram(d, (s, e) => (s === stream && (epoch === undefined || e === epoch) ? key : undefined), serverKey);
    await waitFor(
      () => capture.datagrams.some((d) => {
        const r = decodeWith(d, newKey);
        return r.ok && r.datagram.type === 'data' && r.datagram.messages.some((m) => m.clientMsgId === 'marker-after');
      }),
      'the captured marker datagram',
    );
    const sealedAfter = capture.datagrams.filter((d) => {
      const h = parseHeader(d);
      return !('reason' in h) && h.type === 'data' && h.epoch === afterRemoval.multicast.keyEpoch;
    });
    expect(sealedAfter.length).toBeGreaterThan(0);
    for (const former of [carolKey, daveKey]) {
      const oldKey = Buffer.from(former.multicast.key, 'base64');
      for (const d of sealedAfter) {
        expect(decodeWith(d, oldKey, former.multicast.keyEpoch)).toEqual({ ok: false, reason: 'unknown-key' });
        // Even offered for the new epoch, the old key opens nothing.
        expect(decodeWith(d, oldKey)).toEqual({ ok: false, reason: 'undecryptable' });
        expect(decodeWith(d, newKey).ok).toBe(true);
      }
    }
    // And what was sealed between the two rotations was already out of Carol's reach.
    const betweenRotations = capture.datagrams.filter((d) => {
      const h = parseHeader(d);
      return !('reason' in h) && h.type === 'data' && h.epoch === afterLeave.multicast.keyEpoch;
    });
    for (const d of betweenRotations) {
      expect(decodeWith(d, Buffer.from(carolKey.multicast.key, 'base64'))).toEqual({ ok: false, reason: 'undecryptable' });
    }
    await capture.close();

    // The members' receivers delivered everything, before, during and after: once each, in order.
    for (const { delivered } of recs) await waitFor(() => (delivered.at(-1)?.seq ?? 0) >= lastSeq, 'every message at every receiver');
    const bySeq = new Map(acks.map((a) => [a.seq, a.id]));
    for (const { delivered } of recs) {
      expect(delivered.map((m: ChatMessage) => m.seq)).toEqual(Array.from({ length: delivered.length }, (_, i) => i + 1));
      expect(delivered.length).toBe(lastSeq);
      for (const m of delivered) if (bySeq.has(m.seq)) expect(m.clientMsgId).toBe(bySeq.get(m.seq));
      expect(delivered.some((m) => m.clientMsgId === 'dave-before')).toBe(true);
      expect(delivered.some((m) => m.clientMsgId === 'dave-after')).toBe(false);
    }
    daveTcp.socket.destroy();
  });
});

describe("a removed member's receiver", () => {
  it('stops receiving the chat once the server says it is no longer theirs, and says why', async () => {
    const room: ChatInfo = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Short stay' } })).body;
    expect((await call('POST', `/api/chats/${room.code}/members`, { token: mallory.token })).status).toBe(200);
    const { receiver } = await recordingReceiver(server.httpUrl, mallory.token);
    receivers.push(receiver);
    const errors: unknown[] = [];
    receiver.onError((error) => errors.push(error));
    await receiver.join(room.code, { after: 0 });
    expect(receiver.lastDelivered(room.code)).toBe(0);

    expect((await call('DELETE', `/api/chats/${room.code}/members/${mallory.user.id}`, { token: alice.token })).status).toBe(204);
    const sender = await connectedSender(server.httpUrl, alice.token);
    senders.push(sender);
    await sender.send(room.code, 'after Mallory left');

    // The datagram under the new epoch makes the receiver ask for the key: 403, so it stops.
    await waitFor(() => receiver.lastDelivered(room.code) === undefined, 'the receiver to stop receiving the chat', 5000);
    expect(errors).toContainEqual(expect.objectContaining({ code: 'BANNED' }));
    const asked = errors.length;
    await sender.send(room.code, 'and another');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(errors.length).toBe(asked);
  });
});

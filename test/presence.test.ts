import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDatagram } from '../src/protocol/datagram.js';
import type { ChatEvent } from '../src/protocol/events.js';
import type { EventsFrame } from '../src/protocol/frames.js';
import { EVENT_BURST, MAX_TYPING_MEMBERS } from '../src/protocol/limits.js';
import { DEFAULT_TIMEOUTS } from '../src/server/config.js';
import { captureGroup, serverKeyOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Presence, typing and read receipts (issue 13) on a real server, on the engine under test:
 * read positions over HTTP (durable, forward only, coalesced, private when receipts are off),
 * typing multicast as a sealed EVENTS datagram and pushed as `events` frames, presence from the
 * users' connections, and the per-user event bucket.
 */

const OFFLINE_AFTER_MS = 300;
const READ_FLUSH_MS = 150;

let server: TestServer;
let call: ReturnType<typeof http>;
type Account = Awaited<ReturnType<typeof signUp>>;
let ann: Account;
let bob: Account;
let cleo: Account;
let eve: Account;

beforeAll(async () => {
  server = await startTestServer({ timeouts: { ...DEFAULT_TIMEOUTS, offlineAfterMs: OFFLINE_AFTER_MS, readFlushMs: READ_FLUSH_MS } });
  call = http(server.httpUrl);
  [ann, bob, cleo, eve] = (await Promise.all(['Ann', 'Bob', 'Cleo', 'Eve'].map((n) => signUp(server.httpUrl, n)))) as [Account, Account, Account, Account];
});
afterAll(async () => server?.dispose());

interface ChatInfo {
  code: string;
  latestSeq: number;
  readSeq: number;
  multicast: { group: string; port: number; keyEpoch: number; key: string };
}

/** A chat Ann created, Bob and Cleo joined, with `messages` messages from Ann. */
async function chatWith(messages: number, base = server): Promise<ChatInfo> {
  const api = http(base.httpUrl);
  const chat = (await api('POST', '/api/chats', { token: ann.token, json: { name: 'Receipts' } })).body as ChatInfo;
  for (const who of [bob, cleo]) expect((await api('POST', `/api/chats/${chat.code}/members`, { token: who.token })).status).toBe(200);
  if (messages > 0) {
    const c = await connected(ann, base);
    for (let i = 1; i <= messages; i++) {
      c.send({ t: 'send', id: `m${i}`, chat: chat.code, text: `message ${i}` });
      await c.next('ack', i - 1);
    }
    c.socket.destroy();
  }
  // The key as it is now (Ann's connection does not change it; a leave would).
  return (await api('GET', `/api/chats/${chat.code}`, { token: ann.token })).body as ChatInfo;
}

type Client = Awaited<ReturnType<typeof rawFrameClient>>;

async function connected(who: Account, base = server): Promise<Client> {
  const c = await rawFrameClient(base.tcpPort);
  await c.login(who.token);
  return c;
}

function eventsOf(c: Client, chat: string): ChatEvent[] {
  return c.frames.filter((f): f is EventsFrame => f.t === 'events' && f.chat === chat).flatMap((f) => f.events);
}

/** A round trip: whatever the server wrote before is in by then. */
async function roundTrip(c: Client): Promise<void> {
  const pongs = c.frames.filter((f) => f.t === 'pong').length;
  c.send({ t: 'ping' });
  await c.next('pong', pongs);
}

async function metric(series: string, base = server): Promise<number> {
  const text = await (await fetch(`${base.httpUrl}/api/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

const readPut = (code: string, who: Account, seq: number, api = call) => api('PUT', `/api/chats/${code}/read`, { token: who.token, json: { seq } });

describe('read positions', () => {
  it('move only forward, never past the latest message, and show as readSeq in the chat list and the chat', async () => {
    const chat = await chatWith(5);
    expect(chat.readSeq).toBe(0);
    expect(await readPut(chat.code, bob, 3)).toMatchObject({ status: 200, body: { chat: chat.code, seq: 3 } });
    expect((await readPut(chat.code, bob, 2)).body.seq).toBe(3);
    expect((await readPut(chat.code, bob, 99)).body.seq).toBe(5);
    const listed = (await call('GET', '/api/chats', { token: bob.token })).body.chats.find((c: ChatInfo) => c.code === chat.code);
    expect(listed.readSeq).toBe(5);
    expect((await call('GET', `/api/chats/${chat.code}`, { token: bob.token })).body.readSeq).toBe(5);
    // Each user's own: Cleo has read nothing.
    expect((await call('GET', `/api/chats/${chat.code}`, { token: cleo.token })).body.readSeq).toBe(0);
  });

  it("give unreadCount: the messages others sent after the position, never one's own, in the chat list and the chat", async () => {
    const chat = await chatWith(3);
    const say = async (who: Account, texts: string[]) => {
      const c = await connected(who);
      for (const [i, text] of texts.entries()) {
        c.send({ t: 'send', id: `unread-${who.user.id}-${i}`, chat: chat.code, text });
        await c.next('ack', i);
      }
      c.socket.destroy();
    };
    // #1-#3 Ann, #4-#5 Bob, #6 Ann.
    await say(bob, ['mine', 'mine too']);
    await say(ann, ['yours']);
    const unread = async (who: Account) => {
      const listed = (await call('GET', '/api/chats', { token: who.token })).body.chats.find((c: ChatInfo) => c.code === chat.code);
      const one = (await call('GET', `/api/chats/${chat.code}`, { token: who.token })).body;
      expect(one.unreadCount).toBe(listed.unreadCount);
      return [listed.readSeq, listed.unreadCount];
    };
    expect(await unread(bob)).toEqual([0, 4]);
    expect(await unread(ann)).toEqual([0, 2]);
    expect(await unread(cleo)).toEqual([0, 6]);
    expect((await readPut(chat.code, bob, 3)).body.seq).toBe(3);
    // Bob's own #4 and #5 are not unread, Ann's #6 is; whether the position is written yet or not.
    expect(await unread(bob)).toEqual([3, 1]);
    await new Promise((resolve) => setTimeout(resolve, 2 * READ_FLUSH_MS + 100));
    expect(await unread(bob)).toEqual([3, 1]);
    expect((await readPut(chat.code, bob, 6)).body.seq).toBe(6);
    expect(await unread(bob)).toEqual([6, 0]);
  });

  it('are refused to a non-member (403) and for a chat that does not exist (404), like history', async () => {
    const chat = await chatWith(1);
    expect(await readPut(chat.code, eve, 1)).toMatchObject({ status: 403, body: { code: 'NOT_A_MEMBER' } });
    expect(await readPut('ZZZZZ-ZZZZZ', eve, 1)).toMatchObject({ status: 404, body: { code: 'CHAT_NOT_FOUND' } });
    expect((await call('PUT', `/api/chats/${chat.code}/read`, { token: bob.token, json: { seq: -1 } })).status).toBe(400);
  });

  it('are coalesced (ten updates, nothing written until the flush) and survive a restart, where only the last one was written', async () => {
    // A flush interval far longer than the test: only the close writes.
    const first = await startTestServer({ timeouts: { ...DEFAULT_TIMEOUTS, readFlushMs: 600_000 } });
    let second: TestServer | undefined;
    try {
      const api = http(first.httpUrl);
      const [a, b] = [await signUp(first.httpUrl, 'Ann'), await signUp(first.httpUrl, 'Bob')];
      const chat = (await api('POST', '/api/chats', { token: a.token, json: { name: 'Restart' } })).body;
      expect((await api('POST', `/api/chats/${chat.code}/members`, { token: b.token })).status).toBe(200);
      const c = await connected(a, first);
      for (let i = 1; i <= 10; i++) {
        c.send({ t: 'send', id: `r${i}`, chat: chat.code, text: `r${i}` });
        await c.next('ack', i - 1);
      }
      c.socket.destroy();
      for (let seq = 1; seq <= 10; seq++) expect((await readPut(chat.code, b, seq, api)).body.seq).toBe(seq);
      expect(await metric('chorus_read_updates_total', first)).toBe(10);
      expect(await metric('chorus_read_positions_written_total', first)).toBe(0);
      // Pending positions are read back merged, and the unread count starts from them.
      expect((await api('GET', `/api/chats/${chat.code}`, { token: b.token })).body).toMatchObject({ readSeq: 10, unreadCount: 0 });
      expect((await api('GET', '/api/chats', { token: b.token })).body.chats).toEqual([expect.objectContaining({ readSeq: 10, unreadCount: 0 })]);
      await first.close();

      second = await startTestServer({}, first.dataDir);
      const again = http(second.httpUrl);
      const session = (await again('POST', '/api/sessions', { json: { email: b.email, password: b.password } })).body.token as string;
      expect((await again('GET', `/api/chats/${chat.code}`, { token: session })).body.readSeq).toBe(10);
      expect((await again('GET', '/api/chats', { token: session })).body.chats).toEqual([expect.objectContaining({ readSeq: 10, unreadCount: 0 })]);
      // Still forward only after the restart.
      expect((await again('PUT', `/api/chats/${chat.code}/read`, { token: session, json: { seq: 4 } })).body.seq).toBe(10);
    } finally {
      await (second ?? first).dispose();
    }
  });

  it('of a former member are gone from the member list, and they can set none', async () => {
    const chat = await chatWith(2);
    expect((await readPut(chat.code, cleo, 2)).status).toBe(200);
    expect((await call('DELETE', `/api/chats/${chat.code}/members/${cleo.user.id}`, { token: ann.token })).status).toBe(204);
    expect(await readPut(chat.code, cleo, 2)).toMatchObject({ status: 403, body: { code: 'BANNED' } });
    const members = (await call('GET', `/api/chats/${chat.code}/members`, { token: ann.token })).body.members;
    expect(members.map((m: { id: number }) => m.id)).not.toContain(cleo.user.id);
  });
});

describe('the cost of receipts', () => {
  it('follows position changes, not members × messages: messages nobody reads write nothing and send no read event; a burst of moves is written once per member', async () => {
    const chat = await chatWith(0);
    // What earlier tests left pending is flushed first: the counts are the server's.
    await new Promise((resolve) => setTimeout(resolve, 2 * READ_FLUSH_MS + 200));
    const before = { written: await metric('chorus_read_positions_written_total'), events: await metric('chorus_read_events_total') };
    const c = await connected(ann);
    for (let i = 1; i <= 200; i++) c.send({ t: 'send', id: `cost${i}`, chat: chat.code, text: `message ${i}` });
    await c.next('ack', 199);
    c.socket.destroy();
    // Two flush intervals with 200 messages and three members: nothing to write, nothing to tell.
    await new Promise((resolve) => setTimeout(resolve, 2 * READ_FLUSH_MS + 200));
    expect(await metric('chorus_read_positions_written_total')).toBe(before.written);
    expect(await metric('chorus_read_events_total')).toBe(before.events);
    // Bob and Cleo each move ten times at once: each is written once, or a few times if the burst
    // straddles flushes (they are 150 ms apart here), never once per move.
    const moves = [bob, cleo].flatMap((who) => Array.from({ length: 10 }, (_, i) => readPut(chat.code, who, (i + 1) * 20)));
    for (const answer of await Promise.all(moves)) expect(answer.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2 * READ_FLUSH_MS + 200));
    const written = (await metric('chorus_read_positions_written_total')) - before.written;
    expect(written).toBeGreaterThanOrEqual(2);
    expect(written).toBeLessThanOrEqual(10);
    const events = (await metric('chorus_read_events_total')) - before.events;
    expect(events).toBeGreaterThanOrEqual(2);
    expect(events).toBeLessThanOrEqual(10);
  });
});

describe('the member list', () => {
  it('marks the creator, gives presence and last seen, and read positions only of members who share them', async () => {
    const chat = await chatWith(4);
    expect(await call('PUT', '/api/me/settings', { token: cleo.token, json: { receipts: false } })).toMatchObject({ status: 200, body: { receipts: false } });
    try {
      expect((await call('GET', '/api/me/settings', { token: cleo.token })).body).toEqual({ receipts: false });
      expect((await call('GET', '/api/me/settings', { token: bob.token })).body).toEqual({ receipts: true });
      await readPut(chat.code, bob, 3);
      await readPut(chat.code, cleo, 4);
      const bobs = await connected(bob);
      const asAnn = (await call('GET', `/api/chats/${chat.code}/members`, { token: ann.token })).body.members;
      const byId = (list: { id: number }[], id: number) => list.find((m) => m.id === id) as Record<string, unknown>;
      expect(byId(asAnn, ann.user.id)).toMatchObject({ creator: true, readSeq: 0 });
      expect(byId(asAnn, bob.user.id)).toMatchObject({ creator: false, readSeq: 3, presence: 'online', lastSeenAt: expect.any(String) });
      // Private: Ann is not told how far Cleo has read, neither as a number nor as anything else.
      expect(byId(asAnn, cleo.user.id)).not.toHaveProperty('readSeq');
      expect(byId(asAnn, cleo.user.id)).toMatchObject({ presence: 'offline', creator: false });
      // Cleo sees her own.
      const asCleo = (await call('GET', `/api/chats/${chat.code}/members`, { token: cleo.token })).body.members;
      expect(byId(asCleo, cleo.user.id)).toMatchObject({ readSeq: 4 });
      bobs.socket.destroy();
    } finally {
      await call('PUT', '/api/me/settings', { token: cleo.token, json: { receipts: true } });
    }
  });
});

describe('read events', () => {
  it('go to watchers when a position moves, and never for a member whose receipts are off', async () => {
    const chat = await chatWith(3);
    const anns = await connected(ann);
    anns.send({ t: 'watch', chat: chat.code, after: 3 });
    await roundTrip(anns);
    expect((await call('PUT', '/api/me/settings', { token: cleo.token, json: { receipts: false } })).status).toBe(200);
    try {
      await readPut(chat.code, cleo, 3);
      await readPut(chat.code, bob, 1);
      await readPut(chat.code, bob, 2);
      await waitFor(() => eventsOf(anns, chat.code).some((e) => e.kind === 'read' && e.userId === bob.user.id && e.seq === 2), "Bob's read event");
      const reads = eventsOf(anns, chat.code).filter((e) => e.kind === 'read');
      expect(reads.some((e) => e.userId === cleo.user.id)).toBe(false);
      expect(reads.filter((e) => e.userId === bob.user.id).at(-1)).toEqual({ kind: 'read', userId: bob.user.id, name: 'Bob', seq: 2 });
    } finally {
      await call('PUT', '/api/me/settings', { token: cleo.token, json: { receipts: true } });
      anns.socket.destroy();
    }
  });
});

describe('typing', () => {
  it("is multicast on the chat's group as an EVENTS datagram sealed with the chat key, and pushed to a watcher", async () => {
    const chat = await chatWith(0);
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const anns = await connected(ann);
    const bobs = await connected(bob);
    try {
      anns.send({ t: 'watch', chat: chat.code, after: 0 });
      await roundTrip(anns);
      bobs.send({ t: 'typing', chat: chat.code, on: true });
      const typing = { kind: 'typing', userId: bob.user.id, name: 'Bob', on: true };
      await waitFor(() => eventsOf(anns, chat.code).some((e) => e.kind === 'typing'), 'an events frame');
      expect(eventsOf(anns, chat.code).filter((e) => e.kind === 'typing')).toEqual([typing]);

      const serverKey = await serverKeyOf(server.httpUrl);
      const key = Buffer.from(chat.multicast.key, 'base64');
      const decoded = () =>
        capture.datagrams
          .map((d) => decodeDatagram(d, (_stream, epoch) => (epoch === chat.multicast.keyEpoch ? key : undefined), serverKey))
          .flatMap((r) => (r.ok && r.datagram.type === 'events' ? r.datagram.events : []));
      await waitFor(() => decoded().some((e) => e.kind === 'typing'), 'an EVENTS datagram on the group');
      expect(decoded().filter((e) => e.kind === 'typing')).toEqual([typing]);
      // Sealed: the name is not in the clear.
      expect(capture.datagrams.some((d) => d.includes(Buffer.from('"typing"')))).toBe(false);
      // Never stored.
      expect((await call('GET', `/api/chats/${chat.code}/messages?after=0`, { token: ann.token })).body.messages).toEqual([]);
      expect(bobs.frames.some((f) => f.t === 'refusal')).toBe(false);
    } finally {
      await capture.close();
      anns.socket.destroy();
      bobs.socket.destroy();
    }
  });

  it('is told to a connection that starts watching while a member types, and not once they stopped', async () => {
    const chat = await chatWith(0);
    const bobs = await connected(bob);
    const anns = await connected(ann);
    const cleos = await connected(cleo);
    try {
      bobs.send({ t: 'typing', chat: chat.code, on: true });
      await roundTrip(bobs);
      // Ann watches after Bob's `on` went out: she is told it at once, not at his next refresh.
      anns.send({ t: 'watch', chat: chat.code, after: 0 });
      await waitFor(() => eventsOf(anns, chat.code).length > 0, 'an events frame');
      expect(eventsOf(anns, chat.code)).toEqual([{ kind: 'typing', userId: bob.user.id, name: 'Bob', on: true }]);

      bobs.send({ t: 'typing', chat: chat.code, on: false });
      await waitFor(() => eventsOf(anns, chat.code).length === 2, 'the off');
      // Cleo watches after the `off`: nobody is typing, so she is told nothing. A message pushed
      // to her shows her watch in place (what a watch is told of typing comes before it).
      cleos.send({ t: 'watch', chat: chat.code, after: 0 });
      bobs.send({ t: 'send', id: 'after-off', chat: chat.code, text: 'hello' });
      await waitFor(() => cleos.frames.some((f) => f.t === 'messages'), 'the message pushed to Cleo');
      expect(eventsOf(cleos, chat.code)).toEqual([]);
    } finally {
      for (const c of [anns, bobs, cleos]) c.socket.destroy();
    }
  });

  it('is refused to a non-member, with nothing sent', async () => {
    const chat = await chatWith(0);
    const anns = await connected(ann);
    const eves = await connected(eve);
    anns.send({ t: 'watch', chat: chat.code, after: 0 });
    await roundTrip(anns);
    eves.send({ t: 'typing', chat: chat.code, on: true });
    expect(await eves.next('refusal')).toMatchObject({ about: 'typing', chat: chat.code, code: 'NOT_A_MEMBER' });
    await roundTrip(anns);
    expect(eventsOf(anns, chat.code).filter((e) => e.kind === 'typing')).toEqual([]);
    anns.socket.destroy();
    eves.socket.destroy();
  });

  it(`is limited per user: past ${EVENT_BURST} at once, refused TOO_MANY_REQUESTS, and what is refused is not sent`, async () => {
    const chat = await chatWith(0);
    const anns = await connected(ann);
    const bobs = await connected(bob);
    anns.send({ t: 'watch', chat: chat.code, after: 0 });
    await roundTrip(anns);
    const frames = EVENT_BURST * 2;
    for (let i = 0; i < frames; i++) bobs.send({ t: 'typing', chat: chat.code, on: i % 2 === 0 });
    await roundTrip(bobs);
    const refusals = bobs.frames.filter((f) => f.t === 'refusal');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]).toMatchObject({ about: 'typing', code: 'TOO_MANY_REQUESTS', retryAfterMs: expect.any(Number) });
    await waitFor(() => eventsOf(anns, chat.code).filter((e) => e.kind === 'typing').length === frames - refusals.length, 'the accepted typing events');
    expect(eventsOf(anns, chat.code).filter((e) => e.kind === 'typing').length).toBeLessThan(frames);
    anns.socket.destroy();
    bobs.socket.destroy();
  });

  it(`is not carried in a chat of more than ${MAX_TYPING_MEMBERS} members: refused quietly, nothing multicast or pushed`, async () => {
    const chat = await chatWith(0);
    // Ann, Bob, Cleo and 98 more: 101 members.
    const extra = MAX_TYPING_MEMBERS + 1 - 3;
    for (let i = 0; i < extra; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, extra - i) }, async (_, j) => {
          const who = await signUp(server.httpUrl, `Crowd${i + j}`);
          expect((await call('POST', `/api/chats/${chat.code}/members`, { token: who.token })).status).toBe(200);
        }),
      );
    }
    expect((await call('GET', `/api/chats/${chat.code}`, { token: ann.token })).body.memberCount).toBe(MAX_TYPING_MEMBERS + 1);
    const capture = await captureGroup(chat.multicast.group, chat.multicast.port);
    const anns = await connected(ann);
    const bobs = await connected(bob);
    try {
      anns.send({ t: 'watch', chat: chat.code, after: 0 });
      await roundTrip(anns);
      const before = await metric('chorus_typing_events_total');
      bobs.send({ t: 'typing', chat: chat.code, on: true });
      expect(await bobs.next('refusal')).toMatchObject({ about: 'typing', chat: chat.code, code: 'FORBIDDEN' });
      await roundTrip(anns);
      expect(eventsOf(anns, chat.code).filter((e) => e.kind === 'typing')).toEqual([]);
      expect(await metric('chorus_typing_events_total')).toBe(before);
      const serverKey = await serverKeyOf(server.httpUrl);
      const key = Buffer.from(chat.multicast.key, 'base64');
      const typing = capture.datagrams
        .map((d) => decodeDatagram(d, () => key, serverKey))
        .flatMap((r) => (r.ok && r.datagram.type === 'events' ? r.datagram.events : []))
        .filter((e) => e.kind === 'typing');
      expect(typing).toEqual([]);
    } finally {
      await capture.close();
      anns.socket.destroy();
      bobs.socket.destroy();
    }
  }, 120_000);
});

describe('presence', () => {
  it(`goes online at welcome, away when every connection says so, offline ${OFFLINE_AFTER_MS} ms after the last one closed, with events`, async () => {
    const chat = await chatWith(0);
    const anns = await connected(ann);
    anns.send({ t: 'watch', chat: chat.code, after: 0 });
    await roundTrip(anns);
    const cleoStates = () => eventsOf(anns, chat.code).flatMap((e) => (e.kind === 'presence' && e.userId === cleo.user.id ? [e.state] : []));
    const presenceOf = async () => (await call('GET', `/api/chats/${chat.code}/members`, { token: ann.token })).body.members.find((m: { id: number }) => m.id === cleo.user.id);

    const first = await connected(cleo);
    await waitFor(() => cleoStates().includes('online'), 'Cleo online');
    expect(await presenceOf()).toMatchObject({ presence: 'online' });
    const second = await connected(cleo);
    first.send({ t: 'presence', state: 'away' });
    await roundTrip(first);
    // One of two connections still online: still online.
    expect(await presenceOf()).toMatchObject({ presence: 'online' });
    second.send({ t: 'presence', state: 'away' });
    await waitFor(() => cleoStates().at(-1) === 'away', 'Cleo away');
    expect(await presenceOf()).toMatchObject({ presence: 'away', lastSeenAt: expect.any(String) });

    first.socket.destroy();
    second.socket.destroy();
    await waitFor(() => cleoStates().at(-1) === 'offline', 'Cleo offline');
    expect(cleoStates()).toEqual(['online', 'away', 'offline']);
    const gone = await presenceOf();
    expect(gone).toMatchObject({ presence: 'offline' });
    expect(Date.parse(gone.lastSeenAt)).toBeLessThanOrEqual(Date.now());
    anns.socket.destroy();
  });

  it('does not flap when a client reconnects within the grace', async () => {
    const chat = await chatWith(0);
    const anns = await connected(ann);
    anns.send({ t: 'watch', chat: chat.code, after: 0 });
    await roundTrip(anns);
    const bobStates = () => eventsOf(anns, chat.code).flatMap((e) => (e.kind === 'presence' && e.userId === bob.user.id ? [e.state] : []));
    // Earlier tests' connections of Bob's are gone: wait until he is offline, so that connecting is a change.
    for (let i = 0; ; i++) {
      const members = (await call('GET', `/api/chats/${chat.code}/members`, { token: ann.token })).body.members;
      if (members.find((m: { id: number }) => m.id === bob.user.id).presence === 'offline') break;
      if (i > 200) throw new Error('Bob never went offline');
      await new Promise((r) => setTimeout(r, 50));
    }
    const one = await connected(bob);
    await waitFor(() => bobStates().includes('online'), 'Bob online');
    one.socket.destroy();
    const two = await connected(bob);
    await new Promise((r) => setTimeout(r, OFFLINE_AFTER_MS * 2));
    await roundTrip(anns);
    expect(bobStates()).toEqual(['online']);
    two.socket.destroy();
    anns.socket.destroy();
  });
});

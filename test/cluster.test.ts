import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectNats } from 'nats';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/server/compose.js';
import { type RunningServer, defaultServerConfig } from '../src/server/config.js';
import { NATS_URL, createDatabase, dropDatabase, postgresUrlOf } from './support/engine.js';
import { connectedSender, recordingReceiver, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp } from './support/server.js';

/**
 * Cluster mode in one process: two servers ("sites" A and B) on one PostgreSQL database and the
 * machine's NATS. A message sent at either is sequenced once by the chat's owner and delivered at
 * both; a removal at one takes effect at the other; a server that stops hands its chats over.
 * (Servers as separate processes, on their own networks, killed and paused: test/netns/cluster.test.ts.)
 */



let database: string;
let url: string;
const dirs: string[] = [];
const servers: RunningServer[] = [];

async function startSite(site: string): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), `chorus-cluster-${site}-`));
  dirs.push(dataDir);
  const server = await startServer(
    defaultServerConfig({
      dataDir,
      database: { engine: 'postgres', url },
      host: '127.0.0.1',
      httpPort: 0,
      tcpPort: 0,
      logLevel: 'silent',
      limits: { ...defaultServerConfig().limits, sendRate: { perSecond: 1_000_000, burst: 1_000_000 } },
      cluster: { natsUrl: NATS_URL, site, leaseTtlMs: 2_000 },
    }),
  );
  servers.push(server);
  return server;
}

async function query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  database = await createDatabase();
  url = postgresUrlOf(database);
  a = await startSite('a');
  b = await startSite('b');
});

afterAll(async () => {
  for (const server of servers) await server.close().catch(() => {});
  if (database) await dropDatabase(database);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('cluster mode', () => {
  it('sequences messages sent at both sites once, and delivers all of them at both in one order', async () => {
    expect(a.cluster?.site).toBe('a');
    expect(b.cluster?.serverId).toMatch(/^b-[0-9a-f]{12}$/);
    const [ann, bob] = await Promise.all([signUp(a.httpUrl, 'Ann'), signUp(b.httpUrl, 'Bob')]);
    const chat = (await http(a.httpUrl)('POST', '/api/chats', { token: ann.token, json: { name: 'Two sites' } })).body;
    // Bob joins at B: B learns of it from the database, its own cache never having seen him.
    expect((await http(b.httpUrl)('POST', `/api/chats/${chat.code}/members`, { token: bob.token })).status).toBe(200);

    const atA = await recordingReceiver(a.httpUrl, ann.token);
    const atB = await recordingReceiver(b.httpUrl, bob.token);
    await atA.receiver.join(chat.code, { latest: 0 });
    await atB.receiver.join(chat.code, { latest: 0 });
    const annSender = await connectedSender(a.httpUrl, ann.token);
    const bobSender = await connectedSender(b.httpUrl, bob.token);

    const count = 300;
    const acks = await Promise.all([
      ...Array.from({ length: count }, (_, i) => annSender.send(chat.code, `ann ${i}`)),
      ...Array.from({ length: count }, (_, i) => bobSender.send(chat.code, `bob ${i}`)),
    ]);
    expect(new Set(acks.map((ack) => ack.seq)).size).toBe(2 * count);

    await waitFor(() => atA.delivered.length >= 2 * count && atB.delivered.length >= 2 * count, 'both sites to deliver every message');
    const order = (list: typeof atA.delivered) => list.map((m) => `${m.seq}:${m.text}`);
    expect(order(atA.delivered)).toEqual(order(atB.delivered));
    expect(atA.delivered.map((m) => m.seq)).toEqual(Array.from({ length: 2 * count }, (_, i) => i + 1));
    // Each sender's messages in the order it sent them.
    for (const who of ['ann', 'bob']) {
      const mine = atA.delivered.filter((m) => m.text.startsWith(who)).map((m) => m.text);
      expect(mine).toEqual(Array.from({ length: count }, (_, i) => `${who} ${i}`));
    }
    const rows = await query<{ n: string; max: string }>('select count(*) as n, max(seq) as max from messages where chat_code = $1', [chat.code.replace('-', '')]);
    expect(rows[0]).toEqual({ n: String(2 * count), max: String(2 * count) });

    // One server holds the lease; the other forwarded its clients' sends there.
    const [lease] = await query<{ lease_owner: string; lease_epoch: number }>('select lease_owner, lease_epoch from chats where code = $1', [chat.code.replace('-', '')]);
    expect([a.cluster!.serverId, b.cluster!.serverId]).toContain(lease!.lease_owner);
    const other = lease!.lease_owner === a.cluster!.serverId ? b : a;
    const metrics = String((await http(other.httpUrl)('GET', '/api/metrics')).body);
    expect(Number(/^chorus_cluster_forwarded_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(count);

    annSender.close();
    bobSender.close();
    atA.receiver.close();
    atB.receiver.close();
  });

  it('drops bus messages not authenticated with the cluster secret: a forged batch is never multicast', async () => {
    const [fay] = await Promise.all([signUp(a.httpUrl, 'Fay')]);
    const chat = (await http(a.httpUrl)('POST', '/api/chats', { token: fay.token, json: { name: 'Forgery' } })).body;
    const atA = await recordingReceiver(a.httpUrl, fay.token);
    await atA.receiver.join(chat.code, { latest: 0 });
    const id = (await query<{ id: string }>('select id from cluster_identity'))[0]!.id;
    const forged = { from: 'intruder', batch: [{ chatCode: chat.code.replace('-', ''), seq: 1, senderId: fay.user.id, senderName: 'Fay', clientMsgId: 'x', text: 'forged', sentAt: Date.now() }] };
    const intruder = await connectNats({ servers: NATS_URL });
    for (const mac of [Buffer.alloc(0), Buffer.alloc(32, 7)]) intruder.publish(`chorus.${id}.committed`, Buffer.concat([mac, Buffer.from(JSON.stringify(forged))]));
    await intruder.flush();
    await intruder.close();
    const rejected = async (server: RunningServer) => Number(/^chorus_cluster_bus_rejected_total (\d+)/m.exec(String((await http(server.httpUrl)('GET', '/api/metrics')).body))?.[1]);
    const deadline = Date.now() + 5_000;
    while ((await rejected(a)) < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await rejected(a)).toBeGreaterThanOrEqual(2);
    // A real message after it is the first one delivered.
    const sender = await connectedSender(a.httpUrl, fay.token);
    await sender.send(chat.code, 'genuine');
    await waitFor(() => atA.delivered.length >= 1, 'the genuine message');
    expect(atA.delivered.map((m) => m.text)).toEqual(['genuine']);
    sender.close();
    atA.receiver.close();
  });

  it("relays typing from one site to the other's members, and a message committed elsewhere to its push watchers", async () => {
    const [hal, ivy] = await Promise.all([signUp(a.httpUrl, 'Hal'), signUp(b.httpUrl, 'Ivy')]);
    const chat = (await http(a.httpUrl)('POST', '/api/chats', { token: hal.token, json: { name: 'Relay' } })).body;
    expect((await http(b.httpUrl)('POST', `/api/chats/${chat.code}/members`, { token: ivy.token })).status).toBe(200);
    // Ivy is on push at B (no multicast where she is); Hal types and sends at A.
    const ivys = await rawFrameClient(b.tcpPort);
    await ivys.login(ivy.token);
    ivys.send({ t: 'watch', chat: chat.code, after: 0 });
    const hals = await rawFrameClient(a.tcpPort);
    await hals.login(hal.token);
    hals.send({ t: 'typing', chat: chat.code, on: true });
    // Hal's presence (online, at A) comes across first, then his typing.
    const eventsOf = () => ivys.frames.flatMap((f) => (f.t === 'events' && f.chat === chat.code ? f.events : []));
    await waitFor(() => eventsOf().some((e) => e.kind === 'typing'), "Hal's typing at B");
    expect(eventsOf()).toContainEqual({ kind: 'presence', userId: hal.user.id, name: 'Hal', state: 'online' });
    expect(eventsOf()).toContainEqual({ kind: 'typing', userId: hal.user.id, name: 'Hal', on: true });
    // A lists Ivy, connected at B only, as online (what B announced of her).
    const ivyAtA = async () => (await http(a.httpUrl)('GET', `/api/chats/${chat.code}/members`, { token: hal.token })).body.members.find((m: { id: number }) => m.id === ivy.user.id);
    const deadline = Date.now() + 5_000;
    while ((await ivyAtA())?.presence !== 'online' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await ivyAtA())?.presence).toBe('online');
    hals.send({ t: 'send', id: 'relay-1', chat: chat.code, text: 'from A to B' });
    expect(await hals.next('ack')).toMatchObject({ id: 'relay-1', seq: 1 });
    const pushed = await ivys.next('messages');
    expect(pushed.messages.map((m) => [m.seq, m.text])).toEqual([[1, 'from A to B']]);
    hals.socket.destroy();
    ivys.socket.destroy();
  });

  it('counts password guesses at one server at the others too', async () => {
    const gus = await signUp(a.httpUrl, 'Gus');
    const wrong = { email: gus.email, password: 'not the password at all' };
    // Five free failures per account and address (the default policy): all of them at A.
    for (let i = 0; i < 5; i++) expect((await http(a.httpUrl)('POST', '/api/sessions', { json: wrong })).status).toBe(401);
    // The next guess, at B (which has seen none itself), waits as it would at A: once the bus
    // has carried A's failures (a few milliseconds; 300 ms given).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await http(b.httpUrl)('POST', '/api/sessions', { json: wrong })).status).toBe(429);
  });

  it('takes a removal at one site into account at the other, with a new key there', async () => {
    const [cat, dan] = await Promise.all([signUp(a.httpUrl, 'Cat'), signUp(b.httpUrl, 'Dan')]);
    const chat = (await http(a.httpUrl)('POST', '/api/chats', { token: cat.token, json: { name: 'Removal' } })).body;
    expect((await http(b.httpUrl)('POST', `/api/chats/${chat.code}/members`, { token: dan.token })).status).toBe(200);
    const danSender = await connectedSender(b.httpUrl, dan.token);
    await danSender.send(chat.code, 'hello from B');
    const before = (await http(b.httpUrl)('GET', `/api/chats/${chat.code}`, { token: dan.token })).body;

    expect((await http(a.httpUrl)('DELETE', `/api/chats/${chat.code}/members/${dan.user.id}`, { token: cat.token })).status).toBe(204);
    // B refuses Dan now, over TCP and HTTP (telling him he was removed), and seals with a key of a later epoch.
    await expect(retryUntilRefused(() => danSender.send(chat.code, 'after removal'))).resolves.toMatchObject({ code: 'NOT_A_MEMBER' });
    expect((await http(b.httpUrl)('GET', `/api/chats/${chat.code}`, { token: dan.token })).body.code).toBe('BANNED');
    const catAtB = await signInAt(b.httpUrl, cat);
    const after = (await http(b.httpUrl)('GET', `/api/chats/${chat.code}`, { token: catAtB })).body;
    expect(after.multicast.keyEpoch).toBeGreaterThan(before.multicast.keyEpoch);
    danSender.close();
  });

  it("hands a stopped server's chats to another, which continues the log without a hole", async () => {
    const c = await startSite('c');
    const eve = await signUp(c.httpUrl, 'Eve');
    const chat = (await http(c.httpUrl)('POST', '/api/chats', { token: eve.token, json: { name: 'Failover' } })).body;
    const code = chat.code.replace('-', '');
    // Make C the owner (it takes the lease when a send forwarded to it finds none, or placement picks it).
    const eveAtC = await connectedSender(c.httpUrl, eve.token);
    await eveAtC.send(chat.code, 'first');
    const firstOwner = (await query<{ lease_owner: string }>('select lease_owner from chats where code = $1', [code]))[0]!.lease_owner;
    eveAtC.close();
    const owner = servers.find((s) => s.cluster?.serverId === firstOwner)!;
    const survivor = [a, b, c].find((s) => s !== owner)!;
    const eveToken = await signInAt(survivor.httpUrl, eve);
    const eveElsewhere = await connectedSender(survivor.httpUrl, eveToken);

    await owner.close();
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(await eveElsewhere.send(chat.code, `after ${i}`));
    expect(acks.map((ack) => ack.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const newOwner = (await query<{ lease_owner: string }>('select lease_owner from chats where code = $1', [code]))[0]!.lease_owner;
    expect(newOwner).not.toBe(firstOwner);
    eveElsewhere.close();
  });
});

/** Sends until the server refuses (a removal elsewhere reaches this server within a moment); the refusal. */
async function retryUntilRefused(send: () => Promise<unknown>): Promise<unknown> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await send();
    } catch (error) {
      return error;
    }
    if (Date.now() > deadline) throw new Error('the removal never took effect at the other server');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A session of an existing account at another server (sessions live in the shared database). */
async function signInAt(baseUrl: string, who: { email: string; password: string }): Promise<string> {
  const r = await http(baseUrl)('POST', '/api/sessions', { json: { email: who.email, password: who.password } });
  expect(r.status).toBe(201);
  return r.body.token;
}

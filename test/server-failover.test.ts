import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiClient } from '../src/client/api.js';
import { FakeMulticast } from '../src/client/multicast-transport.fake.js';
import type { Profile } from '../src/client/profile.js';
import { type ChatMessage, type DeliveryState, Receiver } from '../src/client/receiver.js';
import { apiReceiverSource } from '../src/client/receiver-source.js';
import { Sender } from '../src/client/sender.js';
import { pinnedServerKey } from '../src/client/server-key.js';
import { profileApi, receiverFollowsServers, senderTarget } from '../src/client/several-servers.js';
import { startServer } from '../src/server/compose.js';
import { defaultServerConfig, type RunningServer } from '../src/server/config.js';
import pg from 'pg';
import { NATS_URL, createDatabase, dropDatabase, postgresUrlOf } from './support/engine.js';
import { PASSWORD, as, chorus } from './support/cli.js';
import { http, signUp } from './support/server.js';

/**
 * Two Chorus servers ("sites") on one PostgreSQL database, both on loopback, each with its own
 * data folder and so its own signing key. Clients list both, A first (home). Until cluster mode
 * lands, two plain servers must not sequence one chat at once: here only one of them is up
 * while messages are sent. PostgreSQL only: two servers on one SQLite file is no deployment.
 */

const CHAT_WAIT_MS = 20_000;
const FAST_PROBES = { timeoutMs: 400, retryMs: 150, intervalMs: 1000, backIntervalMs: 1500, confirmIntervalMs: 300 };

interface Site {
  dir: string;
  server: RunningServer;
  httpPort: number;
}

let database: string;
const sites: Site[] = [];

/** `cluster`: the site's name in a cluster on the machine's NATS (main's cluster mode); else a plain server. */
async function startSite(dir: string, ports: { http: number; tcp: number } = { http: 0, tcp: 0 }, cluster?: string): Promise<Site> {
  const server = await startServer(
    defaultServerConfig({
      dataDir: dir,
      database: { engine: 'postgres', url: postgresUrlOf(database) },
      host: '127.0.0.1',
      httpPort: ports.http,
      tcpPort: ports.tcp,
      logLevel: 'silent',
      codeGuessThrottle: { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000, windowSeconds: 600 },
      registrationThrottle: { maxPerAddress: 100_000, windowSeconds: 3600 },
      ...(cluster ? { cluster: { natsUrl: NATS_URL, site: cluster, leaseTtlMs: 2_000 } } : {}),
    }),
  );
  const site = { dir, server, httpPort: Number(new URL(server.httpUrl).port) };
  sites.push(site);
  return site;
}

async function serverKeyOf(url: string): Promise<string> {
  return ((await http(url)('GET', '/api/server-key')).body as { publicKey: string }).publicKey;
}

async function waitFor(what: string, done: () => boolean, ms = CHAT_WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One person's client as `chorus tail` / `chat` build it: one server list for the API, the Sender and the Receiver. */
async function clientOf(profile: Profile, dir: string, options: { multicast?: FakeMulticast } = {}) {
  const api: ApiClient = profileApi(profile, { homeRetryMs: 500 });
  const serverKey = await pinnedServerKey(api, profile, dir);
  const sender = new Sender({ ...(await senderTarget(api)), token: profile.token!, minBackoffMs: 50, maxBackoffMs: 500, connectTimeoutMs: 3000 });
  const receiver = new Receiver({
    source: apiReceiverSource(api),
    serverKey,
    interfaceAddress: '127.0.0.1',
    link: sender,
    probeTimings: FAST_PROBES,
    ...(options.multicast ? { multicast: options.multicast.factory } : {}),
  });
  receiverFollowsServers(api, receiver);
  const delivered: ChatMessage[] = [];
  const paths: DeliveryState['path'][] = [];
  const moves: string[] = [];
  receiver.onMessage((m) => delivered.push(m));
  receiver.onPathChange((state) => paths.push(state.path));
  api.servers!.onChange((current) => moves.push(current.url));
  const close = () => {
    receiver.close();
    sender.close();
    api.servers?.close();
  };
  return { api, sender, receiver, delivered, paths, moves, close };
}

describe('several servers on one database: a client fails over and comes home', () => {
  let scratch: string;
  const databases: string[] = [];
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'chorus-failover-'));
  });
  // Each test its own database, shared by its sites.
  beforeEach(async () => {
    database = await createDatabase();
    databases.push(database);
  });
  afterEach(async () => {
    for (const site of sites.splice(0)) {
      await site.server.close().catch(() => {});
      rmSync(site.dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    for (const name of databases) await dropDatabase(name);
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each([
    ['two plain servers', undefined],
    ['a cluster of two sites', ['A', 'B']],
  ] as const)('%s: sends go on through B while A is down, nothing acknowledged is lost or stored twice, a pushed tail gets every message, and both go home when A is back', async (_kind, cluster) => {
    let a = await startSite(mkdtempSync(join(tmpdir(), 'chorus-site-a-')), undefined, cluster?.[0]);
    const b = await startSite(mkdtempSync(join(tmpdir(), 'chorus-site-b-')), undefined, cluster?.[1]);
    const [keyA, keyB] = [await serverKeyOf(a.server.httpUrl), await serverKeyOf(b.server.httpUrl)];
    expect(keyA).not.toBe(keyB);

    const ada = await signUp(a.server.httpUrl, 'Ada');
    const bob = await signUp(a.server.httpUrl, 'Bob');
    const dan = await signUp(a.server.httpUrl, 'Dan');
    const created = await http(a.server.httpUrl)('POST', '/api/chats', { json: { name: 'Failover' }, token: ada.token });
    const code = created.body.code as string;
    for (const member of [bob, dan]) expect((await http(a.server.httpUrl)('POST', `/api/chats/${code}/members`, { token: member.token })).status).toBeLessThan(300);

    const profileOf = (who: typeof ada): Profile => ({
      server: a.server.httpUrl,
      serverKey: keyA,
      token: who.token,
      user: who.user,
      alternates: [{ server: b.server.httpUrl, serverKey: keyB }],
    });
    // Ada sends; Bob tails on a network multicast never reaches (as if on another subnet than
    // either site): every message must come to him by push, from whichever server he uses.
    const adaClient = await clientOf(profileOf(ada), join(scratch, 'ada'));
    const bobMulticast = new FakeMulticast();
    const bobClient = await clientOf(profileOf(bob), join(scratch, 'bob'), { multicast: bobMulticast });
    await bobClient.receiver.join(code, { latest: 0 });
    // Dan tails on loopback, where both sites' multicast reaches him: after each move he must
    // believe the new server's datagrams (its key, its chat keys) and no longer the old one's.
    const danClient = await clientOf(profileOf(dan), join(scratch, 'dan'));
    await danClient.receiver.join(code, { latest: 0 });
    await waitFor('first verdicts', () => bobClient.paths.length > 0 && danClient.paths.length > 0);
    expect(bobClient.paths).toEqual(['server']);
    expect(danClient.paths).toEqual(['multicast']);
    await adaClient.sender.connect();

    const acks: Promise<{ seq: number; id: string }>[] = [];
    const ids: string[] = [];
    const send = (n: number) => {
      const id = `ada-${n}`;
      ids.push(id);
      acks.push(adaClient.sender.send(code, `message ${n}`, id));
    };

    // On A.
    for (let n = 1; n <= 10; n++) send(n);
    await Promise.all(acks);
    await waitFor('Bob has the first ten', () => bobClient.delivered.length === 10);

    // A goes away while Ada keeps sending: the Sender finds B by itself, and sends A did not
    // acknowledge are sent again there with their ids.
    const started = Date.now();
    const closing = a.server.close();
    for (let n = 11; n <= 40; n++) {
      send(n);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await closing;
    const all = await Promise.all(acks);
    console.log(`A closed: 40 messages acknowledged ${Date.now() - started} ms later, through ${adaClient.api.baseUrl}`);
    expect(adaClient.api.servers!.current.url).toBe(b.server.httpUrl);
    expect(adaClient.moves).toEqual([b.server.httpUrl]);
    expect(all.map((ack) => ack.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    await waitFor('Bob has all forty, by push from B', () => bobClient.delivered.length === 40);
    expect(bobClient.moves).toEqual([b.server.httpUrl]);
    expect(bobClient.delivered.map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(bobClient.receiver.deliveryOf(code)?.path).toBe('server');

    // A comes back, at the same address, with its data folder (so its key): both go home.
    a = await startSite(a.dir, { http: a.httpPort, tcp: a.server.tcpPort }, cluster?.[0]);
    await waitFor('Ada and Bob back home', () => adaClient.api.servers!.atHome && bobClient.api.servers!.atHome);
    expect(adaClient.moves).toEqual([b.server.httpUrl, a.server.httpUrl]);
    expect(bobClient.moves).toEqual([b.server.httpUrl, a.server.httpUrl]);
    await adaClient.sender.connect();
    // B goes away: what is sent now goes through A without another move.
    await b.server.close();
    for (let n = 41; n <= 50; n++) send(n);
    await Promise.all(acks);
    await waitFor('Bob has all fifty', () => bobClient.delivered.length === 50);
    expect(adaClient.moves).toHaveLength(2);
    expect(bobClient.delivered.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // In the order Ada sent them, across both moves (and, in a cluster, both owner handovers).
    expect(bobClient.delivered.map((m) => m.clientMsgId)).toEqual(ids);
    expect(bobClient.paths.every((path) => path === 'server')).toBe(true);
    console.log(`Bob: ${bobClient.receiver.counts.pushedMessages} messages pushed, ${bobClient.receiver.counts.repairedMessages} repaired from history`);
    expect(bobClient.receiver.counts.pushedMessages).toBeGreaterThan(0);
    await waitFor('Dan has all fifty', () => danClient.delivered.length === 50);
    expect(danClient.delivered.map((m) => m.clientMsgId)).toEqual(bobClient.delivered.map((m) => m.clientMsgId));
    console.log(`Dan: paths ${danClient.paths.join(' → ')}, ${danClient.receiver.counts.pushedMessages} pushed, ${danClient.receiver.counts.repairedMessages} repaired, drops ${JSON.stringify(danClient.receiver.drops)}`);
    expect(danClient.moves).toEqual([b.server.httpUrl, a.server.httpUrl]);

    // The log: seqs 1..50 without a hole, each client id once.
    const rows = (await adminQueryOn(database, 'select seq, client_msg_id from messages where chat_code = $1 order by seq', [code.replace('-', '')])).rows as {
      seq: string | number;
      client_msg_id: string;
    }[];
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.client_msg_id)).size).toBe(50);
    expect([...rows.map((r) => r.client_msg_id)].sort()).toEqual([...ids].sort());
    expect(rows.map((r) => r.client_msg_id)).toEqual(bobClient.delivered.map((m) => m.clientMsgId));

    adaClient.close();
    bobClient.close();
    danClient.close();
  }, 90_000);

  it('chorus login --server A --server B pins both in the profile, home first, and --help says how', async () => {
    const a = await startSite(mkdtempSync(join(tmpdir(), 'chorus-site-a-')));
    const b = await startSite(mkdtempSync(join(tmpdir(), 'chorus-site-b-')));
    await signUp(a.server.httpUrl, 'Cleo', 'cleo@example.test', PASSWORD);
    const profile = join(scratch, 'cleo');
    const login = await chorus(as(profile, 'login', '--email', 'cleo@example.test', '--server', a.server.httpUrl, '--server', b.server.httpUrl, '--json'), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ server: a.server.httpUrl, alternates: [{ server: b.server.httpUrl }] });
    const saved = JSON.parse(readFileSync(join(profile, 'profile.json'), 'utf8')) as Profile;
    expect(saved).toMatchObject({
      server: a.server.httpUrl,
      serverKey: await serverKeyOf(a.server.httpUrl),
      alternates: [{ server: b.server.httpUrl, serverKey: await serverKeyOf(b.server.httpUrl) }],
    });

    // A comma list says the same; the profile is read back by the next command, through B while A is down.
    const again = await chorus(as(profile, 'login', '--email', 'cleo@example.test', '--server', `${a.server.httpUrl},${b.server.httpUrl}`), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`When it does not answer: ${b.server.httpUrl}.`);
    await a.server.close();
    const whoami = await chorus(as(profile, 'whoami', '--json'));
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ server: b.server.httpUrl, user: { email: 'cleo@example.test' } });

    const help = await chorus(['login', '--help']);
    const words = help.stdout.replace(/\s+/g, ' ');
    expect(words).toContain('--server <url> the server\'s address (a URL, or host:port: http on loopback, https beyond); repeat it (or give a comma list) for several servers of one cluster, home first');
    expect(words).toContain('--fingerprint is then given once per https:// server, in their order');
    expect(words).not.toContain('(default: [])');
  }, 60_000);
});

/** A query on the test's database (the admin helper speaks to `test`). */
async function adminQueryOn(name: string, text: string, values: unknown[]) {
  const client = new pg.Client({ connectionString: postgresUrlOf(name) });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

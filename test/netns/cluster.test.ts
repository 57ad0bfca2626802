// Cluster mode (issue 14) with real processes: two sites (test/netns/sites.ts), each its own
// subnet and bridge, with its server in the machine's namespace on the site's link; both servers
// share one PostgreSQL database (fresh for each test) and the machine's NATS. Members of one
// chat receive (two hosts per site) and send (one host per site) with the real client library in
// the sites' host namespaces. The servers are killed, paused and cut from NATS in the middle of
// streams; what counts is what PostgreSQL holds, what the senders were acknowledged, and what
// every receiver delivered.
//
// Needs root, iproute2, nftables, PostgreSQL and NATS on 127.0.0.1 (or where
// CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_NATS_URL say); fails (does not skip) without them.
// Traffic stays on loopback and on the links and namespaces the test creates.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NATS_URL, createDatabase } from '../support/engine.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import type { AckEvent, ReceiverProcess, SenderProcess, Stats } from './chorus-lan.js';
import { textOf } from './fixtures/texts.js';
import {
  COUNT,
  Cluster,
  type LeaseState,
  NATS,
  type PausePoint,
  RECEIVING,
  SENDING,
  SITES,
  type SiteName,
  type StoredMessage,
  holdsChatRow,
  openTransactions,
  pauseOwner,
  requireNats,
  udpCounters,
} from './site-cluster.js';
import { type Sites, createSites, linksOfThisProcess } from './sites.js';
import { listNetns } from './topology.js';

const PREFIX = 'chorus-cluster';
/** The pace of the streams that something breaks in the middle of (4 s each). */
const STREAM_RATE = 250;
/** Slower for the split brain: the stream lasts while the owner is paused and resumed (5 s). */
const SPLIT_BRAIN_RATE = 200;

/** Seqs 1..N without a hole, each message stored once, every acknowledged one stored as acknowledged. */
function expectStoredOnce(stored: StoredMessage[], acks: AckEvent[]): void {
  expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: stored.length }, (_, k) => k + 1));
  const ids = stored.map((m) => `${m.sender_id}/${m.client_msg_id}`);
  expect(new Set(ids).size, 'client message ids stored twice').toBe(ids.length);
  const texts = stored.map((m) => m.text);
  expect(new Set(texts).size, 'texts stored twice').toBe(texts.length);
  const bySeq = new Map(stored.map((m) => [m.seq, m]));
  const lost = acks.filter((ack) => {
    const m = bySeq.get(ack.seq);
    return !m || m.client_msg_id !== ack.id || m.text !== textOf(ack.i);
  });
  expect(lost, 'acknowledged messages not stored as acknowledged').toEqual([]);
}

/** The receiver delivered exactly what is stored, once each, in seq order. */
function expectDeliveredAsStored(r: ReceiverProcess, stored: StoredMessage[]): void {
  const delivered = r.delivered.map((m) => [m.seq, m.text, m.clientMsgId]);
  expect(delivered, `delivered in ${r.host.name}`).toEqual(stored.map((m) => [m.seq, m.text, m.client_msg_id]));
}

/**
 * The receiver got multicast from its own site's server, and nothing it could not verify or
 * read: the other site's server multicasts the same chat on the same group and port, signed
 * with its own key, and none of that may reach this site.
 */
async function expectOwnSiteMulticast(r: ReceiverProcess): Promise<Stats> {
  const stats = await r.stats();
  expect(stats.counts.datagrams, `datagrams received in ${r.host.name}`).toBeGreaterThan(0);
  expect(stats.drops, `datagrams dropped in ${r.host.name}`).toMatchObject({ malformed: 0, 'bad-signature': 0, 'unknown-key': 0, undecryptable: 0 });
  return stats;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

describe('cluster: two sites, one PostgreSQL, one NATS', { timeout: 120_000 }, () => {
  let sites: Sites | undefined;
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    await requireNats();
    sites = await createSites({
      prefix: PREFIX,
      sites: SITES.map((name) => ({ name, hosts: [...RECEIVING[name], SENDING[name]] })),
    });
  });

  afterEach(async (context) => {
    // A failed test shows what the servers said last: the reason is often there.
    if (context.task.result?.state === 'fail' && cluster) {
      for (const [site, server] of cluster.servers) console.log(`server of site ${site} (${server.running ? 'running' : 'gone'}), last lines:\n${server.tail(15)}\n${server.stderr.slice(-2000)}`);
      console.log(await cluster.diagnose());
    }
    await cluster?.close();
    cluster = undefined;
  });

  afterAll(async () => {
    await sites?.destroy();
    const namespaces = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
    const links = await linksOfThisProcess();
    if (namespaces.length > 0 || links.length > 0) throw new Error(`left behind: ${[...namespaces, ...links].join(', ')}`);
  });

  async function startCluster(natsUrl = NATS_URL): Promise<Cluster> {
    if (!sites) throw new Error('sites not created');
    cluster = new Cluster(sites, await createDatabase());
    await cluster.start(natsUrl);
    return cluster;
  }

  /** Waits for a busy chat: its lease held, and each sender acknowledged `acks` messages. */
  async function midStream(c: Cluster, senders: SenderProcess[], acks: number): Promise<{ owner: SiteName; other: SiteName; lease: LeaseState }> {
    await Promise.all(senders.map((s) => s.untilAcked(acks, 30_000)));
    const lease = await c.leaseUntil((l) => l.owner !== null, 'a lease on the chat', 10_000);
    const owner = c.siteOf(lease.owner);
    if (!owner) throw new Error(`lease_owner ${lease.owner} is none of the servers' ids`);
    return { owner, other: owner === 'a' ? 'b' : 'a', lease };
  }

  it(`delivers ${COUNT} messages from each site to every receiver at both sites, once and in one order`, async () => {
    const c = await startCluster();
    const started = Date.now();
    const senders = SITES.map((site) => c.send(site, 0));
    for (const s of senders) expect(await s.finish(60_000), `${s.where}:\n${s.stderr}`).toBe(0);
    const sentIn = Date.now() - started;
    for (const r of c.receivers.values()) await r.until(() => r.delivered.length >= 2 * COUNT, `${2 * COUNT} messages`, 45_000);
    const deliveredIn = Date.now() - started;

    const stored = await c.stored();
    expect(stored).toHaveLength(2 * COUNT);
    expectStoredOnce(stored, senders.flatMap((s) => s.acks));
    for (const s of senders) expect(s.acks).toHaveLength(COUNT);
    for (const r of c.receivers.values()) {
      expectDeliveredAsStored(r, stored);
      const stats = await expectOwnSiteMulticast(r);
      const udp = await udpCounters(c, r.host.name);
      console.log(
        `cluster: ${r.host.name} got ${stats.counts.datagrams} datagrams, repaired ${stats.counts.repairedMessages} messages; ` +
          `its namespace's UDP counters: ${udp.RcvbufErrors} datagrams dropped for a full receive buffer, ${udp.InErrors} in errors`,
      );
    }
    const owner = c.siteOf((await c.lease()).owner);
    console.log(`cluster: ${2 * COUNT} messages acknowledged in ${seconds(sentIn)}, delivered at both sites in ${seconds(deliveredIn)}; the chat's owner is at site ${owner}`);
    c.printWarnings('cluster');
  });

  it('fails over when the owner of a busy chat is killed: another server takes the lease, nothing acknowledged is lost', async () => {
    const c = await startCluster();
    const senders = new Map(SITES.map((site) => [site, c.send(site, STREAM_RATE)] as const));
    const { owner, other, lease: before } = await midStream(c, [...senders.values()], 150);
    const survivorId = c.server(other).info.serverId;

    c.server(owner).signal('SIGKILL');
    const killedAt = Date.now();
    const after = await c.leaseUntil((l) => l.owner === survivorId && l.epoch > before.epoch, `site ${other} to take the lease`, 15_000);
    console.log(`cluster failover: killed site ${owner}'s server (epoch ${before.epoch}); site ${other} held the lease (epoch ${after.epoch}) ${after.at - killedAt} ms later`);

    const survivor = senders.get(other)!;
    expect(await survivor.finish(60_000), `${survivor.where}:\n${survivor.stderr}`).toBe(0);
    console.log(`cluster failover: the sender at site ${other} finished ${seconds(survivor.finishedAt! - killedAt)} after the kill`);
    // The sender at the dead server's site has no server left (clients here list only theirs).
    const orphan = senders.get(owner)!;
    orphan.child.kill('SIGTERM');
    await orphan.exited;

    const stored = await c.stored();
    expectStoredOnce(stored, [...survivor.acks, ...orphan.acks]);
    expect(survivor.acks).toHaveLength(COUNT);
    console.log(`cluster failover: ${stored.length} stored; acknowledged ${survivor.acks.length} at site ${other}, ${orphan.acks.length} of ${COUNT} at site ${owner}`);
    for (const host of RECEIVING[other]) {
      const r = c.receivers.get(host)!;
      await r.until(() => r.delivered.length >= stored.length, `${stored.length} messages`, 30_000);
      expectDeliveredAsStored(r, stored);
      await expectOwnSiteMulticast(r);
    }
    c.printWarnings('cluster failover');
    console.log(`cluster failover: lease history ${JSON.stringify(c.leases.map(({ owner: o, epoch }) => [c.siteOf(o) ?? o, epoch]))}`);
  });

  /**
   * Split brain: the owner paused (SIGSTOP) while senders run at both sites, where `where` says,
   * until another server took its lease; then resumed.
   */
  async function splitBrain(where: PausePoint): Promise<void> {
    const c = await startCluster();
    const senders = new Map(SITES.map((site) => [site, c.send(site, SPLIT_BRAIN_RATE)] as const));
    const { owner, other, lease: before } = await midStream(c, [...senders.values()], 150);
    const paused = c.server(owner);
    const takerId = c.server(other).info.serverId;

    const tries = await pauseOwner(c, owner, where);
    const pausedAt = Date.now();
    console.log(`cluster split brain: site ${owner}'s server paused ${where} (at try ${tries})`);
    const taken = await c.leaseUntil((l) => l.owner === takerId && l.epoch > before.epoch, `site ${other} to take the lease`, 20_000).catch(async (error: Error) => {
      // Say plainly when PostgreSQL is what the takeover waits for.
      const waiting = await c.query<{ n: number }>("select count(*)::integer as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'update \"chats\" set \"lease_owner\"%'");
      const held = (await openTransactions(c)).filter(holdsChatRow);
      if (waiting[0]!.n > 0 && held.length > 0) {
        throw new Error(`${error.message}\nThe takeover's UPDATE of the chat's row waits for a lock held by the paused owner's open commit transaction (its last statement: ${held[0]!.slice(0, 60)}…)`);
      }
      throw error;
    });
    // A moment more with the lease elsewhere, then the paused server runs on as if nothing happened.
    await new Promise((r) => setTimeout(r, 1000));
    paused.signal('SIGCONT');
    c.paused.delete(owner);
    const resumedAt = Date.now();
    console.log(`cluster split brain: paused site ${owner}'s server (epoch ${before.epoch}); site ${other} held the lease (epoch ${taken.epoch}) ${taken.at - pausedAt} ms later; resumed ${resumedAt - pausedAt} ms after the pause`);

    await new Promise((r) => setTimeout(r, 1000));
    const committedAfterResume = await paused.metric('chorus_messages_committed_total');
    for (const site of SITES) {
      const s = senders.get(site)!;
      expect(await s.finish(60_000), `${s.where}:\n${s.stderr}`).toBe(0);
      console.log(`cluster split brain: the sender at site ${site} finished ${seconds(s.finishedAt! - pausedAt)} after the pause`);
    }
    const stored = await c.stored();
    expectStoredOnce(stored, [...senders.values()].flatMap((s) => s.acks));
    expect(stored).toHaveLength(2 * COUNT);
    for (const r of c.receivers.values()) {
      await r.until(() => r.delivered.length >= stored.length, `${stored.length} messages`, 30_000);
      expectDeliveredAsStored(r, stored);
      await expectOwnSiteMulticast(r);
    }

    // What the resumed server says of it, printed; what is guaranteed, asserted.
    const fenced = await paused.metric('chorus_cluster_fenced_total');
    const committedAtEnd = await paused.metric('chorus_messages_committed_total');
    // Its clock ran on while it was paused: lines stamped after the pause were written after it resumed.
    const leaseLines = paused.lines(/lease|fenc/i).filter((line) => line.time >= pausedAt);
    console.log(
      `cluster split brain: resumed server: chorus_cluster_fenced_total ${fenced}, committed ${committedAfterResume} 1 s after resuming and ${committedAtEnd} at the end; ` +
        `its log about leases after the pause: ${JSON.stringify(leaseLines.map((l) => `+${l.time - pausedAt} ms: ${l.msg}`))}`,
    );
    c.printWarnings('cluster split brain');
    console.log(`cluster split brain: lease history ${JSON.stringify(c.leases.map(({ owner: o, epoch }) => [c.siteOf(o) ?? o, epoch]))}`);
    const last = await c.lease();
    expect(last.epoch).toBeGreaterThan(before.epoch);
    const epochs = c.leases.map((l) => l.epoch);
    expect(epochs, 'the lease epoch only moves forward').toEqual([...epochs].sort((x, y) => x - y));
    // The paused server held the lease under the old epoch only: had it come back to it, it did
    // so through a takeover of its own, with an epoch above the one that fenced it.
    const heldAgain = c.leases.filter((l) => l.at > pausedAt && l.owner === paused.info.serverId);
    for (const l of heldAgain) expect(l.epoch).toBeGreaterThan(taken.epoch);
    if (heldAgain.length === 0) expect(committedAtEnd, 'commits by the fenced server after it resumed').toBe(committedAfterResume);
  }

  it('fences a paused owner: after another took its lease it commits nothing, nothing is stored twice', () => splitBrain('outside a commit'));

  // PostgreSQL holds the chat's row for the paused owner's open transaction (its commit had
  // claimed seqs when it stopped): the takeover must not wait for a server that may never run again.
  it('takes the lease from an owner paused inside a commit, and fences it as well', () => splitBrain('inside a commit'));


  it('loses nothing when the servers are cut from NATS for 3 s in the middle of a stream; both sites catch up', async () => {
    const proxy = await startTcpProxy(NATS);
    try {
      const c = await startCluster(`nats://127.0.0.1:${proxy.port}`);
      const senders = SITES.map((site) => c.send(site, STREAM_RATE));
      await midStream(c, senders, 150);
      const acksAtCut = senders.map((s) => s.acks.length);
      await proxy.stop();
      const cutAt = Date.now();
      await new Promise((r) => setTimeout(r, 3000));
      const acksAtRestore = senders.map((s) => s.acks.length);
      await proxy.start();
      const restoredAt = Date.now();
      console.log(`cluster NATS cut: ${seconds(restoredAt - cutAt)} without NATS; acks at the cut ${acksAtCut.join('/')}, at the restore ${acksAtRestore.join('/')}`);

      for (const s of senders) {
        expect(await s.finish(60_000), `${s.where}:\n${s.stderr}`).toBe(0);
        console.log(`cluster NATS cut: the sender ${s.where} finished ${seconds(s.finishedAt! - restoredAt)} after the restore`);
      }
      const stored = await c.stored();
      expect(stored).toHaveLength(2 * COUNT);
      expectStoredOnce(stored, senders.flatMap((s) => s.acks));
      for (const r of c.receivers.values()) {
        await r.until(() => r.delivered.length >= stored.length, `${stored.length} messages`, 30_000);
        expectDeliveredAsStored(r, stored);
        await expectOwnSiteMulticast(r);
      }
      c.printWarnings('cluster NATS cut');
      console.log(`cluster NATS cut: every receiver at both sites delivered ${stored.length} messages ${seconds(Date.now() - restoredAt)} after the restore at the latest`);
    } finally {
      // The servers first, while they still reach NATS: they stop as they would in service.
      await cluster?.close();
      cluster = undefined;
      await proxy.stop();
    }
  });
});

// A cluster of two sites for the real-process tests of cluster mode (cluster.test.ts): the
// sites' LANs (sites.ts), a server per site in the machine's namespace on one fresh PostgreSQL
// database and NATS (site-server.ts), one chat whose members receive and send from the sites'
// hosts (site-chat.ts); and what the tests read of it: the chat's lease and messages in
// PostgreSQL, the servers' open transactions, a host's UDP counters.

import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { NATS_URL, dropDatabase, postgresUrlOf } from '../support/engine.js';
import type { ReceiverProcess, SenderProcess, Setup } from './chorus-lan.js';
import { setupChat, startReceiver, startSender } from './site-chat.js';
import { SiteServer } from './site-server.js';
import type { Sites } from './sites.js';
import { waitFor } from './topology.js';

/** Where NATS is (CI's, or CHORUS_TEST_NATS_URL): the servers' bus, or the target of the test's proxy. */
export const NATS = { host: new URL(NATS_URL).hostname, port: Number(new URL(NATS_URL).port || 4222) };
export const SITES = ['a', 'b'] as const;
export type SiteName = (typeof SITES)[number];
/** Per site: two receiving hosts and one sending host. */
export const RECEIVING: Record<SiteName, string[]> = { a: ['a1', 'a2'], b: ['b1', 'b2'] };
export const SENDING: Record<SiteName, string> = { a: 'a3', b: 'b3' };
export const COUNT = 1000;
/** Sender at site a sends textOf(1..COUNT), at site b textOf(COUNT+1..2*COUNT). */
export const FIRST: Record<SiteName, number> = { a: 1, b: COUNT + 1 };
/** Short leases, so that takeovers happen within a test. */
export const LEASE_TTL = '3s';

export interface StoredMessage {
  seq: number;
  sender_id: number;
  client_msg_id: string;
  text: string;
}

export interface LeaseState {
  owner: string | null;
  epoch: number;
  /** When the test saw it (Date.now()). */
  at: number;
}

/** A running cluster: its database, its servers, the chat and its receivers. */
export class Cluster {
  readonly servers = new Map<SiteName, SiteServer>();
  readonly receivers = new Map<string, ReceiverProcess>();
  readonly senders: SenderProcess[] = [];
  /** Every (owner, epoch) the chat's lease went through, as polled every 100 ms. */
  readonly leases: LeaseState[] = [];
  /** Sites whose server the test stopped with SIGSTOP and has not resumed (their metrics would not answer). */
  readonly paused = new Set<SiteName>();
  setup!: Setup;
  private readonly dataDirs: string[] = [];
  private readonly db: pg.Client;
  private watch: NodeJS.Timeout | undefined;

  constructor(
    readonly sites: Sites,
    readonly database: string,
  ) {
    this.db = new pg.Client({ connectionString: postgresUrlOf(database) });
  }

  /** Starts a's server, then b's (one at a time: the first one migrates the fresh database). */
  async start(natsUrl: string): Promise<void> {
    await this.db.connect();
    for (const name of SITES) {
      const dataDir = mkdtempSync(join(tmpdir(), 'chorus-cluster-'));
      this.dataDirs.push(dataDir);
      const server = new SiteServer(this.sites.site(name), dataDir, { databaseUrl: postgresUrlOf(this.database), natsUrl, leaseTtl: LEASE_TTL });
      this.servers.set(name, server);
      const info = await server.ready;
      expect(info.serverId, `server of site ${name} says who it is`).toEqual(expect.any(String));
      expect(info.site).toBe(name);
    }
    this.setup = await setupChat(this.server('a'), SENDING.a, [...SITES.flatMap((s) => [...RECEIVING[s], SENDING[s]])]);
    for (const site of SITES) for (const host of RECEIVING[site]) this.receivers.set(host, startReceiver(this.server(site), host, this.setup));
    await Promise.all([...this.receivers.values()].map((r) => r.waitReady()));
    this.watch = setInterval(() => void this.pollLease(), 100);
  }

  server(site: SiteName): SiteServer {
    const server = this.servers.get(site);
    if (!server) throw new Error(`no server at site ${site}`);
    return server;
  }

  /** The site whose server is `serverId`. */
  siteOf(serverId: string | null): SiteName | undefined {
    return SITES.find((s) => this.servers.get(s)?.info.serverId === serverId);
  }

  send(site: SiteName, perSecond: number): SenderProcess {
    const sender = startSender(this.server(site), SENDING[site], this.setup, FIRST[site], COUNT, perSecond);
    this.senders.push(sender);
    return sender;
  }

  /** Prints what each server warned about (for a reader of the test's output, not asserted). */
  printWarnings(label: string): void {
    for (const [site, server] of this.servers) console.log(`${label}: server of site ${site} warned ${JSON.stringify(server.warnings())}`);
  }

  async lease(): Promise<LeaseState> {
    const { rows } = await this.db.query<{ lease_owner: string | null; lease_epoch: number }>('select lease_owner, lease_epoch from chats');
    // Plain errors, not expect(): this also runs in the background poll, outside any test.
    if (rows.length !== 1) throw new Error(`expected the one chat in the database, found ${rows.length}`);
    return { owner: rows[0]!.lease_owner, epoch: Number(rows[0]!.lease_epoch), at: Date.now() };
  }

  /** Polls the lease until `check` holds; throws after `timeoutMs`. */
  async leaseUntil(check: (lease: LeaseState) => boolean, what: string, timeoutMs: number): Promise<LeaseState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lease = await this.lease();
      if (check(lease)) return lease;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; lease history: ${JSON.stringify(this.leases)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** What the database and each running, unpaused server say of the cluster: printed when a test failed. */
  async diagnose(): Promise<string> {
    const out: string[] = [];
    const servers = await this.db
      .query('select id, site, expires_at - (extract(epoch from now()) * 1000)::bigint as expires_in_ms from cluster_servers')
      .then((r) => JSON.stringify(r.rows), (error: Error) => `unreadable: ${error.message}`);
    out.push(`cluster_servers (expiry from the database's now): ${servers}`);
    const sessions = await this.db
      .query(
        `select pid, state, wait_event_type, wait_event, (extract(epoch from now() - xact_start) * 1000)::integer as in_transaction_ms, left(query, 120) as query
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      )
      .then((r) => JSON.stringify(r.rows), (error: Error) => `unreadable: ${error.message}`);
    out.push(`the servers' database sessions: ${sessions}`);
    out.push(`chat: ${await this.lease().then((l) => JSON.stringify(l), (error: Error) => error.message)}; lease history ${JSON.stringify(this.leases)}`);
    for (const [site, server] of this.servers) {
      if (!server.running || this.paused.has(site)) continue;
      const metrics = await server.metricsText().then(
        (text) => text.split('\n').filter((line) => line.startsWith('chorus_cluster_') || line.startsWith('chorus_messages_committed_total')).join(', '),
        (error: Error) => `unreadable: ${error.message}`,
      );
      out.push(`server of site ${site}: ${metrics}`);
    }
    return out.join('\n');
  }

  async query<Row extends pg.QueryResultRow>(text: string): Promise<Row[]> {
    return (await this.db.query<Row>(text)).rows;
  }

  async stored(): Promise<StoredMessage[]> {
    const { rows } = await this.db.query<StoredMessage>('select seq::integer as seq, sender_id, client_msg_id, text from messages order by seq');
    return rows;
  }

  /** Everything it started, stopped; its data folders and its database removed. */
  async close(): Promise<void> {
    clearInterval(this.watch);
    for (const r of this.receivers.values()) r.child.stdin?.end();
    for (const s of this.senders) if (s.running) s.child.kill('SIGTERM');
    await Promise.all([...this.servers.values()].map((s) => s.stop()));
    await this.db.end().catch(() => {});
    await dropDatabase(this.database);
    for (const dir of this.dataDirs) rmSync(dir, { recursive: true, force: true });
  }

  private async pollLease(): Promise<void> {
    const lease = await this.lease().catch(() => undefined);
    const last = this.leases.at(-1);
    if (lease && (!last || last.owner !== lease.owner || last.epoch !== lease.epoch)) this.leases.push(lease);
  }
}

/**
 * Where the owner's server is paused: inside a commit (its transaction has claimed seqs with
 * `UPDATE chats SET last_seq …` and holds the chat's row until it commits), or outside one.
 */
export type PausePoint = 'inside a commit' | 'outside a commit';

/** The last statement of each session of the test database that is idle inside a transaction. */
export async function openTransactions(c: Cluster): Promise<string[]> {
  return c.query<{ query: string }>(
    "select query from pg_stat_activity where datname = current_database() and state = 'idle in transaction'",
  ).then((rows) => rows.map((r) => r.query));
}

/**
 * Whether a statement, the last of a transaction left open, holds the chat's row: the commit's
 * claim of seqs (`UPDATE chats SET last_seq …`) or the insert after it (Kysely's quoted SQL, or
 * PostgreSQL's own `INSERT INTO messages … unnest(…)`).
 */
export function holdsChatRow(query: string): boolean {
  return /^update "chats" set "last_seq"/i.test(query) || isMessagesInsert(query);
}

function isMessagesInsert(query: string): boolean {
  return /^insert into "?messages"?/i.test(query);
}

/**
 * Pauses the owner's server (SIGSTOP) at `where`. Returns how many tries it took.
 *
 * Inside a commit, deterministically: the test locks the messages table against inserts, waits
 * until the owner's next commit has claimed its seqs and waits at its insert, pauses the owner,
 * and lets the insert through. PostgreSQL finishes it; the paused server never sends COMMIT.
 *
 * Outside a commit, by trial: a pause that lands inside one is undone at once (SIGCONT; far
 * shorter than a lease) and tried again. Commits take milliseconds, so most pauses land outside.
 */
export async function pauseOwner(c: Cluster, site: SiteName, where: PausePoint): Promise<number> {
  if (where === 'inside a commit') {
    await pauseInsideCommit(c, site);
    return 1;
  }
  const server = c.server(site);
  for (let tries = 1; tries <= 60; tries++) {
    server.signal('SIGSTOP');
    c.paused.add(site);
    // Whatever the server had sent reaches PostgreSQL before it is looked at.
    await new Promise((r) => setTimeout(r, 50));
    if (!(await openTransactions(c)).some(holdsChatRow)) return tries;
    server.signal('SIGCONT');
    c.paused.delete(site);
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 60));
  }
  throw new Error(`could not pause the server of site ${site} ${where} in 60 tries`);
}

async function pauseInsideCommit(c: Cluster, site: SiteName): Promise<void> {
  const server = c.server(site);
  const blocker = new pg.Client({ connectionString: postgresUrlOf(c.database) });
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    // SHARE conflicts with the ROW EXCLUSIVE lock an INSERT takes, and with nothing a commit
    // takes before it: the owner's next commit claims its seqs, then waits here.
    await blocker.query('LOCK TABLE messages IN SHARE MODE');
    await waitFor(`the server of site ${site} to wait at the insert of a commit`, async () =>
      (await c.query<{ query: string }>("select query from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).some((row) =>
        isMessagesInsert(row.query),
      ),
    );
    server.signal('SIGSTOP');
    c.paused.add(site);
  } finally {
    await blocker.query('COMMIT').catch(() => {});
    await blocker.end().catch(() => {});
  }
  await waitFor(`the paused server of site ${site} to hold its commit open`, async () => (await openTransactions(c)).some(holdsChatRow));
}

/** The UDP counters of a host's namespace (/proc/net/snmp): why a receiver missed datagrams on a lossless link. */
export async function udpCounters(c: Cluster, host: string): Promise<Record<string, number>> {
  const lan = c.sites.site(host[0]!).lan;
  const { stdout } = await lan.exec(host, ['cat', '/proc/net/snmp']);
  const [names, values] = stdout.split('\n').filter((line) => line.startsWith('Udp:')).map((line) => line.split(/\s+/).slice(1));
  return Object.fromEntries((names ?? []).map((name, k) => [name, Number(values?.[k])]));
}

/** Throws a clear error unless something listens where NATS should (the servers need it to start at all). */
export async function requireNats(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(NATS.port, NATS.host);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) =>
      reject(new Error(`the cluster tests need NATS at ${NATS.host}:${NATS.port} (nats-server, as CI runs it; or set CHORUS_TEST_NATS_URL): ${error.message}`)),
    );
  });
}

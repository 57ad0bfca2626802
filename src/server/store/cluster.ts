import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Engine } from './database.js';
import type { Database } from './schema.js';

/** A server of the cluster, as the others see it. */
export interface ClusterServer {
  id: string;
  site: string;
}

/** Who holds a chat's lease, and whether that server is alive (its row not expired). */
export interface LeaseHolder {
  owner: string | null;
  epoch: number;
  ownerAlive: boolean;
}

/** What other servers need to notice from the database: the log's end and the membership version. */
export interface ChatProgress {
  code: string;
  lastSeq: number;
  membershipVersion: number;
}

/**
 * The cluster's state in the shared database (cluster mode: PostgreSQL): the live servers, each
 * chat's lease and fencing epoch. Every expiry is compared on the database's clock, so servers
 * whose clocks disagree still agree on who is alive.
 */
export class ClusterStore {
  private readonly now: RawBuilder<number>;

  constructor(
    private readonly db: Kysely<Database>,
    engine: Engine,
  ) {
    this.now =
      engine === 'postgres'
        ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
        : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
  }

  /** The random name of this cluster (its subjects on the bus start with it) and its bus secret. */
  async identity(): Promise<{ id: string; secret: Buffer }> {
    const row = await this.db.selectFrom('cluster_identity').select(['id', 'secret']).executeTakeFirstOrThrow();
    return { id: row.id, secret: Buffer.from(row.secret, 'base64') };
  }

  /** Says the server is alive for `ttlMs` more (a row made at the first call). */
  async heartbeat(server: ClusterServer, ttlMs: number): Promise<void> {
    const expires = sql<number>`${this.now} + ${ttlMs}`;
    await this.db
      .insertInto('cluster_servers')
      .values({ id: server.id, site: server.site, started_at: this.now, expires_at: expires })
      .onConflict((oc) => oc.column('id').doUpdateSet({ expires_at: expires }))
      .execute();
  }

  /** A server stopping cleanly: its leases can be taken at once instead of after their expiry. */
  async leave(serverId: string): Promise<void> {
    await this.db.deleteFrom('cluster_servers').where('id', '=', serverId).execute();
  }

  async liveServers(): Promise<ClusterServer[]> {
    return this.db.selectFrom('cluster_servers').select(['id', 'site']).where('expires_at', '>', this.now).orderBy('id').execute();
  }

  /** Undefined when the chat does not exist. */
  async holder(code: string): Promise<LeaseHolder | undefined> {
    const row = await this.db
      .selectFrom('chats')
      .leftJoin('cluster_servers', (join) => join.onRef('cluster_servers.id', '=', 'chats.lease_owner').on('cluster_servers.expires_at', '>', this.now))
      .select(['chats.lease_owner as owner', 'chats.lease_epoch as epoch', 'cluster_servers.id as aliveId'])
      .where('chats.code', '=', code)
      .executeTakeFirst();
    return row && { owner: row.owner, epoch: row.epoch, ownerAlive: row.aliveId !== null };
  }

  /**
   * Takes the chat's lease for `serverId` unless a live server other than it holds it, bumping
   * the epoch (a takeover fences off every commit of the previous holder). The new epoch, or
   * undefined when another live server holds the lease (or the chat does not exist).
   */
  async acquire(code: string, serverId: string): Promise<number | undefined> {
    const row = await this.db
      .updateTable('chats')
      .set((eb) => ({ lease_owner: serverId, lease_epoch: eb('lease_epoch', '+', 1) }))
      .where('code', '=', code)
      .where((eb) =>
        eb.or([
          eb('lease_owner', 'is', null),
          eb('lease_owner', '=', serverId),
          eb.not(eb.exists(eb.selectFrom('cluster_servers').select('id').whereRef('cluster_servers.id', '=', 'chats.lease_owner').where('expires_at', '>', this.now))),
        ]),
      )
      .returning('lease_epoch')
      .executeTakeFirst();
    return row?.lease_epoch;
  }

  /** The log's end and membership version of these chats. */
  async progress(codes: readonly string[]): Promise<ChatProgress[]> {
    if (codes.length === 0) return [];
    return this.db
      .selectFrom('chats')
      .select(['code', 'last_seq as lastSeq', 'membership_version as membershipVersion'])
      .where('code', 'in', codes)
      .execute();
  }
}

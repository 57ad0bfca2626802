import { randomBytes } from 'node:crypto';
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Engine } from './database.js';

/**
 * Migrations live in code and are applied at start-up, in order, once each. The DDL is written
 * with Kysely's schema builder so that the same migration runs on SQLite and PostgreSQL; only the
 * auto-increment key differs between the two.
 */
function migrations(engine: Engine): Record<string, Migration> {
  const idColumn = engine === 'postgres' ? 'serial' : 'integer';
  return {
    '0001_core': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', idColumn, (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
        await db.schema
          .createTable('chats')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_by', 'integer', (c) => c.notNull().references('users.id'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('multicast_group', 'text', (c) => c.notNull())
          .addColumn('multicast_port', 'integer', (c) => c.notNull())
          .addColumn('key_epoch', 'integer', (c) => c.notNull().defaultTo(0))
          .addUniqueConstraint('chats_multicast', ['multicast_group', 'multicast_port'])
          .execute();
        await db.schema
          .createTable('memberships')
          .addColumn('chat_code', 'text', (c) => c.notNull().references('chats.code').onDelete('cascade'))
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('joined_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('memberships_pk', ['chat_code', 'user_id'])
          .execute();
        await db.schema.createIndex('memberships_user').on('memberships').column('user_id').execute();
        await db.schema
          .createTable('messages')
          .addColumn('chat_code', 'text', (c) => c.notNull().references('chats.code').onDelete('cascade'))
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('sender_id', 'integer', (c) => c.notNull().references('users.id'))
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('sent_at', 'bigint', (c) => c.notNull())
          .addColumn('client_msg_id', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('messages_pk', ['chat_code', 'seq'])
          .addUniqueConstraint('messages_client_id', ['chat_code', 'sender_id', 'client_msg_id'])
          .execute();
      },
    },
    // Datagram headers named the chat by its code, which is what lets anyone join: each chat
    // gets a random stream id instead (docs/protocol.md). Existing chats get theirs here, each
    // drawn afresh, never derived from the code. SQLite cannot add a NOT NULL column without a
    // default, so the column is added, filled, then made unique (and NOT NULL where it can be).
    '0002_stream_ids': {
      up: (db: Kysely<any>) =>
        atomically(db, engine, async (tx) => {
          await tx.schema.alterTable('chats').addColumn('stream_id', 'text').execute();
          const chats: { code: string }[] = await tx.selectFrom('chats').select('code').execute();
          for (const { code } of chats) {
            await tx.updateTable('chats').set({ stream_id: randomBytes(10).toString('hex') }).where('code', '=', code).execute();
          }
          await tx.schema.createIndex('chats_stream_id').unique().on('chats').column('stream_id').execute();
          if (engine === 'postgres') await tx.schema.alterTable('chats').alterColumn('stream_id', (c) => c.setNotNull()).execute();
        }),
    },
    // Removal by a chat's creator is a ban: the removed user may not join again (until the
    // creator lifts it). Leaving by oneself records nothing.
    '0003_chat_bans': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('chat_bans')
          .addColumn('chat_code', 'text', (c) => c.notNull().references('chats.code').onDelete('cascade'))
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('banned_at', 'bigint', (c) => c.notNull())
          .addColumn('banned_by', 'integer', (c) => c.notNull().references('users.id'))
          .addPrimaryKeyConstraint('chat_bans_pk', ['chat_code', 'user_id'])
          .execute();
      },
    },
    // Read receipts (docs/protocol.md, Presence, typing and read receipts): one read position
    // per member and chat, the highest seq seen, never a row per message; and whether the
    // account shares its positions with others (on unless turned off: 1 or 0 on both engines).
    '0004_read_positions': {
      up: (db: Kysely<any>) =>
        atomically(db, engine, async (tx) => {
          await tx.schema
            .createTable('read_positions')
            .addColumn('chat_code', 'text', (c) => c.notNull().references('chats.code').onDelete('cascade'))
            .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
            .addColumn('seq', 'bigint', (c) => c.notNull())
            .addColumn('updated_at', 'bigint', (c) => c.notNull())
            .addPrimaryKeyConstraint('read_positions_pk', ['chat_code', 'user_id'])
            .execute();
          await tx.schema.alterTable('users').addColumn('share_receipts', 'integer', (c) => c.notNull().defaultTo(1)).execute();
        }),
    },
    // Cluster mode (docs/architecture.md, The cluster): a chat's sequencer is the server holding
    // its lease, named here with a fencing epoch bumped at every takeover; a lease lives as long
    // as its owner's row in cluster_servers is renewed. `membership_version` moves at every
    // removal, so that other servers notice it from the database even when the bus is down.
    // Unused (and harmless) on a single server.
    '0005_cluster': {
      up: (db: Kysely<any>) =>
        atomically(db, engine, async (tx) => {
          await tx.schema.alterTable('chats').addColumn('lease_owner', 'text').execute();
          await tx.schema.alterTable('chats').addColumn('lease_epoch', 'integer', (c) => c.notNull().defaultTo(0)).execute();
          await tx.schema.alterTable('chats').addColumn('membership_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
          await tx.schema
            .createTable('cluster_servers')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('site', 'text', (c) => c.notNull())
            .addColumn('started_at', 'bigint', (c) => c.notNull())
            .addColumn('expires_at', 'bigint', (c) => c.notNull())
            .execute();
          // The id names this cluster's subjects on the bus, so that clusters sharing one NATS never
          // hear each other; the secret authenticates what servers say on it (cluster/bus.ts).
          await tx.schema
            .createTable('cluster_identity')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('secret', 'text', (c) => c.notNull())
            .execute();
          await tx.insertInto('cluster_identity').values({ id: randomBytes(8).toString('hex'), secret: randomBytes(32).toString('base64') }).execute();
        }),
    },
  };
}

/**
 * Kysely runs each PostgreSQL migration in a transaction but not SQLite's (it assumes SQLite
 * has no transactional DDL; it has): a migration of several steps takes one itself there, so
 * that a crash half-way does not leave a column added and the next start failing on it.
 */
async function atomically(db: Kysely<any>, engine: Engine, steps: (tx: Kysely<any>) => Promise<void>): Promise<void> {
  if (engine === 'sqlite') await db.transaction().execute(steps);
  else await steps(db);
}

export async function migrateToLatest(db: Kysely<any>, engine: Engine): Promise<void> {
  await migrate(db, engine);
}

/** Applies the migrations up to `name` only: tests of a later migration start from there. */
export async function migrateTo(db: Kysely<any>, engine: Engine, name: string): Promise<void> {
  await migrate(db, engine, name);
}

async function migrate(db: Kysely<any>, engine: Engine, upTo?: string): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}

/** Drops every table (tests against a shared PostgreSQL use it to start clean). */
export async function dropAll(db: Kysely<any>): Promise<void> {
  for (const table of ['cluster_servers', 'cluster_identity', 'read_positions', 'messages', 'memberships', 'chat_bans', 'chats', 'sessions', 'users', 'kysely_migration', 'kysely_migration_lock']) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db).catch(async () => {
      await sql`drop table if exists ${sql.table(table)}`.execute(db);
    });
  }
}

import type { Kysely } from 'kysely';
import { ChatStore } from './chats.js';
import { ClusterStore } from './cluster.js';
import { type DatabaseTarget, type Engine, type OpenDatabase, openDatabase } from './database.js';
import { MessageLog, MessageStore, postgresMessageRows, sqliteMessageRows } from './messages.js';
import { migrateToLatest } from './migrations.js';
import { ReadPositionStore } from './read-positions.js';
import type { Database } from './schema.js';
import { SessionStore } from './sessions.js';
import { UserStore } from './users.js';

/**
 * The server's storage: thin query classes over one Kysely connection. The engine (SQLite or
 * PostgreSQL) is chosen at open; nothing above this folder knows which one it is.
 */
export class Store {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly chats: ChatStore;
  readonly messages: MessageStore;
  readonly log: MessageLog;
  readonly reads: ReadPositionStore;
  readonly cluster: ClusterStore;

  private constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    sqlite: OpenDatabase['sqlite'],
  ) {
    this.users = new UserStore(db);
    this.sessions = new SessionStore(db);
    this.chats = new ChatStore(db);
    this.messages = new MessageStore(db);
    this.reads = new ReadPositionStore(db);
    this.cluster = new ClusterStore(db, engine);
    this.log = new MessageLog(db, sqlite ? sqliteMessageRows(sqlite) : postgresMessageRows);
  }

  /** Opens the database and brings its schema up to date. */
  static async open(target: DatabaseTarget): Promise<Store> {
    const { db, engine, sqlite } = openDatabase(target);
    try {
      await migrateToLatest(db, engine);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return new Store(db, engine, sqlite);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

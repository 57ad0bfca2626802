import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  type QueryResult,
  SqliteDialect,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import { ChorusError } from '../../protocol/errors.js';
import { makePrivateFile, makePrivateFolder } from '../private-files.js';
import type { Database } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

export type DatabaseTarget =
  | { engine: 'sqlite'; file: string }
  | {
      engine: 'postgres';
      url: string;
      /**
       * Cluster mode: PostgreSQL ends a session left idle inside a transaction this long. A
       * server paused (or cut off) in the middle of a commit holds the chat's row; without this
       * the takeover waits on that lock for as long as the pause lasts. Below the lease time,
       * so that the row is free by the time another server may take the chat.
       */
      idleInTransactionTimeoutMs?: number;
    };

export interface OpenDatabase {
  db: Kysely<Database>;
  engine: Engine;
  /** SQLite's own handle, under Kysely's: for the prepared statements of the hot path (messages.ts). */
  sqlite?: BetterSqlite3.Database;
}

export const SQLITE_FILE_NAME = 'chorus.sqlite3';

/**
 * Where the embedded database lives inside a data folder, made private: the folder 0700, the
 * database and its -wal and -shm 0600. The file is created here, 0600, before SQLite opens it
 * (an empty file is an empty database): SQLite would make it 0644 less the umask, and it gives
 * the -wal and -shm files it creates later the database file's mode.
 */
export function sqliteFileIn(dataDir: string): string {
  makePrivateFolder(dataDir);
  const file = join(dataDir, SQLITE_FILE_NAME);
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) makePrivateFile(path);
  return file;
}

/** The only engine-specific code: connection setup. Everything above it is portable SQL. */
export function openDatabase(target: DatabaseTarget): OpenDatabase {
  if (target.engine === 'sqlite') {
    const sqlite = new BetterSqlite3(target.file);
    // WAL lets readers (history pages) run while the sequencer commits; FULL makes every
    // acknowledged commit survive power loss, which is the promise an ack makes.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), engine: 'sqlite', sqlite };
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    // A database that does not answer must not hold a request (or the sequencer) for ever.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    ...(target.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: target.idleInTransactionTimeoutMs } : {}),
    // int8 columns (times, sequence numbers) come back as strings by default; ours stay far
    // below 2^53, so numbers are exact.
    types: {
      getTypeParser: (oid: number, format?: any) =>
        oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format),
    },
  });
  survivesConnectionLoss(pool);
  return { db: new Kysely<Database>({ dialect: new UnavailableOnConnectionLoss({ pool }) }), engine: 'postgres' };
}

const CONNECT_TIMEOUT_MS = 5000;

/** What a request or a send that met a lost database connection is told to wait before trying again. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/**
 * A connection PostgreSQL ends (a restart, a failover, pg_terminate_backend, a network reset)
 * is reported by pg as an 'error' event on its Client, and on the Pool while the client is idle:
 * unheard, either would end the process. The query running on it, if any, fails by itself and
 * is answered UNAVAILABLE (below); the pool drops the broken client (it is no longer queryable)
 * and the next query opens a fresh one. So the events themselves need no more than a listener.
 */
function survivesConnectionLoss(pool: pg.Pool): void {
  const ignore = () => {};
  pool.on('error', ignore);
  pool.on('connect', (client) => client.on('error', ignore));
}

/** The PostgreSQL dialect, with every lost connection answered as ChorusError UNAVAILABLE. */
class UnavailableOnConnectionLoss extends PostgresDialect {
  override createDriver(): Driver {
    return new ConnectionLossDriver(super.createDriver());
  }
}

/**
 * Turns pg's many ways of saying "the connection is gone" into one typed, retryable error, so
 * HTTP answers 503 with Retry-After and the sequencer knows to try the batch again (on a fresh
 * connection). Everything else passes through to the driver it wraps.
 */
class ConnectionLossDriver implements Driver {
  private readonly inner = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(private readonly driver: Driver) {}

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await unavailableOnLoss(() => this.driver.acquireConnection());
    const wrapped: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery) => unavailableOnLoss(() => connection.executeQuery<R>(query)) as Promise<QueryResult<R>>,
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => connection.streamQuery<R>(query, chunkSize),
    };
    this.inner.set(wrapped, connection);
    return wrapped;
  }

  // The driver runs these through the connection it is given: the wrapped one, which translates.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.rollbackTransaction(connection);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(this.inner.get(connection) ?? connection);
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}

async function unavailableOnLoss<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isConnectionLoss(error)) throw error;
    throw new ChorusError('UNAVAILABLE', 'The server lost its connection to the database; try again shortly', undefined, UNAVAILABLE_RETRY_AFTER_SECONDS);
  }
}

// Socket errors, and PostgreSQL's: class 08 (connection exception), 57P01..57P03 (the server is
// shutting down, crashed, or not yet accepting), 53300 (too many connections, for now), 25P03
// (the session sat idle in a transaction too long: a cluster server paused mid-commit).
const LOST_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '25P03']);
// pg reports some losses with a message only.
const LOST_CONNECTION_MESSAGE = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Connection ended/i;

/** True when `error` says the database connection was lost or could not be made: worth retrying. */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ChorusError) return error.code === 'UNAVAILABLE';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (LOST_CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return error instanceof Error && LOST_CONNECTION_MESSAGE.test(error.message);
}

/** True when a write failed on a UNIQUE or PRIMARY KEY constraint, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

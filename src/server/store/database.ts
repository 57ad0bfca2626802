import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { makePrivateFile, makePrivateFolder } from '../private-files.js';
import type { Database } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

export type DatabaseTarget = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

export interface OpenDatabase {
  db: Kysely<Database>;
  engine: Engine;
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
    return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), engine: 'sqlite' };
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    // int8 columns (times, sequence numbers) come back as strings by default; ours stay far
    // below 2^53, so numbers are exact.
    types: {
      getTypeParser: (oid: number, format?: any) =>
        oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format),
    },
  });
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres' };
}

/** True when a write failed on a UNIQUE or PRIMARY KEY constraint, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import pg from 'pg';
import type { DatabaseTarget, Engine } from '../../src/server/store/database.js';
import { sqliteFileIn } from '../../src/server/store/database.js';

/**
 * Which engine the integration suites run on: the vitest project sets CHORUS_TEST_ENGINE
 * (vitest.config.ts). SQLite when unset, so a test file run on its own needs nothing.
 */
export function testEngine(): Engine {
  return process.env.CHORUS_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
}

/** The NATS this machine (and CI) runs, with JetStream: the bus of servers in cluster mode. */
export const NATS_URL = process.env.CHORUS_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * Whether test servers on PostgreSQL run in cluster mode (one server of a cluster, on the
 * machine's NATS): the postgres project sets CHORUS_TEST_CLUSTER, so that every integration
 * suite runs both ways the issue asks, a single server on SQLite and a cluster on PostgreSQL.
 */
export function testCluster(): boolean {
  return testEngine() === 'postgres' && process.env.CHORUS_TEST_CLUSTER === '1';
}

// The PostgreSQL this machine (and CI) runs: trust auth on 127.0.0.1, database `test`. Every
// database a test server gets is one of its own, made here and dropped afterwards.
export const POSTGRES_ADMIN_URL = process.env.CHORUS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Admin SQL on the `test` database: one short-lived connection per call. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    return await admin.query(text, values);
  } finally {
    await admin.end();
  }
}

/** The URL of database `name` on the admin URL's server. */
export function postgresUrlOf(name: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

// One database per data folder: a test that restarts a server on the same folder finds its data
// again, as it would in the SQLite file.
const databases = new Map<string, string>();

/** A fresh, empty database; dropped by dropDatabase, or when the test file ends at the latest. */
export async function createDatabase(): Promise<string> {
  const name = `chorus_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  return name;
}

/** Drops the database, ending whatever connections are still open to it. */
export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists ${name} with (force)`);
}

/** Where a test server on `dataDir` keeps its data, on the engine under test. */
export async function databaseFor(dataDir: string): Promise<DatabaseTarget> {
  if (testEngine() === 'sqlite') return { engine: 'sqlite', file: sqliteFileIn(dataDir) };
  let name = databases.get(dataDir);
  if (!name) {
    name = await createDatabase();
    databases.set(dataDir, name);
  }
  return { engine: 'postgres', url: postgresUrlOf(name) };
}

/** Drops the database of `dataDir`, if it has one. */
export async function forgetDatabaseOf(dataDir: string): Promise<void> {
  const name = databases.get(dataDir);
  if (!name) return;
  databases.delete(dataDir);
  await dropDatabase(name);
}

// Servers a test only closed (to restart them on the same folder) leave their database behind:
// dropped when the file's tests are done. Only under vitest: the bench (npm run bench) imports
// these helpers too, outside any test file, where there is no "after all" to hook.
if (process.env['VITEST']) {
  afterAll(async () => {
    for (const dir of [...databases.keys()]) await forgetDatabaseOf(dir);
  });
}

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SIGNING_KEY_FILE } from '../../src/server/server-identity.js';
import { SQLITE_FILE_NAME } from '../../src/server/store/database.js';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/server/tls/material.js';
import { request } from 'node:https';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The data folder is the owner's alone whatever it was before the server started: a folder made
 * with `mkdir -m 755`, files left readable by an older version or a restored backup, a umask
 * that lets everyone read. About the SQLite files, so on SQLite whatever the test engine.
 */

const SQLITE = { engine: 'sqlite' } as const;
let parent: string;
let previousUmask: number;
const running: TestServer[] = [];

beforeAll(() => {
  parent = mkdtempSync(join(tmpdir(), 'chorus-modes-'));
});
afterAll(() => rmSync(parent, { recursive: true, force: true }));
beforeEach(() => {
  previousUmask = process.umask();
});
afterEach(async () => {
  process.umask(previousUmask);
  for (const server of running.splice(0)) await server.close();
});

async function start(dataDir: string): Promise<TestServer> {
  const server = await startTestServer({ database: SQLITE, tls: { force: true } }, dataDir);
  running.push(server);
  return server;
}

/** Registers someone, so that the database is written to (over HTTPS: the certificate is self-signed, and not what is tested). */
function register(server: TestServer, name: string): Promise<number> {
  const body = JSON.stringify({ name, email: `${name.toLowerCase()}@example.test`, password: 'correct horse battery' });
  return new Promise((resolve, reject) => {
    const req = request(`${server.httpUrl}/api/users`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the data folder at start', () => {
  it('makes a 0755 folder 0700 and the 0644 files in it 0600', async () => {
    process.umask(0o022);
    const dataDir = join(parent, 'made-by-hand');
    mkdirSync(dataDir, { mode: 0o755 });
    // A first run makes the files; then everything is opened up, as an older version left it.
    const first = await start(dataDir);
    expect(await register(first, 'Ada')).toBe(201);
    await first.close();
    running.splice(0);
    chmodSync(dataDir, 0o755);
    const files = readdirSync(dataDir);
    expect(files).toEqual(expect.arrayContaining([SQLITE_FILE_NAME, SIGNING_KEY_FILE, TLS_CERT_FILE, TLS_KEY_FILE]));
    for (const name of files) chmodSync(join(dataDir, name), 0o644);

    const server = await start(dataDir);
    expect(await register(server, 'Bob')).toBe(201);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const name of readdirSync(dataDir)) expect(`${name} ${modeOf(join(dataDir, name)).toString(8)}`).toBe(`${name} 600`);
  });

  it('makes the database, and the -wal and -shm SQLite creates after start, 0600 even with umask 000', async () => {
    process.umask(0o000);
    const dataDir = join(parent, 'fresh');
    const server = await start(dataDir);
    expect(await register(server, 'Cleo')).toBe(201);
    const database = join(dataDir, SQLITE_FILE_NAME);
    expect(existsSync(`${database}-wal`) && existsSync(`${database}-shm`)).toBe(true);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const path of [database, `${database}-wal`, `${database}-shm`, join(dataDir, SIGNING_KEY_FILE), join(dataDir, TLS_KEY_FILE)]) {
      expect(`${path} ${modeOf(path).toString(8)}`).toBe(`${path} 600`);
    }
  });
});

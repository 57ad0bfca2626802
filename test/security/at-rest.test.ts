import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNING_KEY_FILE } from '../../src/server/server-identity.js';
import { signUp, startTestServer, type TestServer } from '../support/server.js';

/**
 * What someone who copies the server's data folder (a backup, a stolen disk) finds there:
 * no session token and no password in any form they could use, and secrets readable by the
 * server's owner only.
 */

let server: TestServer;
let account: Awaited<ReturnType<typeof signUp>>;
let files: { name: string; bytes: Buffer }[];
let parent: string;

beforeAll(async () => {
  // A folder the server makes itself, so that its mode is the server's doing.
  parent = mkdtempSync(join(tmpdir(), 'chorus-at-rest-'));
  server = await startTestServer({}, join(parent, 'data'));
  account = await signUp(server.httpUrl, 'Ada', 'ada@example.test', 'a password nobody else knows');
  await server.close();
  files = readdirSync(server.dataDir).map((name) => ({ name, bytes: readFileSync(join(server.dataDir, name)) }));
});
afterAll(async () => {
  await server?.dispose();
  rmSync(parent, { recursive: true, force: true });
});

describe('the data folder at rest', () => {
  it('holds session tokens only as SHA-256 hashes, and passwords only as Argon2id hashes', () => {
    const all = Buffer.concat(files.map((f) => f.bytes));
    expect(files.length).toBeGreaterThan(0);
    expect(all.includes(Buffer.from(account.token))).toBe(false);
    expect(all.includes(Buffer.from(account.password))).toBe(false);
    // What is there instead (so that the check above looked in the right place).
    expect(all.includes(Buffer.from(createHash('sha256').update(account.token).digest('hex')))).toBe(true);
    expect(all.includes(Buffer.from('$argon2id$'))).toBe(true);
  });

  it("keeps the folder the owner's alone and the signing key readable by the owner only", () => {
    expect(statSync(server.dataDir).mode & 0o077).toBe(0);
    expect(statSync(join(server.dataDir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
  });
});

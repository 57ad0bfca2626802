import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_CODE, type Running, as, chorus, failureLine, registerProfile, startChorus } from './support/cli.js';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * `chorus read`, `settings` and `members`, and the read position `chorus chat` moves, driven as a
 * user would: each a child process with its own profile, against a real server on loopback.
 */

interface ListedMember {
  id: number;
  name: string;
  creator: boolean;
  presence: 'online' | 'away' | 'offline';
  lastSeenAt: string | null;
  readSeq?: number;
}

let scratch: string;
let server: TestServer;
let ada: string;
let bob: string;
let carol: string;
let code = '';
const started: Running[] = [];

async function members(profile: string): Promise<ListedMember[]> {
  const run = await chorus(as(profile, 'members', code, '--json'));
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

const byName = (list: ListedMember[], name: string) => list.find((m) => m.name === name)!;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-presence-'));
  server = await startTestServer();
  [ada, bob, carol] = ['ada', 'bob', 'carol'].map((name) => join(scratch, name)) as [string, string, string];
  await Promise.all([registerProfile(ada, server.httpUrl, 'Ada'), registerProfile(bob, server.httpUrl, 'Bob'), registerProfile(carol, server.httpUrl, 'Carol')]);
  const created = await chorus(as(ada, 'create', 'Team room'));
  code = CHAT_CODE.exec(created.stdout)?.[1] ?? '';
  expect(code).not.toBe('');
  expect((await chorus(as(bob, 'join', code))).code).toBe(0);
  for (const text of ['one', 'two', 'three']) expect((await chorus(as(ada, 'send', code, text))).code).toBe(0);
});

afterAll(async () => {
  for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus read', { timeout: 60_000 }, () => {
  it('sets the read position by hand, to the latest by default, and says where it is; it only moves forward', async () => {
    const first = await chorus(as(bob, 'read', code, '2'));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`Read position in ${code}: #2 of 3.\n`);

    const latest = await chorus(as(bob, 'read', code.toLowerCase(), '--json'));
    expect(latest.code, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout)).toEqual({ chat: code, readSeq: 3, latestSeq: 3 });

    const back = await chorus(as(bob, 'read', code, '1'));
    expect(back.code).toBe(0);
    expect(back.stdout).toBe(`Read position in ${code}: #3 of 3. (It only moves forward: #1 is behind it.)\n`);
    expect(byName(await members(ada), 'Bob').readSeq).toBe(3);

    const beyond = await chorus(as(bob, 'read', code, '99'));
    expect(beyond.code).toBe(0);
    expect(beyond.stdout).toBe(`Read position in ${code}: #3 of 3. (There is no #99 yet: the latest is #3.)\n`);
  });

  it('is refused for a chat one is not a member of, and for a SEQ that is not a number', async () => {
    const outsider = await chorus(as(carol, 'read', code));
    expect(outsider.code).toBe(1);
    expect(failureLine(outsider)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${carol} join ${code}`);
    const usage = await chorus(as(bob, 'read', code, 'latest'));
    expect(usage.code).toBe(2);
  });
});

describe('chorus settings', { timeout: 60_000 }, () => {
  it('shows receipts on by default; off is private mode, in which members see no read position of yours', async () => {
    const shown = await chorus(as(bob, 'settings'));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^Read receipts: on\. /);

    const off = await chorus(as(bob, 'settings', '--receipts', 'off'));
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/^Read receipts: off \(private mode\)\. Nobody sees how far you have read; your read position still keeps your own unread counts/);
    expect(JSON.parse((await chorus(as(bob, 'settings', '--json'))).stdout)).toEqual({ receipts: false });

    expect(byName(await members(ada), 'Bob').readSeq).toBeUndefined();
    const table = await chorus(as(ada, 'members', code));
    expect(table.stdout).toMatch(/^Bob +offline +\S.* +private$/m);
    // Bob still has his own position.
    expect(byName(await members(bob), 'Bob').readSeq).toBe(3);

    const on = await chorus(as(bob, 'settings', '--receipts', 'on', '--json'));
    expect(JSON.parse(on.stdout)).toEqual({ receipts: true });
    expect(byName(await members(ada), 'Bob').readSeq).toBe(3);
  });

  it('refuses a --receipts that is neither on nor off', async () => {
    const run = await chorus(as(bob, 'settings', '--receipts', 'maybe'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/give on or off/);
  });
});

describe('chorus members', { timeout: 60_000 }, () => {
  it('lists every member with the creator marked, and shows online those with a connection', async () => {
    const listed = await members(bob);
    expect(listed.map((m) => [m.name, m.creator])).toEqual([
      ['Ada', true],
      ['Bob', false],
    ]);
    // tail holds a TCP connection to the server: Ada is online while it runs.
    const tail = startChorus(as(ada, 'tail', code, '--history', '0'));
    started.push(tail);
    await tail.waitFor('Following', 'stderr');
    await until(() => members(bob), (list) => byName(list, 'Ada').presence === 'online', 'Ada online');
    const table = await chorus(as(bob, 'members', code));
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^NAME +PRESENCE +LAST SEEN +READ$/m);
    expect(table.stdout).toMatch(/^Ada \(creator\) +online +now +/m);
    expect(table.stdout).toMatch(/^Bob \(you\) +offline +/m);
    expect(table.stdout).toMatch(/2 members, 1 online or away\.\n$/);
    tail.child.kill('SIGTERM');
    await tail.result;
  });

  it('is refused to non-members', async () => {
    const run = await chorus(as(carol, 'members', code));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${carol} join ${code}`);
  });
});

describe('chorus chat and the read position', { timeout: 60_000 }, () => {
  it('moves the read position as it shows messages, and stores the last one on leaving', async () => {
    for (let i = 0; i < 5; i++) expect((await chorus(as(ada, 'send', code, `more ${i}`))).code).toBe(0);
    const before = byName(await members(ada), 'Bob').readSeq!;
    expect(before).toBe(3);
    const unread = await chorus(as(bob, 'chats'));
    expect(unread.stdout).toMatch(new RegExp(`^${code}\\s+Team room\\s+2\\s+8\\s+5$`, 'm'));
    const run = await chorus(as(bob, 'chat', code, '--history', '20'), { input: '/quit\n' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('more 4');
    expect(byName(await members(ada), 'Bob').readSeq).toBe(8);
    const chats = JSON.parse((await chorus(as(bob, 'chats', '--json'))).stdout);
    expect(chats).toEqual([expect.objectContaining({ code, latestSeq: 8, readSeq: 8 })]);
    expect((await chorus(as(bob, 'chats'))).stdout).toMatch(new RegExp(`^${code}\\s+Team room\\s+2\\s+8\\s+0$`, 'm'));
  });
});

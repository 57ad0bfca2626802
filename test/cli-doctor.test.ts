import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport as Report } from '../src/cli/doctor.js';
import { CHAT_CODE, as, chorus, deadPort, failureLine, registerProfile } from './support/cli.js';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * `chorus doctor` on loopback, as a user runs it: a child process with its own profile against a
 * real server. Loopback carries multicast, so here it works; a host whose network drops
 * multicast is the namespace tests' (test/netns).
 */

let scratch: string;
let server: TestServer;
let ada: string;
let bob: string;
let code = '';

const tokenOf = (dir: string): string => JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')).token;
const statuses = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.id, c.status]));

async function doctor(profile: string, ...args: string[]): Promise<{ code: number | null; report: Report; stdout: string; stderr: string }> {
  const run = await chorus(as(profile, 'doctor', '--json', ...args));
  // Exactly one JSON object on stdout, and never the session's token anywhere.
  const report = JSON.parse(run.stdout) as Report;
  expect(run.stdout + run.stderr).not.toContain(tokenOf(profile));
  return { code: run.code, report, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-doctor-'));
  server = await startTestServer();
  [ada, bob] = ['ada', 'bob'].map((name) => join(scratch, name)) as [string, string];
  await Promise.all([registerProfile(ada, server.httpUrl, 'Ada'), registerProfile(bob, server.httpUrl, 'Bob')]);
});

afterAll(async () => {
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus doctor', { timeout: 60_000 }, () => {
  it('with no chat yet: the server and session are fine, the multicast checks are skipped with a hint, exit 0', async () => {
    const { code: exit, report } = await doctor(bob);
    expect(exit).toBe(0);
    expect(statuses(report)).toEqual({ http: 'ok', tls: 'skip', session: 'ok', 'server-key': 'ok', tcp: 'ok', interface: 'ok', chat: 'skip', join: 'skip', probe: 'skip' });
    expect(report).toMatchObject({ server: server.httpUrl, chat: null, multicast: null, delivery: null, interface: { address: '127.0.0.1' } });
    expect(report.hints.join('\n')).toContain(`join a chat (chorus --profile ${bob} join CODE)`);
  });

  it('in a chat, on loopback: every check passes and the verdict is that multicast works, exit 0; the human lines say the same', async () => {
    const created = await chorus(as(ada, 'create', 'Doctor room'));
    code = CHAT_CODE.exec(created.stdout)?.[1] ?? '';
    expect(code).not.toBe('');
    const { code: exit, report } = await doctor(ada);
    expect(exit).toBe(0);
    expect(report).toMatchObject({ chat: code, multicast: true, delivery: 'multicast', reason: '', hints: [] });
    expect(report.checks.filter((c) => c.status !== 'ok').map((c) => c.id)).toEqual(['tls']);
    // The receive buffer the system grants the receiving sockets, said with the join.
    expect(report.checks.find((c) => c.id === 'join')!.detail).toMatch(/; receive buffer \d+ KiB/);

    const human = await chorus(as(ada, 'doctor', '--chat', code.toLowerCase()));
    expect(human.code).toBe(0);
    expect(human.stderr).toBe('');
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Chorus doctor: ${server.httpUrl}, chat ${code}`);
    expect(lines.filter((l) => /^ {2}[✓✗–] /.test(l))).toHaveLength(9);
    expect(lines.at(-1)).toBe('Verdict: multicast works: messages reach this computer directly.');
    expect(human.stdout).not.toContain(tokenOf(ada));
  });

  it('where multicast cannot be received (an address not of this computer): messages will come through the server, with the cause first, exit 0', async () => {
    const { code: exit, report } = await doctor(ada, '--multicast-interface', '192.0.2.7');
    expect(exit).toBe(0);
    expect(statuses(report)).toMatchObject({ tcp: 'ok', interface: 'fail', join: 'fail', probe: 'fail' });
    expect(report).toMatchObject({ chat: code, multicast: false, delivery: 'server', interface: { address: '192.0.2.7', name: null } });
    expect(report.reason).toMatch(/192\.0\.2\.7/);
    expect(report.verdict).toMatch(/^messages will come through the server: multicast does not reach this computer/);
    expect(report.hints[0]).toMatch(/^192\.0\.2\.7 is not an address of this computer: give --multicast-interface /);
    expect(report.hints.join('\n')).toMatch(/Wi-Fi.*\n.*Docker.*\n.*VPN.*\n.*firewall/);
  });

  it('--chat of a chat one is not in: the chat check fails with the reason, the multicast checks are skipped, exit 0', async () => {
    const { code: exit, report } = await doctor(bob, '--chat', code);
    expect(exit).toBe(0);
    expect(report.checks.find((c) => c.id === 'chat')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not a member/i) });
    expect(statuses(report)).toMatchObject({ join: 'skip', probe: 'skip' });
    expect(report.hints.join('\n')).toContain(`chorus --profile ${bob} join ${code}`);
  });

  it('a server that cannot be reached: exit 1, the HTTP check fails and nothing after it is tried', async () => {
    const elsewhere = join(scratch, 'ada-elsewhere');
    cpSync(ada, elsewhere, { recursive: true });
    const profile = JSON.parse(readFileSync(join(elsewhere, 'profile.json'), 'utf8'));
    const dead = `http://127.0.0.1:${await deadPort()}`;
    writeFileSync(join(elsewhere, 'profile.json'), JSON.stringify({ ...profile, server: dead }), { mode: 0o600 });
    const { code: exit, report } = await doctor(elsewhere);
    expect(exit).toBe(1);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([['http', 'fail']]);
    expect(report.checks[0]!.detail).toContain(`cannot reach the server at ${dead}`);
    expect(report).toMatchObject({ multicast: null, delivery: null });
  });

  it('a session that ended (logged out from another copy of the profile): exit 1, saying to log in again', async () => {
    const copy = join(scratch, 'bob-copy');
    cpSync(bob, copy, { recursive: true });
    expect((await chorus(as(bob, 'logout'))).code).toBe(0);
    const { code: exit, report } = await doctor(copy);
    expect(exit).toBe(1);
    expect(statuses(report)).toEqual({ http: 'ok', tls: 'skip', session: 'fail' });
    expect(report.hints).toEqual([`log in again: chorus --profile ${copy} login --email bob@example.com`]);
  });

  it('not logged in at all: one line, exit 1; --help describes the checks and the exit codes', async () => {
    const run = await chorus(as(join(scratch, 'nobody'), 'doctor'));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toMatch(/^chorus: not logged in/);

    const help = await chorus(['doctor', '--help']);
    expect(help.code).toBe(0);
    for (const part of ['--chat <code>', '--multicast-interface <address>', '--json', 'multicast works', 'messages will come through the server', 'Exit 0']) {
      expect(help.stdout).toContain(part);
    }
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, as, chorus, deadPort, failureLine, registerProfile } from './support/cli.js';
import { savedProfile, sessionStatus } from './support/profiles.js';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * No session is left valid on the server behind the user's back: a login that replaces the
 * profile's session ends the old one there, and a logout that cannot reach the server says so,
 * keeps the token (the one thing that can still end it) and fails, unless told --forget.
 */

let scratch: string;
let server: TestServer;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-sessions-'));
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

/** "2026-12-24 10:31" as the CLI prints an instant (the children run with TZ=UTC). */
const utcMinute = (iso: string) => iso.slice(0, 16).replace('T', ' ');

const login = (dir: string, ...args: string[]) => chorus(as(dir, 'login', ...args), { env: { CHORUS_PASSWORD: PASSWORD } });

describe('a login that replaces the session in the profile', { timeout: 60_000 }, () => {
  it('as another user: the previous user’s session is ended on the server, silently', async () => {
    const dir = join(scratch, 'shared');
    await registerProfile(dir, server.httpUrl, 'Ada');
    await registerProfile(join(scratch, 'bob'), server.httpUrl, 'Bob');
    const adas = savedProfile(dir);
    expect(adas.expiresAt).toEqual(expect.any(String));
    expect(await sessionStatus(server.httpUrl, adas.token!)).toBe(200);

    const run = await login(dir, '--email', 'bob@example.com');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Logged in as Bob <bob@example.com>');
    const bobs = savedProfile(dir);
    expect(bobs.user?.name).toBe('Bob');
    expect(await sessionStatus(server.httpUrl, adas.token!)).toBe(401);
    expect(await sessionStatus(server.httpUrl, bobs.token!)).toBe(200);
  });

  it('as the same user again: the older session is ended, the new one kept; --json says it was', async () => {
    const dir = join(scratch, 'again');
    await registerProfile(dir, server.httpUrl, 'Carol');
    const older = savedProfile(dir).token!;
    const run = await login(dir, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).previousSession).toMatchObject({ ended: true, server: server.httpUrl, user: { name: 'Carol' } });
    const newer = savedProfile(dir).token!;
    expect(newer).not.toBe(older);
    expect(await sessionStatus(server.httpUrl, older)).toBe(401);
    expect(await sessionStatus(server.httpUrl, newer)).toBe(200);
  });

  it('register while logged in ends the session it replaces too', async () => {
    const dir = join(scratch, 'reregister');
    await registerProfile(dir, server.httpUrl, 'Dora');
    const doras = savedProfile(dir).token!;
    await registerProfile(dir, server.httpUrl, 'Eve');
    expect(savedProfile(dir).user?.name).toBe('Eve');
    expect(await sessionStatus(server.httpUrl, doras)).toBe(401);
  });

  it('whose previous server does not answer: logged in all the same, saying the old session lives on, and until when', async () => {
    const dir = join(scratch, 'moved');
    await registerProfile(dir, server.httpUrl, 'Fay');
    const away = `http://127.0.0.1:${await deadPort()}`;
    const expiresAt = '2031-05-06T07:08:09.000Z';
    const stranded = { server: away, token: 'a-token-of-a-server-gone-away', expiresAt, user: { id: 99, name: 'Gus', email: 'gus@example.com' } };
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(stranded), { mode: 0o600 });

    const run = await login(dir, '--email', 'fay@example.com', '--server', server.httpUrl);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Logged in as Fay <fay@example.com>');
    expect(failureLine(run)).toBe(
      `chorus: the session this profile held before (Gus <gus@example.com> at ${away}) could not be ended: ` +
        `cannot reach the server at ${away} (connection refused); it stays valid there until ${utcMinute(expiresAt)}`,
    );
    expect(savedProfile(dir)).toMatchObject({ server: server.httpUrl, user: { name: 'Fay' } });
    expect(await sessionStatus(server.httpUrl, savedProfile(dir).token!)).toBe(200);
  });

  it('a failed login ends nothing: the session in the profile stays, valid', async () => {
    const dir = join(scratch, 'mistyped');
    await registerProfile(dir, server.httpUrl, 'Hal');
    const before = savedProfile(dir);
    const run = await chorus(as(dir, 'login', '--email', 'hal@example.com'), { env: { CHORUS_PASSWORD: 'not the password at all' } });
    expect(run.code).toBe(1);
    expect(savedProfile(dir)).toEqual(before);
    expect(await sessionStatus(server.httpUrl, before.token!)).toBe(200);
  });
});

describe('chorus logout when the server does not answer', { timeout: 60_000 }, () => {
  it('keeps the session and fails, saying until when it stays valid; run again once the server is back, it ends it', async () => {
    // A server of its own, stopped and started again on the same port and database.
    let own = await startTestServer();
    const dir = join(scratch, 'patient');
    try {
      await registerProfile(dir, own.httpUrl, 'Ivy');
      const before = savedProfile(dir);
      const { httpUrl, tcpPort, dataDir } = own;
      await own.close();

      const run = await chorus(as(dir, 'logout'));
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(failureLine(run)).toBe(
        `chorus: not logged out: cannot reach the server at ${httpUrl} (connection refused), so the session was not ended there ` +
          `and stays valid until ${utcMinute(before.expiresAt!)}. The profile keeps it: run chorus --profile ${dir} logout again once the server answers, ` +
          `or chorus --profile ${dir} logout --forget to forget it here anyway`,
      );
      expect(savedProfile(dir)).toEqual(before);

      own = await startTestServer({ httpPort: Number(new URL(httpUrl).port), tcpPort }, dataDir);
      expect(await sessionStatus(own.httpUrl, before.token!)).toBe(200);
      const again = await chorus(as(dir, 'logout'));
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).toBe('Logged out.');
      expect(savedProfile(dir).token).toBeUndefined();
      expect(await sessionStatus(own.httpUrl, before.token!)).toBe(401);
    } finally {
      await own.dispose();
    }
  });

  it('--json: the same refusal, and what was not done, on stdout', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const dir = join(scratch, 'scripted');
    const stranded = { server: url, token: 'a-token-that-is-valid', expiresAt: '2031-01-02T03:04:05.000Z', user: { id: 1, name: 'Ada', email: 'ada@example.com' } };
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(stranded), { mode: 0o600 });
    const run = await chorus(as(dir, 'logout', '--json'));
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      loggedOut: false,
      revoked: false,
      reason: `cannot reach the server at ${url} (connection refused)`,
      expiresAt: '2031-01-02T03:04:05.000Z',
    });
    expect(failureLine(run)).toMatch(/^chorus: not logged out: /);
    expect(savedProfile(dir)).toEqual(stranded);
  });

  it('--forget forgets it here all the same, and says plainly that it lives on at the server', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const dir = join(scratch, 'leaving');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ server: url, token: 'a-token-that-is-valid', user: { id: 1, name: 'Ada', email: 'ada@example.com' } }), { mode: 0o600 });
    const run = await chorus(as(dir, 'logout', '--forget'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(
      `Logged out here only: cannot reach the server at ${url} (connection refused), so the session was not ended there and stays valid until it expires.`,
    );
    expect(savedProfile(dir)).toEqual({ server: url });
  });

  it('--forget with the server there ends the session there as any logout does', async () => {
    const dir = join(scratch, 'forgetful');
    await registerProfile(dir, server.httpUrl, 'Jo');
    const token = savedProfile(dir).token!;
    const run = await chorus(as(dir, 'logout', '--forget'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('Logged out.');
    expect(await sessionStatus(server.httpUrl, token)).toBe(401);
  });
});

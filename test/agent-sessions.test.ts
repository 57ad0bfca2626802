import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../src/agent/session.js';
import type { UiPush } from '../src/agent/ui-protocol.js';
import { saveProfile } from '../src/client/profile.js';
import { PASSWORD, as, chorus, deadPort } from './support/cli.js';
import { savedProfile, sessionStatus } from './support/profiles.js';
import { type TestServer, signUp, startTestServer } from './support/server.js';

/**
 * The web client's agent leaves no session valid on the server behind the user's back, as the
 * CLI does not (test/cli-sessions.test.ts): its logout keeps a session the server could not end
 * (unless told to forget it), and its login ends the session it replaces in the profile.
 */

let scratch: string;
let server: TestServer;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-agent-sessions-'));
  server = await startTestServer();
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function openSession(profileDir: string, url: string): Promise<{ session: Session; pushes: UiPush[] }> {
  const pushes: UiPush[] = [];
  const session = await Session.open({ profileDir, server: url, interfaceAddress: '127.0.0.1', push: (event) => pushes.push(event) });
  cleanup.push(() => session.close());
  return { session, pushes };
}

const sessionPushes = (pushes: UiPush[]) => pushes.filter((p): p is Extract<UiPush, { type: 'session' }> => p.type === 'session');

/** A server of its own that a test stops and starts again (same port, same database). */
async function ownServer(): Promise<{ current: () => TestServer; stop(): Promise<void>; restart(): Promise<void> }> {
  let own = await startTestServer();
  const { httpUrl, tcpPort, dataDir } = own;
  cleanup.push(() => own.dispose());
  return {
    current: () => own,
    stop: () => own.close(),
    async restart() {
      own = await startTestServer({ httpPort: Number(new URL(httpUrl).port), tcpPort }, dataDir);
    },
  };
}

describe('the web client logs out', { timeout: 60_000 }, () => {
  it('with the server there: ended there and forgotten here, and nothing said but the login screen', async () => {
    const dir = join(scratch, 'plain');
    const { session, pushes } = await openSession(dir, server.httpUrl);
    await session.register({ name: 'Ann', email: 'ann@example.test', password: PASSWORD });
    const { token } = savedProfile(dir);
    expect(await session.logout()).toEqual({ loggedOut: true });
    expect(savedProfile(dir).token).toBeUndefined();
    expect(await sessionStatus(server.httpUrl, token!)).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 700)); // the server's end of the TCP connection, seen meanwhile, says nothing more
    const last = sessionPushes(pushes).at(-1)!;
    expect(last.user).toBeNull();
    expect(last.notice).toBeUndefined();
  });

  it('with the server away: still logged in, the token kept, saying why and until when; again once it is back, it ends it', async () => {
    const own = await ownServer();
    const url = own.current().httpUrl;
    const dir = join(scratch, 'patient');
    const { session, pushes } = await openSession(dir, url);
    await session.register({ name: 'Ben', email: 'ben@example.test', password: PASSWORD });
    const before = savedProfile(dir);
    expect(before.expiresAt).toEqual(expect.any(String));
    await own.stop();

    const result = await session.logout();
    expect(result).toEqual({ loggedOut: false, notEnded: { reason: `Cannot reach the server at ${url} (connection refused).`, expiresAt: before.expiresAt } });
    expect(savedProfile(dir)).toEqual(before);
    expect(sessionPushes(pushes).at(-1)!.user).toMatchObject({ name: 'Ben' });
    expect(session.snapshot()[0]).toMatchObject({ type: 'session', user: { name: 'Ben' } });

    await own.restart();
    expect(await sessionStatus(url, before.token!)).toBe(200);
    expect(await session.logout()).toEqual({ loggedOut: true });
    expect(savedProfile(dir).token).toBeUndefined();
    expect(await sessionStatus(url, before.token!)).toBe(401);
  });

  it('with the server away, told to forget: logged out here only, and the login screen says the session lives on there', async () => {
    const own = await ownServer();
    const url = own.current().httpUrl;
    const dir = join(scratch, 'leaving');
    const { session, pushes } = await openSession(dir, url);
    await session.register({ name: 'Cy', email: 'cy@example.test', password: PASSWORD });
    const { token, expiresAt } = savedProfile(dir);
    await own.stop();

    expect(await session.logout({ forget: true })).toEqual({ loggedOut: true, notEnded: { reason: `Cannot reach the server at ${url} (connection refused).`, expiresAt } });
    expect(savedProfile(dir).token).toBeUndefined();
    expect(sessionPushes(pushes).at(-1)).toMatchObject({ user: null, notice: expect.stringMatching(/^Logged out on this computer only: .* stays valid there until it expires/) });
    // As said: the server, back, still honours it.
    await own.restart();
    expect(await sessionStatus(url, token!)).toBe(200);
  });
});

describe('the web client logs in where the profile held another session', { timeout: 60_000 }, () => {
  it("another server's: that session is ended on its server, and nothing said", async () => {
    const other = await startTestServer();
    cleanup.push(() => other.dispose());
    const old = await signUp(other.httpUrl, 'Dot');
    const dir = join(scratch, 'moved');
    await saveProfile(dir, { server: other.httpUrl, token: old.token, user: old.user });
    const { session, pushes } = await openSession(dir, server.httpUrl);
    await session.register({ name: 'Eli', email: 'eli@example.test', password: PASSWORD });
    expect(savedProfile(dir)).toMatchObject({ server: server.httpUrl, user: { name: 'Eli' } });
    await expect.poll(() => sessionStatus(other.httpUrl, old.token), { timeout: 10_000 }).toBe(401);
    expect(await sessionStatus(server.httpUrl, savedProfile(dir).token!)).toBe(200);
    expect(sessionPushes(pushes).some((p) => p.replacedSession)).toBe(false);
  });

  it('whose server does not answer: logged in all the same, and the tabs are told it lives on there, and until when', async () => {
    const away = `http://127.0.0.1:${await deadPort()}`;
    const dir = join(scratch, 'stranded');
    const user = { id: 41, name: 'Fox', email: 'fox@example.test' };
    await saveProfile(dir, { server: away, token: 'a-token-of-a-server-gone-away', expiresAt: '2031-05-06T07:08:09.000Z', user });
    const { session, pushes } = await openSession(dir, server.httpUrl);
    await session.register({ name: 'Gil', email: 'gil@example.test', password: PASSWORD });
    await expect.poll(() => sessionPushes(pushes).at(-1)?.replacedSession, { timeout: 10_000 }).toEqual({
      server: away,
      user,
      reason: `Cannot reach the server at ${away} (connection refused).`,
      expiresAt: '2031-05-06T07:08:09.000Z',
    });
    expect(sessionPushes(pushes).at(-1)!.user).toMatchObject({ name: 'Gil' });
    expect(session.snapshot()[0]).toMatchObject({ replacedSession: { server: away } });
    // Said until the next logout.
    await session.logout();
    await session.login({ email: 'gil@example.test', password: PASSWORD });
    expect(session.snapshot()[0]).not.toHaveProperty('replacedSession');
  });
});

describe('`chorus login` as someone else on the profile the web client uses', { timeout: 60_000 }, () => {
  it('the web client takes up the new login, and does not forget it when the server ends the old one', async () => {
    const dir = join(scratch, 'shared');
    const { session, pushes } = await openSession(dir, server.httpUrl);
    await session.register({ name: 'Hana', email: 'hana@example.test', password: PASSWORD });
    await expect.poll(() => pushes.some((p) => p.type === 'connection' && p.state === 'connected'), { timeout: 10_000 }).toBe(true);
    const hanas = savedProfile(dir).token!;
    await signUp(server.httpUrl, 'Ivo', 'ivo@example.test', PASSWORD);

    const run = await chorus(as(dir, 'login', '--email', 'ivo@example.test'), { env: { CHORUS_PASSWORD: PASSWORD } });
    expect(run.code, run.stderr).toBe(0);
    const ivos = savedProfile(dir).token!;
    expect(await sessionStatus(server.httpUrl, hanas)).toBe(401);

    await expect.poll(() => sessionPushes(pushes).at(-1)?.user?.name, { timeout: 10_000 }).toBe('Ivo');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // anything the old session's end set off has run
    expect(savedProfile(dir).token).toBe(ivos);
    expect(sessionPushes(pushes).at(-1)!.user?.name).toBe('Ivo');
    expect(await sessionStatus(server.httpUrl, ivos)).toBe(200);
  });
});

import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../src/client/profile.js';
import { saveProfile } from '../../src/client/profile.js';
import { deadPort } from '../support/cli.js';
import { type TestServer, http, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { launchBrowser, login, openClient, register, visible } from './support/ui.js';

/**
 * The web client never says "logged out" of a session the server could not end: the tab says
 * so, keeps the login, and offers to try again or to log out here only. And a login that
 * replaced a session its server could not end says that too.
 */

const KIM = { name: 'Kim', email: 'kim@example.test', password: 'kim password 1' };

/** The date as the tab shows it (the test browser's locale and time zone: see openClient). */
const shownDate = (iso: string) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone: 'Europe/Madrid' }).format(new Date(iso));

describe('a session the server cannot end, in the web client', () => {
  let server: TestServer;
  let browser: Browser;
  let agent: ClientAgent;

  beforeAll(async () => {
    await ensureUiBuilt();
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    agent = await startClientAgent(server.httpUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
  });

  const profile = (): Profile => JSON.parse(readFileSync(join(agent.profileDir, 'profile.json'), 'utf8'));

  /** The same server, stopped; `back()` starts it again on its port and database. */
  async function serverAway(): Promise<{ back(): Promise<void> }> {
    const { httpUrl, tcpPort, dataDir } = server;
    await server.close();
    return {
      back: async () => {
        server = await startTestServer({ httpPort: Number(new URL(httpUrl).port), tcpPort }, dataDir);
      },
    };
  }

  it('Logout with the server away: still logged in, saying why and until when; Try again once it is back logs out', async () => {
    const { page, context } = await openClient(browser, agent);
    await register(page, KIM);
    const before = profile();
    const away = await serverAway();

    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    const notice = page.getByRole('alert').filter({ hasText: 'You are still logged in' });
    await visible(notice);
    expect(await notice.textContent()).toContain(`Cannot reach the server at ${server.httpUrl} (connection refused).`);
    expect(await notice.textContent()).toContain(`It stays valid there until ${shownDate(before.expiresAt!)}`);
    expect(await page.getByRole('button', { name: 'Log out', exact: true }).isEnabled()).toBe(true);
    expect(profile()).toEqual(before);

    await away.back();
    await notice.getByRole('button', { name: 'Try again' }).click();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }));
    expect(await page.getByText('You are still logged in').count()).toBe(0);
    expect(profile().token).toBeUndefined();
    expect((await http(server.httpUrl)('GET', '/api/me', { token: before.token })).status).toBe(401);
    await context.close();
  }, 60_000);

  it('"Log out here only": the login screen says the session lives on at the server, which still honours it', async () => {
    const { page, context } = await openClient(browser, agent);
    await login(page, KIM.email, KIM.password);
    const { token } = profile();
    const away = await serverAway();

    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('alert').getByRole('button', { name: 'Log out here only' }).click();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }));
    await visible(page.getByText('Logged out on this computer only: the server could not end the session, so it stays valid there until it expires.'));
    expect(profile().token).toBeUndefined();
    await away.back();
    expect((await http(server.httpUrl)('GET', '/api/me', { token })).status).toBe(200);
    await context.close();
  }, 60_000);
});

describe('a login in the web client that replaced a session its server could not end', () => {
  let server: TestServer;
  let browser: Browser;
  let agent: ClientAgent;
  let profileDir: string;

  beforeAll(async () => {
    await ensureUiBuilt();
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    profileDir = mkdtempSync(join(tmpdir(), 'chorus-profile-'));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
    rmSync(profileDir, { recursive: true, force: true });
  });

  it('says so, naming whose session it was, where, and until when, until dismissed', async () => {
    const away = `http://127.0.0.1:${await deadPort()}`;
    const expiresAt = '2031-05-06T07:08:09.000Z';
    await saveProfile(profileDir, { server: away, token: 'a-token-of-a-server-gone-away', expiresAt, user: { id: 5, name: 'Lou', email: 'lou@example.test' } });
    agent = await startClientAgent(server.httpUrl, { profileDir });
    const { page, context } = await openClient(browser, agent);
    await register(page, { name: 'Mo', email: 'mo@example.test', password: 'mo password 12' });

    const notice = page.getByRole('status').filter({ hasText: 'could not be ended' });
    await visible(notice);
    expect(await notice.textContent()).toBe(
      `The session this profile held before (Lou <lou@example.test> at ${away}) could not be ended. ` +
        `Cannot reach the server at ${away} (connection refused). It stays valid on that server until ${shownDate(expiresAt)}.Dismiss`,
    );
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    await expect.poll(() => notice.count()).toBe(0);
    await context.close();
  }, 60_000);
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS } from '../../src/server/config.js';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { type UserPage, chatTitle, createChat, hasText, joinChat, launchBrowser, openClient, openCreatedChat, register, send, visible } from './support/ui.js';

/**
 * Presence is the server's word: while the web client is not connected to the server, nobody
 * can tell whether it still holds, so the dots and the member list say it is unknown (never a
 * green dot for someone who went offline meanwhile), and say it again from the server once the
 * connection is back.
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@presence-disconnected.test', password: 'analytical engine' };
const BOB = { name: 'Bob Bitdiddle', email: 'bob@presence-disconnected.test', password: 'tidal watch keeper' };
const CHAT = 'Lighthouse';
/** Short, so that Bob's closed client shows as offline without waiting the default 30 s. */
const OFFLINE_AFTER_MS = 1500;
const UNKNOWN = 'Unknown while disconnected';

describe('presence while the web client is disconnected from the server', () => {
  let server: TestServer;
  let browser: Browser;
  let adaAgent: ClientAgent;
  let bobAgent: ClientAgent;
  let ada: UserPage;
  let bob: UserPage;

  const panel = (page: Page) => page.getByRole('complementary', { name: /Members/ });
  const row = (page: Page, name: string) => panel(page).getByRole('listitem').filter({ hasText: name });
  /** The dot on Bob's message in the log, and its tooltip. */
  const bobsMessageDot = (page: Page) => page.getByRole('log').locator('li[data-seq]', { hasText: 'Anyone on watch?' }).locator('.presence-dot');
  const memberText = (page: Page, name: string) => row(page, name).locator('.member-presence').textContent();

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer({ timeouts: { ...DEFAULT_TIMEOUTS, offlineAfterMs: OFFLINE_AFTER_MS } });
    [browser, adaAgent, bobAgent] = await Promise.all([launchBrowser(), startClientAgent(server.httpUrl), startClientAgent(server.httpUrl)]);
    [ada, bob] = await Promise.all([openClient(browser, adaAgent), openClient(browser, bobAgent)]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([adaAgent?.stop(), bobAgent?.stop()]);
    await server?.dispose();
  });

  it('has Ada and Bob in one chat, Bob having written, Ada with the members listed', async () => {
    await Promise.all([register(ada.page, ADA), register(bob.page, BOB)]);
    const code = await createChat(ada.page, CHAT);
    await openCreatedChat(ada.page, CHAT);
    await joinChat(bob.page, code);
    await hasText(chatTitle(bob.page), CHAT);
    await send(bob.page, 'Anyone on watch?');
    await visible(ada.page.getByRole('log').getByText('Anyone on watch?'));
    await ada.page.getByRole('button', { name: 'Members', exact: true }).click();
    await visible(panel(ada.page));
  }, 60_000);

  it('shows the dots and the member list as unknown, not online, while the connection is down; the server says it again once back', async () => {
    const { page } = ada;
    await expect.poll(() => memberText(page, 'Bob Bitdiddle'), { timeout: 15_000 }).toBe('Online');
    expect(await bobsMessageDot(page).getAttribute('class')).toContain('presence-online');

    // The server goes away: Ada's client cannot know who is there any more.
    const { httpUrl, tcpPort, dataDir } = server;
    await server.close();
    await expect.poll(() => memberText(page, 'Bob Bitdiddle'), { timeout: 20_000 }).toBe(UNKNOWN);
    expect(await memberText(page, 'Ada Lovelace')).toBe(UNKNOWN);
    for (const dot of [bobsMessageDot(page), row(page, 'Bob Bitdiddle').locator('.presence-dot'), row(page, 'Ada Lovelace').locator('.presence-dot')]) {
      expect(await dot.getAttribute('class')).toContain('presence-unknown');
      expect(await dot.getAttribute('title')).toBe(UNKNOWN);
    }
    expect(await page.locator('.presence-online').count()).toBe(0);

    // Meanwhile Bob's client stops: nothing will say he went offline, since the server that
    // comes back never saw him. Only reading the member list again tells.
    await bobAgent.stop();
    server = await startTestServer({ httpPort: Number(new URL(httpUrl).port), tcpPort, timeouts: { ...DEFAULT_TIMEOUTS, offlineAfterMs: OFFLINE_AFTER_MS } }, dataDir);
    await expect.poll(() => memberText(page, 'Ada Lovelace'), { timeout: 30_000 }).toBe('Online');
    await expect.poll(() => memberText(page, 'Bob Bitdiddle'), { timeout: 15_000 }).toMatch(/^Offline/);
    expect(await bobsMessageDot(page).getAttribute('class')).toContain('presence-offline');
  }, 90_000);
});

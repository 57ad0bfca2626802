import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS } from '../../src/server/config.js';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { type UserPage, chatTitle, createChat, hasText, joinChat, launchBrowser, openChat, openClient, openCreatedChat, register, screenshot, send, visible } from './support/ui.js';

/**
 * Issue 13 in three browsers, each with its own `chorus client` process: who is typing, "Seen
 * by" receipts (and private mode), and presence in the member list. Ana, Ben and Cleo share a
 * chat; Ana watches what the others do.
 */

const PEOPLE = [
  { name: 'Ana Almeida', email: 'ana@example.test', password: 'presence ana 2024' },
  { name: 'Ben Bauer', email: 'ben@example.test', password: 'presence ben 2024' },
  { name: 'Cleo Costa', email: 'cleo@example.test', password: 'presence cleo 2024' },
];
const CHAT = 'Harbour office';
/** Short, so that a closed client shows as offline without waiting the default 30 s. */
const OFFLINE_AFTER_MS = 1500;
/** What receivers wait before dropping a typing line whose `off` never came (TYPING_EXPIRY_MS). */
const TYPING_EXPIRY_MS = 15_000;

function typingLine(page: Page) {
  return page.locator('.typing-line');
}

async function typingText(page: Page): Promise<string> {
  return ((await typingLine(page).textContent()) ?? '').trim();
}

/** The receipt line under the message with this text, '' while it has none. */
async function receiptUnder(page: Page, text: string): Promise<string> {
  const item = page.getByRole('log').locator('li[data-seq]', { hasText: text });
  if ((await item.count()) === 0) return '';
  const receipt = item.first().locator('.receipt');
  return (await receipt.count()) === 0 ? '' : ((await receipt.first().textContent()) ?? '').trim();
}

/** Away from the chat (its messages not on screen): the Settings panel. */
async function leaveChatScreen(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click();
  await visible(page.getByRole('checkbox', { name: 'Send read receipts' }));
}

describe('presence, typing and read receipts across three chorus clients', () => {
  let server: TestServer;
  let browser: Browser;
  const agents: ClientAgent[] = [];
  let ana: UserPage;
  let ben: UserPage;
  let cleo: UserPage;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer({ timeouts: { ...DEFAULT_TIMEOUTS, offlineAfterMs: OFFLINE_AFTER_MS } });
    [browser] = await Promise.all([launchBrowser(), ...PEOPLE.map(async () => agents.push(await startClientAgent(server.httpUrl)))]);
    [ana, ben, cleo] = (await Promise.all(agents.map((agent) => openClient(browser, agent)))) as [UserPage, UserPage, UserPage];
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await server?.dispose();
  });

  it('has Ana, Ben and Cleo in one chat, each with it open', async () => {
    await Promise.all([ana, ben, cleo].map(({ page }, i) => register(page, PEOPLE[i]!)));
    const code = await createChat(ana.page, CHAT);
    await openCreatedChat(ana.page, CHAT);
    for (const other of [ben, cleo]) {
      await joinChat(other.page, code);
      await hasText(chatTitle(other.page), CHAT);
    }
    await send(ana.page, 'Good morning, both of you.');
    await send(cleo.page, 'Morning Ana!');
    await visible(ben.page.getByRole('log').locator('li[data-seq]', { hasText: 'Morning Ana!' }));
  }, 60_000);

  it('shows "Ben is typing…" to Ana while Ben types, drops it when he stops, and at once when he sends', async () => {
    const box = ben.page.getByLabel('Message', { exact: true });
    await box.click();
    const started = Date.now();
    await box.pressSequentially('Hello Ana, ', { delay: 60 });
    await expect.poll(() => typingText(ana.page), { timeout: 10_000, interval: 50 }).toBe('Ben Bauer is typing…');
    const shownAfter = Date.now() - started;
    await screenshot(ana.page, 'typing');
    // Ben stops typing: his client says so after its idle time, well before a receiver would
    // drop the line by itself (the expiry is for a lost `off`, not the usual way).
    const stopped = Date.now();
    await expect.poll(() => typingText(ana.page), { timeout: TYPING_EXPIRY_MS, interval: 100 }).toBe('');
    const goneAfter = Date.now() - stopped;
    expect(goneAfter).toBeLessThan(TYPING_EXPIRY_MS - 3000);
    console.info(`typing shown ${shownAfter} ms after the first keystroke, gone ${goneAfter} ms after the last`);

    // Typing again, then sending: the line goes with the message, not after the idle time.
    await box.pressSequentially('how are you?', { delay: 40 });
    await expect.poll(() => typingText(ana.page), { timeout: 10_000 }).toBe('Ben Bauer is typing…');
    await box.press('Enter');
    await visible(ana.page.getByRole('log').locator('li[data-seq]', { hasText: 'Hello Ana, how are you?' }));
    await expect.poll(() => typingText(ana.page), { timeout: 1000, interval: 50 }).toBe('');
    // Ben's own screen never says he is typing.
    expect(await typingText(ben.page)).toBe('');
  }, 60_000);

  it('shows Ana "Seen by Cleo" once Cleo has her message on screen, and never a receipt for Ana herself', async () => {
    await leaveChatScreen(ben.page);
    await send(ana.page, 'Who has read this?');
    await expect.poll(() => receiptUnder(ana.page, 'Who has read this?'), { timeout: 20_000 }).toBe('Seen by Cleo Costa');
    await openChat(ben.page, CHAT);
    await expect.poll(() => receiptUnder(ana.page, 'Who has read this?'), { timeout: 20_000 }).toMatch(/^Seen by (Ben Bauer, Cleo Costa|Cleo Costa, Ben Bauer)$/);
    await screenshot(ana.page, 'receipts');
    // Receipts are for one's own messages, about others: none under Ben's, none naming Ana.
    expect(await receiptUnder(ana.page, 'Hello Ana, how are you?')).toBe('');
    expect(await ana.page.locator('.receipt', { hasText: 'Ana Almeida' }).count()).toBe(0);
  }, 60_000);

  it('never shows Cleo in a receipt once she has turned read receipts off', async () => {
    await leaveChatScreen(cleo.page);
    const toggle = cleo.page.getByRole('checkbox', { name: 'Send read receipts' });
    // Loaded from the server (disabled until then), on by default.
    await expect.poll(() => toggle.isEnabled()).toBe(true);
    expect(await toggle.isChecked()).toBe(true);
    await toggle.uncheck();
    // Saved: the panel, opened afresh, reads it back from the server.
    await openChat(cleo.page, CHAT);
    await leaveChatScreen(cleo.page);
    await expect.poll(() => toggle.isEnabled()).toBe(true);
    expect(await toggle.isChecked()).toBe(false);
    await screenshot(cleo.page, 'settings');
    await leaveChatScreen(ben.page);

    await send(ana.page, 'A private question');
    // Cleo reads it first (her unread badge clears), then Ben.
    await openChat(cleo.page, CHAT);
    await visible(cleo.page.getByRole('log').locator('li[data-seq]', { hasText: 'A private question' }));
    const cleoInList = cleo.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: new RegExp(CHAT) });
    await expect.poll(() => cleoInList.textContent(), { timeout: 15_000 }).not.toContain('unread');
    await cleo.page.waitForTimeout(3000);
    expect(await receiptUnder(ana.page, 'A private question')).toBe('');

    await openChat(ben.page, CHAT);
    await expect.poll(() => receiptUnder(ana.page, 'A private question'), { timeout: 20_000 }).toBe('Seen by Ben Bauer');
    await ana.page.waitForTimeout(2000);
    expect(await receiptUnder(ana.page, 'A private question')).toBe('Seen by Ben Bauer');
  }, 60_000);

  it('lists the members with the creator marked and their presence, and a closed client goes offline', async () => {
    await ana.page.getByRole('button', { name: 'Members' }).click();
    const panel = ana.page.getByRole('complementary', { name: /Members/ });
    await visible(panel);
    const row = (name: string) => panel.getByRole('listitem').filter({ hasText: name });
    await hasText(row('Ana Almeida').locator('.member-badge'), 'Creator');
    expect(await row('Ben Bauer').locator('.member-badge').count()).toBe(0);
    for (const name of ['Ben Bauer', 'Cleo Costa']) await expect.poll(() => row(name).locator('.member-presence').textContent(), { timeout: 15_000 }).toBe('Online');
    // Ana created the chat: she may remove the others (not herself).
    await visible(row('Ben Bauer').getByRole('button', { name: 'Remove Ben Bauer from the chat' }));
    expect(await row('Ana Almeida').getByRole('button').count()).toBe(0);
    await screenshot(ana.page, 'member-list');

    // Cleo's client stops: her connection to the server is gone.
    await agents[2]!.stop();
    await expect.poll(() => row('Cleo Costa').locator('.member-presence').textContent(), { timeout: 20_000 }).toMatch(/^Offline/);
    expect(await row('Ben Bauer').locator('.member-presence').textContent()).toBe('Online');
  }, 60_000);
});

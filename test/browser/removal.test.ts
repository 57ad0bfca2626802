import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { DESKTOP, PHONE, type UserPage, chatTitle, createChat, hasText, joinChat, launchBrowser, openClient, openCreatedChat, register, screenshot, send, visible } from './support/ui.js';

// Functions given to the browser run there; the project is type-checked without the DOM library.
declare const window: any;

/**
 * A tester's report: Carlos, removed from Luis's chat while he had a draft in it, saw nothing
 * for as long as he did not send, and then lost the draft. Now the removal reaches his page at
 * once: a notice says so, the chat leaves his sidebar, and his draft is offered back to copy.
 */

const PEOPLE = [
  { name: 'Luis Lima', email: 'luis@example.test', password: 'removal luis 2024' },
  { name: 'Carlos Cruz', email: 'carlos@example.test', password: 'removal carlos 2024' },
];
const CHAT = 'Rota planning';
const DRAFT = 'I can take the Friday shift,\nbut not Saturday.';
/** "Promptly": the server ends the removed member's watch, or refuses their new key, at the removal. */
const NOTICE_WITHIN_MS = 5000;

describe('a member removed in the web', () => {
  let server: TestServer;
  let browser: Browser;
  const agents: ClientAgent[] = [];
  let luis: UserPage;
  let carlos: UserPage;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [browser] = await Promise.all([launchBrowser(), ...PEOPLE.map(async () => agents.push(await startClientAgent(server.httpUrl)))]);
    [luis, carlos] = (await Promise.all(agents.map((agent) => openClient(browser, agent)))) as [UserPage, UserPage];
    await Promise.all([luis, carlos].map(({ page }, i) => register(page, PEOPLE[i]!)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await server?.dispose();
  });

  it('is told at once, the chat leaves the sidebar, and the draft is offered back', async () => {
    const code = await createChat(luis.page, CHAT);
    await openCreatedChat(luis.page, CHAT);
    await joinChat(carlos.page, code);
    await hasText(chatTitle(carlos.page), CHAT);
    await send(luis.page, 'Who takes which shift?');
    await visible(carlos.page.getByRole('log').locator('li[data-seq]', { hasText: 'Who takes which shift?' }));
    await carlos.page.getByLabel('Message', { exact: true }).fill(DRAFT);

    // Luis: Members → Remove → Remove, as the tester did.
    await luis.page.getByRole('button', { name: 'Members' }).click();
    await luis.page.getByRole('button', { name: 'Remove Carlos Cruz from the chat' }).click();
    await luis.page.getByRole('group', { name: 'Remove Carlos Cruz?' }).getByRole('button', { name: 'Remove' }).click();

    const notice = carlos.page.getByRole('alert').filter({ hasText: CHAT });
    await visible(notice, NOTICE_WITHIN_MS);
    // Removed by the creator, and told so: not "no longer a member", which a leave elsewhere also is.
    await expect.poll(() => notice.first().textContent()).toContain(`You were removed from “${CHAT}” by its creator.`);
    // The draft, as typed (its line break too), ready to copy.
    const unsent = notice.getByLabel('Your unsent text');
    expect(await unsent.textContent()).toBe(DRAFT);
    await expect.poll(() => carlos.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: CHAT }).count()).toBe(0);
    // The chat was open: the page shows the empty state under the notice.
    await visible(carlos.page.getByRole('heading', { name: 'Start a conversation' }));
    expect(await carlos.page.locator('#composer-input').count()).toBe(0);
    await screenshot(carlos.page, 'removed-from-chat');
    // On a phone, where the list and the chat take turns, the notice stays above whichever shows.
    await carlos.page.setViewportSize(PHONE);
    expect(await notice.first().isVisible()).toBe(true);
    await carlos.page.setViewportSize(DESKTOP);

    await carlos.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await notice.getByRole('button', { name: 'Copy text' }).click();
    await visible(notice.getByRole('button', { name: 'Copied' }));
    expect(await carlos.page.evaluate(() => window.navigator.clipboard.readText())).toBe(DRAFT);

    await notice.getByRole('button', { name: 'Dismiss' }).click();
    expect(await carlos.page.getByRole('alert').filter({ hasText: CHAT }).count()).toBe(0);
    // Luis's side is as before: one member left.
    await expect.poll(() => luis.page.locator('.chat-meta').first().textContent()).toContain('1 member');
  }, 60_000);
});

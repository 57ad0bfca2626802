import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import {
  type UserPage,
  chatTitle,
  createChat,
  hasText,
  joinChat,
  launchBrowser,
  openClient,
  openCreatedChat,
  register,
  screenshot,
  send,
  shownMessages,
  visible,
  waitForMessageCount,
} from './support/ui.js';

// Functions given to the browser run there; the project is type-checked without the DOM library.
declare const window: any;

/**
 * The main scenario: three people, each with their own `chorus client` process and
 * profile, in their own browser context, against one server. They register, one creates a chat,
 * the others join by its code, all three talk, and everyone sees every message, with the right
 * sender, in the same order.
 */

const PEOPLE = [
  { name: 'Ada Lovelace', email: 'ada@example.test', password: 'analytical engine' },
  { name: 'Grace Hopper', email: 'grace@example.test', password: 'compiler A-0 1952' },
  { name: 'Alan Turing', email: 'alan@example.test', password: 'on computable numbers' },
];

describe('three people chatting through three chorus client processes', () => {
  let server: TestServer;
  let browser: Browser;
  const agents: ClientAgent[] = [];
  const users: UserPage[] = [];

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [browser] = await Promise.all([launchBrowser(), ...PEOPLE.map(async () => agents.push(await startClientAgent(server.httpUrl)))]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await server?.dispose();
  });

  it('registers, creates, joins by code, and delivers every message to everyone in one order', async () => {
    for (const agent of agents) users.push(await openClient(browser, agent));
    const [ada, grace, alan] = users as [UserPage, UserPage, UserPage];

    await Promise.all(users.map(({ page }, i) => register(page, PEOPLE[i]!)));

    const code = await createChat(ada.page, 'Analytical Society');
    await screenshot(ada.page, 'create-chat');
    await openCreatedChat(ada.page, 'Analytical Society');

    for (const other of [grace, alan]) {
      await joinChat(other.page, code.toLowerCase().replace('-', ''));
      await hasText(chatTitle(other.page), 'Analytical Society');
    }

    const script: [UserPage, string][] = [
      [ada, 'Welcome, both of you.'],
      [grace, 'Thanks Ada! Glad to be here.'],
      [alan, 'Hello everyone.'],
      [ada, 'Shall we start with the agenda?'],
      [grace, 'Yes:\n1. compilers\n2. bugs'],
      [alan, 'Agreed.'],
    ];
    for (const [user, text] of script) await send(user.page, text);
    // And a burst from everyone at once: the server's order is the one order everybody sees.
    await Promise.all(users.map((user, i) => send(user.page, `burst from ${PEOPLE[i]!.name}`)));

    const total = script.length + users.length;
    const seen = await Promise.all(users.map(({ page }) => waitForMessageCount(page, total)));
    const reference = seen[0]!;
    for (const shown of seen) expect(shown).toEqual(reference);
    expect(reference.map((m) => m.seq)).toEqual(reference.map((_, i) => i + 1));
    // The scripted part came in the order it was written, each under its author's name.
    expect(reference.slice(0, script.length).map((m) => [m.sender, m.text])).toEqual(script.map(([user, text]) => [PEOPLE[users.indexOf(user)]!.name, text]));
    expect(reference.slice(script.length).map((m) => m.text).sort()).toEqual(PEOPLE.map((p) => `burst from ${p.name}`).sort());
    for (const m of reference.slice(script.length)) expect(m.text).toBe(`burst from ${m.sender}`);

    // No message stays pending once acknowledged.
    for (const { page } of users) await expect.poll(() => page.locator('li[data-pending]').count()).toBe(0);

    await screenshot(grace.page, 'chat');
    for (const user of users) expect(user.dialogs).toEqual([]);
  }, 120_000);

  it('shows unread counts and a notification for a chat not on screen, and clears them when it is opened', async () => {
    const [ada, grace] = users as [UserPage, UserPage];
    // Grace has allowed notifications; the page's Notification records what it is asked to show.
    await grace.context.addInitScript(() => {
      const shown: { title: string; body?: string }[] = [];
      (window as any).shownNotifications = shown;
      (window as any).Notification = class {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        onclick: (() => void) | null = null;
        constructor(title: string, options?: { body?: string }) {
          shown.push({ title, body: options?.body });
        }
        close() {}
      };
    });
    await grace.page.reload();
    await visible(grace.page.getByRole('button', { name: 'Log out' }));
    const code = await createChat(ada.page, 'Side room');
    await openCreatedChat(ada.page, 'Side room');
    await joinChat(grace.page, code);
    await hasText(chatTitle(grace.page), 'Side room');
    // Grace goes back to the first chat; Ada writes in the side room.
    await grace.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical Society' }).click();
    await hasText(chatTitle(grace.page), 'Analytical Society');
    await send(ada.page, 'Psst, over here');
    await send(ada.page, 'Two unread now');
    const sideRoom = grace.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: /Side room/ });
    await expect.poll(() => sideRoom.textContent(), { timeout: 15_000 }).toContain('2 unread');
    expect(await grace.page.title()).toBe('(2) Chorus');
    expect(await grace.page.evaluate(() => (window as any).shownNotifications)).toEqual([
      { title: 'Ada Lovelace in Side room', body: 'Psst, over here' },
      { title: 'Ada Lovelace in Side room', body: 'Two unread now' },
    ]);
    await screenshot(grace.page, 'unread');
    await sideRoom.click();
    await waitForMessageCount(grace.page, 2);
    await expect.poll(() => sideRoom.textContent(), { timeout: 15_000 }).not.toContain('unread');
    expect(await grace.page.title()).toBe('Chorus');
    expect((await shownMessages(grace.page)).map((m) => m.text)).toEqual(['Psst, over here', 'Two unread now']);
    await visible(grace.page.getByText('This is the beginning of Side room.'));
  }, 60_000);
});

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedSender } from '../support/messaging.js';
import { type TestServer, http, signUp } from '../support/server.js';
import type { ClientAgent } from './support/client-agents.js';
import { type OneUser, startOneUser } from './support/one-user.js';
import {
  PHONE,
  type UserPage,
  chatTitle,
  createChat,
  hasText,
  joinChat,
  logout,
  openClient,
  send,
  visible,
  waitForMessageCount,
} from './support/ui.js';

// Functions given to page.evaluate run in the browser; the project is type-checked without the DOM library.
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;

/**
 * Every screen of the web client against axe-core's WCAG 2.1 A and AA rules: no serious or
 * critical violation on login, register, the welcome screen, the create and join panels, a chat
 * with messages, and the error states. Then what axe cannot see: the keyboard alone (tab order,
 * visible focus, Escape closes a panel) and how new messages reach a screen reader (a polite
 * log that announces a new message, not the history). Each screen is photographed to
 * $TMPDIR/chorus-a11y-screens, to look at.
 *
 * axe is injected with page.evaluate (run over the DevTools protocol, which the agent's
 * Content-Security-Policy, script-src 'self', does not govern: an inline script tag would be refused).
 */

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const SHOTS = join(tmpdir(), 'chorus-a11y-screens');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

async function seriousViolations(page: Page): Promise<Violation[]> {
  await page.evaluate(() => document.fonts.ready);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(
    (values) => window.axe.run(document, { runOnly: { type: 'tag', values } }).then((r: { violations: Violation[] }) => r.violations),
    WCAG_21_AA,
  );
  return (violations as Violation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Fails with each violation's rule, where, and how to fix it. */
async function expectAccessible(page: Page, screen: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(SHOTS, `${screen}.png`) });
  const found = await seriousViolations(page);
  const report = found
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, '\n      ')}` : ''}`).join('\n')}`)
    .join('\n');
  expect.soft(report, `axe on the ${screen} screen`).toBe('');
}

const ADA = { name: 'Ada Lovelace', email: 'ada@example.test', password: 'analytical engine' };

describe('accessibility of the web client (axe-core, WCAG 2.1 A/AA; keyboard; screen readers)', () => {
  let server: TestServer;
  let world: OneUser;
  let agent: ClientAgent;
  let ada: UserPage;
  let code = '';

  beforeAll(async () => {
    world = await startOneUser();
    ({ server, agent, user: ada } = world);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('register, login and their errors', async () => {
    const { page } = ada;
    await visible(page.getByRole('button', { name: 'Register', exact: true }));
    await expectAccessible(page, 'register');
    await page.getByLabel('Name', { exact: true }).fill(ADA.name);
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill('password123');
    await page.getByLabel('Confirm Password', { exact: true }).fill('password1234');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText('The passwords do not match.'));
    await expectAccessible(page, 'register-errors');

    await page.getByRole('link', { name: 'Already have an account? Log in' }).click();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }));
    await expectAccessible(page, 'login');
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await visible(page.getByRole('alert').filter({ hasText: 'Wrong email address or password.' }));
    await expectAccessible(page, 'login-error');
  }, 60_000);

  it('the welcome screen, the create and join panels, and a join error', async () => {
    const { page } = ada;
    await page.getByRole('link', { name: "Don't have an account? Register" }).click();
    await page.getByLabel('Name', { exact: true }).fill(ADA.name);
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill(ADA.password);
    await page.getByLabel('Confirm Password', { exact: true }).fill(ADA.password);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText('Start a conversation'));
    await expectAccessible(page, 'welcome');

    await page.getByRole('button', { name: 'Create chat', exact: true }).click();
    await visible(page.getByLabel('Chat name', { exact: true }));
    await expectAccessible(page, 'create-chat');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await visible(page.getByText('Give the chat a name.'));
    await expectAccessible(page, 'create-chat-error');
    code = await createChat(page, 'Analytical');
    await expectAccessible(page, 'create-chat-done');

    await joinChat(page, 'ZZZZZ-ZZZZZ');
    await visible(page.getByText(/No chat has the code/));
    await expectAccessible(page, 'join-chat-error');
  }, 60_000);

  it('a chat with messages from others and oneself, over two days, and a failed message', async () => {
    const { page } = ada;
    const bob = await signUp(server.httpUrl, 'Bob');
    expect((await http(server.httpUrl)('POST', `/api/chats/${code}/members`, { token: bob.token })).status).toBeLessThan(300);
    const sender = await connectedSender(server.httpUrl, bob.token);
    await sender.send(code, 'Hello Ada, here is **bold**, `code` and a link https://example.test');
    sender.close();
    await page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical' }).click();
    await hasText(chatTitle(page), 'Analytical');
    await send(page, 'Hello Bob');
    await waitForMessageCount(page, 2);
    await expectAccessible(page, 'chat');

    await send(page, '\u0001'.repeat(11_000));
    await visible(page.locator('li.message-failed'));
    await expectAccessible(page, 'send-failed');
    await page.locator('li.message-failed').getByRole('button', { name: 'Discard' }).click();

    // The member list (presence, the creator marked, Remove for the creator) and the settings panel.
    await page.getByRole('button', { name: 'Members' }).click();
    await visible(page.getByRole('complementary', { name: /Members/ }).getByRole('listitem'));
    await expectAccessible(page, 'member-list');
    await page.getByRole('complementary', { name: /Members/ }).getByRole('button', { name: 'Close' }).click();
    await page.getByRole('button', { name: 'Settings' }).click();
    await visible(page.getByRole('checkbox', { name: 'Send read receipts' }));
    await expectAccessible(page, 'settings');
    await page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical' }).click();
    await waitForMessageCount(page, 2);

    const phone = await openClient(world.browser, agent, PHONE);
    await phone.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical' }).click();
    await waitForMessageCount(phone.page, 2);
    await expectAccessible(phone.page, 'mobile-chat');
    await phone.context.close();
  }, 60_000);

  it('new messages are announced politely, one by one, and the history is not read out again', async () => {
    const { page } = ada;
    const log = page.getByRole('log');
    expect(await log.getAttribute('aria-live')).toBe('polite');
    expect(await log.getAttribute('aria-relevant')).toBe('additions');
    // What a screen reader announces is what is added under a polite live region: record, for
    // each message added, the aria-live of its nearest ancestor that has one.
    await page.evaluate(() => {
      const seen: string[] = [];
      window.announced = seen;
      new window.MutationObserver((records: any[]) => {
        for (const record of records)
          for (const node of record.addedNodes) {
            if (node.nodeType !== 1) continue;
            const item = node.matches('li[data-seq]') ? node : node.querySelector?.('li[data-seq]');
            if (!item) continue;
            const live = item.closest('[aria-live]')?.getAttribute('aria-live');
            if (live === 'polite') seen.push(item.querySelector('.message-text')?.textContent ?? '');
          }
      }).observe(document.body, { childList: true, subtree: true });
    });
    // Leave the chat and come back: its history is shown again, and not announced.
    await page.getByRole('button', { name: 'Join chat', exact: true }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical' }).click();
    await waitForMessageCount(page, 2);
    const bob = await http(server.httpUrl)('POST', '/api/sessions', { json: { email: 'bob@example.test', password: 'correct horse battery' } });
    const sender = await connectedSender(server.httpUrl, bob.body.token);
    await sender.send(code, 'a new one');
    sender.close();
    await waitForMessageCount(page, 3);
    expect(await page.evaluate(() => window.announced)).toEqual(['a new one']);
    // On screen in a focused window, it is read: the list's count clears (reported within about a second).
    const inList = page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: /Analytical/ });
    await expect.poll(() => inList.textContent(), { timeout: 10_000 }).not.toContain('unread');
  }, 60_000);

  it('the keyboard alone: every control in a sensible order with a visible focus; Escape closes a panel', async () => {
    const { page } = ada;
    await page.evaluate(() => document.activeElement?.blur());
    const stops: { name: string; outline: string; shadow: string }[] = [];
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press('Tab');
      const stop = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return undefined; // past the last control: the browser's own UI
        const style = getComputedStyle(el);
        return { name: (el.getAttribute('aria-label') || el.textContent || el.id || el.tagName).trim().slice(0, 40), outline: style.outlineStyle, shadow: style.boxShadow };
      });
      if (stop) stops.push(stop);
    }
    const names = stops.map((s) => s.name);
    const at = (name: string) => names.findIndex((n) => n.includes(name));
    // The sidebar first (its actions, the chats, the account), then the chat's header, its messages, the box to write in.
    expect(names.slice(0, 3)).toEqual(['Create chat', 'Join chat', '#Analytical']);
    for (const [before, after] of [['#Analytical', 'Settings'], ['Settings', 'Log out'], ['Log out', 'Members'], ['Members', 'Copy code'], ['Copy code', 'Leave'], ['Leave', 'This is the beginning'], ['This is the beginning', 'composer-input']]) {
      expect(at(before!), `${before} before ${after} in ${names.join(' | ')}`).toBeLessThan(at(after!));
      expect(at(before!)).toBeGreaterThanOrEqual(0);
    }
    for (const stop of stops) expect(stop.outline !== 'none' || stop.shadow !== 'none', `focus visible on ${stop.name}`).toBe(true);

    for (const panel of ['Create chat', 'Join chat']) {
      await page.getByRole('button', { name: panel, exact: true }).focus();
      await page.keyboard.press('Enter');
      await visible(page.getByRole('heading', { name: panel === 'Create chat' ? 'Create a chat' : 'Join a chat' }));
      // Escape closes the panel wherever the focus is, and gives the focus back to the button that opened it.
      await page.evaluate(() => document.activeElement?.blur());
      await page.keyboard.press('Escape');
      await expect.poll(() => page.getByRole('heading', { name: /^(Create|Join) a chat$/ }).count()).toBe(0);
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe(panel);
    }
  }, 60_000);

  it('icon-only buttons have names (phone layout, where labels are hidden)', async () => {
    const phone = await openClient(world.browser, agent, PHONE);
    const { page } = phone;
    await page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Analytical' }).click();
    await waitForMessageCount(page, 3);
    for (const name of ['Chats', 'Copy code', 'Send']) await visible(page.getByRole('button', { name, exact: true }));
    await page.getByRole('button', { name: 'Chats', exact: true }).click();
    await logout(page);
    await expectAccessible(page, 'mobile-login');
    await phone.context.close();
  }, 60_000);
});

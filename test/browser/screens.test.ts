import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedSender } from '../support/messaging.js';
import { type TestServer, http, signUp, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import {
  DESKTOP,
  PHONE,
  type UserPage,
  chatTitle,
  createChat,
  hasText,
  joinChat,
  launchBrowser,
  login,
  logout,
  openChat,
  openClient,
  openCreatedChat,
  register,
  screenshot,
  send,
  shownMessages,
  visible,
  waitForMessageCount,
} from './support/ui.js';

// Functions given to page.evaluate run in the browser. The project is type-checked without the
// DOM library (it is Node code), so the few browser globals they use are declared here.
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;
type HTMLElement = any;

/**
 * Each screen and its edge cases, driven by its visible labels: register and login with their
 * inline errors, joining an unknown code, switching chats, markup shown as text, long words,
 * a refused message with retry, older history on scroll, a phone-sized screen, the keyboard
 * alone, and logout. Screenshots of each screen go to docs/screenshots/.
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@example.test', password: 'analytical engine' };
const BOB = { name: 'Bob Bitdiddle', email: 'bob@example.test', password: 'structure and interpretation' };

describe('the screens of the web client', () => {
  let server: TestServer;
  let browser: Browser;
  let adaAgent: ClientAgent;
  let bobAgent: ClientAgent;
  let ada: UserPage;
  let bob: UserPage;
  const codes: Record<string, string> = {};

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [browser, adaAgent, bobAgent] = await Promise.all([launchBrowser(), startClientAgent(server.httpUrl), startClientAgent(server.httpUrl)]);
    ada = await openClient(browser, adaAgent);
    bob = await openClient(browser, bobAgent);
  }, 120_000);

  afterAll(async () => {
    for (const user of [ada, bob]) expect(user?.dialogs ?? []).toEqual([]);
    await browser?.close();
    await Promise.all([adaAgent?.stop(), bobAgent?.stop()]);
    await server?.dispose();
  });

  it('register: a new profile starts on Register; labels, inline errors for differing and weak passwords, then an account', async () => {
    const { page } = ada;
    // Never logged in with this profile: the first screen is Register, with Log in a link away.
    await visible(page.getByRole('button', { name: 'Register', exact: true }));
    expect(await page.getByText('Welcome back').count()).toBe(0);
    await page.getByRole('link', { name: 'Already have an account? Log in' }).click();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }));
    await screenshot(page, 'login');
    await page.getByRole('link', { name: "Don't have an account? Register" }).click();
    for (const label of ['Name', 'Email address', 'Password', 'Confirm Password']) await visible(page.getByLabel(label, { exact: true }));
    await visible(page.getByRole('link', { name: 'Already have an account? Log in' }));
    await screenshot(page, 'register');

    await page.getByLabel('Name', { exact: true }).fill(ADA.name);
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill(ADA.password);
    await page.getByLabel('Confirm Password', { exact: true }).fill(`${ADA.password}!`);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText('The passwords do not match.'));
    // The error is tied to its field for screen readers, and the field is marked invalid.
    expect(await page.getByLabel('Confirm Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Confirm Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText(/too weak/));
    // The server's own rule, checked before sending: a common password is refused with its reason.
    await page.getByLabel('Password', { exact: true }).fill('password123');
    await page.getByLabel('Confirm Password', { exact: true }).fill('password123');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText(/Password is too common/));
    await screenshot(page, 'register-errors');

    await page.getByLabel('Password', { exact: true }).fill(ADA.password);
    await page.getByLabel('Confirm Password', { exact: true }).fill(ADA.password);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByRole('button', { name: 'Log out' }));
    await visible(page.getByText('Start a conversation'));
    await screenshot(page, 'welcome');
  }, 60_000);

  it('register: a taken email address is an inline error on that field', async () => {
    const { page } = bob;
    await page.getByLabel('Name', { exact: true }).fill(BOB.name);
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill(BOB.password);
    await page.getByLabel('Confirm Password', { exact: true }).fill(BOB.password);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByText(/already exists/));
    expect(await page.getByLabel('Email address', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Email address', { exact: true }).fill(BOB.email);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await visible(page.getByRole('button', { name: 'Log out' }));
  }, 30_000);

  it('login: wrong credentials say so inline; right ones log in', async () => {
    const { page } = ada;
    await logout(page);
    await page.getByLabel('Email address', { exact: true }).fill(ADA.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await visible(page.getByRole('alert').filter({ hasText: 'Wrong email address or password.' }));
    await screenshot(page, 'login-error');
    await login(page, ADA.email, ADA.password);
  }, 30_000);

  it('a client started for an account (--email, as up --demo does) opens on Login with it filled in, the password next', async () => {
    // A new profile would start on Register: the address given says this person has an account.
    const agent = await startClientAgent(server.httpUrl, { args: ['--email', ` ${ADA.email.toUpperCase()} `] });
    try {
      const { context, page } = await openClient(browser, agent);
      await visible(page.getByRole('button', { name: 'Log in', exact: true }));
      expect(await page.getByLabel('Email address', { exact: true }).inputValue()).toBe(ADA.email);
      await page.keyboard.type(ADA.password);
      await page.keyboard.press('Enter');
      await visible(page.getByRole('button', { name: 'Log out' }));
      await context.close();
    } finally {
      await agent.stop();
    }
  }, 60_000);

  it('join: an unknown code says so clearly and changes nothing else', async () => {
    const { page } = ada;
    const before = await page.getByRole('navigation', { name: 'Your chats' }).textContent();
    await joinChat(page, 'ZZZZZ-ZZZZZ');
    await visible(page.getByText('No chat has the code “ZZZZZ-ZZZZZ”. Check it with the person who shared it.'));
    await screenshot(page, 'join-chat-error');
    expect(await page.getByRole('navigation', { name: 'Your chats' }).textContent()).toBe(before);
    await visible(page.getByLabel('Chat code', { exact: true }));
    // Not even code-shaped: what a code looks like, without asking the server.
    await page.getByLabel('Chat code', { exact: true }).fill('abc');
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await visible(page.getByText('“abc” is not a chat code: codes look like ABCDE-12345 (ten letters and digits).'));
  }, 30_000);

  it('switching chats shows each chat\'s own history, and a newcomer sees the history too', async () => {
    const { page } = ada;
    codes.alpha = await createChat(page, 'Alpha');
    await openCreatedChat(page, 'Alpha');
    await send(page, 'alpha one');
    await send(page, 'alpha two');
    await waitForMessageCount(page, 2);
    codes.beta = await createChat(page, 'Beta');
    await openCreatedChat(page, 'Beta');
    await send(page, 'beta one');
    await waitForMessageCount(page, 1);

    for (let round = 0; round < 2; round++) {
      await openChat(page, 'Alpha');
      await hasText(page.getByRole('log').locator('.message-text').first(), 'alpha one');
      expect((await shownMessages(page)).map((m) => m.text)).toEqual(['alpha one', 'alpha two']);
      await openChat(page, 'Beta');
      await hasText(page.getByRole('log').locator('.message-text').first(), 'beta one');
      expect((await shownMessages(page)).map((m) => m.text)).toEqual(['beta one']);
    }

    await joinChat(bob.page, codes.beta);
    await hasText(chatTitle(bob.page), 'Beta');
    expect((await waitForMessageCount(bob.page, 1)).map((m) => [m.sender, m.text])).toEqual([[ADA.name, 'beta one']]);
  }, 60_000);

  it('shows markup in a message as literal text and runs nothing', async () => {
    const hostile = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '<b>bold?</b> &amp; "quotes"', 'javascript:alert(3)'];
    for (const text of hostile) await send(bob.page, text);
    for (const { page } of [ada, bob]) {
      const shown = await waitForMessageCount(page, 1 + hostile.length);
      expect(shown.slice(1).map((m) => [m.sender, m.text])).toEqual(hostile.map((t) => [BOB.name, t]));
      const log = page.getByRole('log');
      expect(await log.locator('img, script, b, a').count()).toBe(0);
    }
    await ada.page.waitForTimeout(300);
    expect(ada.dialogs).toEqual([]);
    expect(bob.dialogs).toEqual([]);
    expect(await ada.page.evaluate(() => (window as unknown as { alerted?: boolean }).alerted)).toBeUndefined();
  }, 30_000);

  it('wraps long words instead of overflowing', async () => {
    const word = `super${'cali'.repeat(80)}docious`;
    await send(ada.page, word);
    await waitForMessageCount(ada.page, 6);
    const overflow = await ada.page.getByRole('log').evaluate((log) => ({
      log: log.scrollWidth - log.clientWidth,
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      text: [...log.querySelectorAll('.message-text')].map((t) => t.scrollWidth - t.clientWidth),
    }));
    expect(overflow.log).toBeLessThanOrEqual(0);
    expect(overflow.page).toBeLessThanOrEqual(0);
    for (const extra of overflow.text) expect(extra).toBeLessThanOrEqual(0);
  }, 30_000);

  it('Shift+Enter starts a new line; Enter sends; a text that shows nothing (spaces, zero-width characters) is not sent', async () => {
    const box = ada.page.getByLabel('Message', { exact: true });
    const sendButton = ada.page.getByRole('button', { name: 'Send', exact: true });
    for (const blank of ['   ', '\u200b', ' \u2060\u200b ']) {
      await box.fill(blank);
      expect(await sendButton.isDisabled(), JSON.stringify(blank)).toBe(true);
      await box.press('Enter');
      expect(await box.inputValue()).toBe(blank); // not sent, so not cleared
    }
    await box.fill('');
    await box.click();
    await box.pressSequentially('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    await box.press('Enter');
    const shown = await waitForMessageCount(ada.page, 7);
    expect(shown.at(-1)!.text).toBe('first line\nsecond line');
    expect(await box.inputValue()).toBe('');
  }, 30_000);

  it('a refused message shows as failed, with Edit and Discard but no Retry when a retry would fail the same way', async () => {
    const { page } = ada;
    // Under the size limit as UTF-8, so the box takes it, but escaped control characters make it
    // too large to send: refused by the client library with its reason.
    const unsendable = '\u0001'.repeat(11_000);
    await send(page, unsendable);
    const failed = page.locator('li.message-failed');
    await visible(failed);
    await visible(failed.getByText('Not sent'));
    await visible(failed.getByText(/frame|too large|at most/i));
    await visible(failed.getByText('(11,000 characters)'));
    await screenshot(page, 'send-failed');
    expect(await failed.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    // Edit puts the whole text back in the box, to change it, above what was typed meanwhile.
    await page.getByLabel('Message', { exact: true }).fill('typed meanwhile');
    await failed.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe(`${unsendable}\ntyped meanwhile`);
    await expect.poll(() => page.locator('li[data-pending]').count()).toBe(0);
    await page.getByLabel('Message', { exact: true }).fill('');
    await send(page, unsendable);
    await visible(page.locator('li.message-failed'));
    await page.locator('li.message-failed').getByRole('button', { name: 'Discard' }).click();
    await expect.poll(() => page.locator('li[data-pending]').count()).toBe(0);
    expect((await shownMessages(page)).length).toBe(7);
  }, 30_000);

  it('scrolling up loads older history without moving what is on screen; new messages do not yank the view', async () => {
    // Someone else has a chat with a long history; Ada joins it.
    const seeder = await signUp(server.httpUrl, 'Seeder');
    const archive = await http(server.httpUrl)('POST', '/api/chats', { token: seeder.token, json: { name: 'Archive' } });
    expect(archive.status).toBe(201);
    const sender = await connectedSender(server.httpUrl, seeder.token);
    for (let i = 1; i <= 130; i++) await sender.send(archive.body.code, `history ${i}`);

    const { page } = ada;
    await joinChat(page, archive.body.code);
    await hasText(chatTitle(page), 'Archive');
    const log = page.getByRole('log');
    await expect.poll(async () => (await shownMessages(page)).at(-1)?.text).toBe('history 130');
    const firstPage = await shownMessages(page);
    expect(firstPage.length).toBeLessThan(130);
    // Opened at the end.
    expect(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(2);

    // Scroll to the top: older pages arrive, and the message that was at the top stays put.
    for (let i = 0; i < 10 && (await shownMessages(page)).length < 130; i++) {
      const before = await log.evaluate((el) => {
        el.scrollTop = 0;
        const first = el.querySelector<HTMLElement>('li[data-seq]')!;
        return { seq: first.dataset.seq, top: first.getBoundingClientRect().top };
      });
      await expect.poll(async () => (await shownMessages(page))[0]!.seq).toBeLessThan(Number(before.seq));
      const after = await log.evaluate((el, seq) => el.querySelector<HTMLElement>(`li[data-seq="${seq}"]`)!.getBoundingClientRect().top, before.seq);
      expect(Math.abs(after - before.top)).toBeLessThan(2);
    }
    const all = await shownMessages(page);
    expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.length).toBe(130);
    await visible(page.getByText('This is the beginning of Archive.'));
    await log.evaluate((el) => (el.scrollTop = 0));
    await screenshot(page, 'history-start');

    // Reading old messages: a new one arrives, and the view stays where the reader is.
    const top = await log.evaluate((el) => {
      el.scrollTop = 200;
      return el.scrollTop;
    });
    await page.waitForTimeout(100);
    await sender.send(archive.body.code, 'a new one while Ada reads');
    await expect.poll(async () => (await shownMessages(page)).length).toBe(131);
    expect(await log.evaluate((el) => el.scrollTop)).toBe(top);
    await visible(page.getByRole('button', { name: 'New messages' }));
    await page.getByRole('button', { name: 'New messages' }).click();
    const below = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await expect.poll(below).toBeLessThan(2);

    // At the bottom, it stays there when the window narrows (the text rewraps, the list grows)
    // and when a failed message of Ada's is last and someone else writes below it.
    await page.setViewportSize({ width: 800, height: 600 });
    await expect.poll(below).toBeLessThan(2);
    await page.setViewportSize(DESKTOP);
    await expect.poll(below).toBeLessThan(2);
    await send(page, '\u0001'.repeat(11_000));
    await visible(page.locator('li.message-failed'));
    await expect.poll(below).toBeLessThan(2);
    await sender.send(archive.body.code, 'written below the failed one');
    await expect.poll(async () => (await shownMessages(page)).at(-1)?.text).toBe('written below the failed one');
    await expect.poll(below).toBeLessThan(2);
    await page.locator('li.message-failed').getByRole('button', { name: 'Discard' }).click();
    sender.close();
  }, 90_000);

  it('works at 375 px: one pane at a time, nothing wider than the screen', async () => {
    const phone = await openClient(browser, adaAgent, PHONE);
    const { page } = phone;
    await visible(page.getByRole('navigation', { name: 'Your chats' }));
    await screenshot(page, 'mobile-chats');
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await noOverflow()).toBe(true);
    await openChat(page, 'Beta');
    await waitForMessageCount(page, 7);
    expect(await noOverflow()).toBe(true);
    expect(await page.getByRole('navigation', { name: 'Your chats' }).isVisible()).toBe(false);
    await visible(page.getByLabel('Message', { exact: true }));
    await visible(page.getByRole('button', { name: 'Send' }));
    await screenshot(page, 'mobile-chat');
    await page.getByRole('button', { name: 'Chats' }).click();
    await visible(page.getByRole('navigation', { name: 'Your chats' }));
    await page.getByRole('button', { name: 'Join chat', exact: true }).click();
    await visible(page.getByLabel('Chat code', { exact: true }));
    expect(await noOverflow()).toBe(true);
    await phone.context.close();
    expect(phone.dialogs).toEqual([]);
  }, 60_000);

  it('works with the keyboard alone: reach Join chat, join by code, write, send', async () => {
    const { page } = bob;
    const keyboardCode = await (async () => {
      const created = await createChat(ada.page, 'Keyboard club');
      await openCreatedChat(ada.page, 'Keyboard club');
      return created;
    })();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent?.trim() === 'Join chat');
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    // The code field has the focus: type, Enter joins, and the message box has it next.
    await page.keyboard.type(keyboardCode);
    await page.keyboard.press('Enter');
    await hasText(chatTitle(page), 'Keyboard club');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('composer-input');
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');
    expect((await waitForMessageCount(ada.page, 1)).map((m) => [m.sender, m.text])).toEqual([[BOB.name, 'typed without a mouse']]);
    // Focus is visible where it lands.
    await page.keyboard.press('Shift+Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
  }, 60_000);

  it('logout forgets the session here and on the server, and survives a reload', async () => {
    const { page } = bob;
    const profileFile = join(bobAgent.profileDir, 'profile.json');
    const token = JSON.parse(readFileSync(profileFile, 'utf8')).token as string;
    expect(token).toBeTruthy();
    await logout(page);
    const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
    expect(profile.token).toBeUndefined();
    expect(profile.serverKey).toBeTruthy();
    expect((await http(server.httpUrl)('GET', '/api/me', { token })).status).toBe(401);
    await page.reload();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }));
    expect(await page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
    // And back in: the chats are still there.
    await login(page, BOB.email, BOB.password);
    await visible(page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Beta' }));
    await visible(page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'Keyboard club' }));
  }, 30_000);
});

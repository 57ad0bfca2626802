import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';
import type { ClientAgent } from './client-agents.js';
import { REPO } from './ui-build.js';

// Functions given to page.evaluate run in the browser. The project is type-checked without the
// DOM library (it is Node code), so the few browser globals they use are declared here.
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;
type HTMLElement = any;

/** Driving the web client the way a person does: by the labels on the screen. */

export const SCREENSHOTS = join(REPO, 'docs/screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** Every dialog (alert, confirm…) the page tried to show: there must be none. */
  dialogs: string[];
}

export const DESKTOP = { width: 1200, height: 780 };
export const PHONE = { width: 375, height: 740 };

/** A fresh browser context (its own storage) on a launch link of the agent. */
export async function openClient(browser: Browser, agent: ClientAgent, viewport = DESKTOP): Promise<UserPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'Europe/Madrid' });
  const page = await context.newPage();
  const url = await agent.launchLink();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(url);
  // The ticket left the address bar at once (and was swapped for the tab's own key).
  await page.waitForFunction(() => window.location.hash === '');
  return { context, page, dialogs };
}

export async function register(page: Page, user: { name: string; email: string; password: string }): Promise<void> {
  await page.getByRole('link', { name: 'Already have an account? Log in' }).or(page.getByRole('link', { name: "Don't have an account? Register" })).waitFor();
  if (await page.getByRole('link', { name: "Don't have an account? Register" }).isVisible()) {
    await page.getByRole('link', { name: "Don't have an account? Register" }).click();
  }
  await page.getByLabel('Name', { exact: true }).fill(user.name);
  await page.getByLabel('Email address', { exact: true }).fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByLabel('Confirm Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Log out' }));
}

export async function login(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email address', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Log out' }));
}

export async function logout(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await visible(page.getByRole('button', { name: 'Log in', exact: true }));
}

/** Creates a chat; returns the code the screen shows to share. */
export async function createChat(page: Page, name: string): Promise<string> {
  await page.getByRole('button', { name: 'Create chat', exact: true }).click();
  await page.getByLabel('Chat name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await visible(page.locator('.share-code'));
  const code = (await page.locator('.share-code').textContent())?.trim() ?? '';
  expect(code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  await visible(page.getByRole('button', { name: 'Copy', exact: true }));
  return code;
}

export async function openCreatedChat(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'Open chat', exact: true }).click();
  await hasText(chatTitle(page), name);
}

export async function joinChat(page: Page, code: string): Promise<void> {
  await page.getByRole('button', { name: 'Join chat', exact: true }).click();
  await page.getByLabel('Chat code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

/** Opens a chat from the sidebar. */
export async function openChat(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name }).click();
  await hasText(chatTitle(page), name);
}

export function chatTitle(page: Page) {
  return page.getByRole('heading', { level: 2 }).and(page.locator('#chat-title'));
}

/** Types a message and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

export interface ShownMessage {
  seq: number;
  sender: string;
  text: string;
}

/** The acknowledged messages the chat's log shows, in screen order. */
export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.getByRole('log').locator('li[data-seq]').evaluateAll((items) =>
    items.map((li) => ({
      seq: Number((li as HTMLElement).dataset.seq),
      sender: li.querySelector('.message-sender')?.textContent ?? '',
      text: li.querySelector('.message-text')?.textContent ?? '',
    })),
  );
}

export async function waitForMessageCount(page: Page, count: number, timeoutMs = 20_000): Promise<ShownMessage[]> {
  await expect.poll(async () => (await shownMessages(page)).length, { timeout: timeoutMs }).toBe(count);
  return shownMessages(page);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Let fonts and transitions settle so the picture is what a person sees.
  await page.evaluate(() => document.fonts.ready);
  await page.mouse.move(0, 0);
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Waits until the locator is visible. */
export function visible(locator: Locator, timeoutMs = 15_000): Promise<void> {
  return locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Waits until the locator's text is exactly `text`. */
export async function hasText(locator: Locator, text: string, timeoutMs = 15_000): Promise<void> {
  await expect.poll(async () => ((await locator.count()) > 0 ? (await locator.first().textContent())?.trim() : undefined), { timeout: timeoutMs }).toBe(text);
}

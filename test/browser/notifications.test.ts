import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OneUser, startOneUser } from './support/one-user.js';
import { register, visible } from './support/ui.js';

/**
 * What the sidebar says about browser notifications: a button while the browser has not been
 * asked, and a note when it blocks them for this site (asked and refused, or blocked before),
 * since the button can then do nothing and no notification will ever come.
 */

// Functions given to page.evaluate and addInitScript run in the browser; the project is type-checked without the DOM library.
declare const window: any;
declare const Notification: any;

const ADA = { name: 'Ada Lovelace', email: 'ada@notifications.test', password: 'analytical engine' };
const BLOCKED = "Notifications are blocked for this site in the browser's settings.";

type Permission = 'default' | 'denied' | 'granted';

/**
 * The page's Notification.permission starts as `initial`, and asking answers `answer` (and
 * sets it), as a browser does when the person clicks Allow or Block; a test may change it
 * later through window.notificationPermission, as the browser's settings would.
 */
async function fakePermission(context: BrowserContext, initial: Permission, answer: Permission): Promise<void> {
  await context.addInitScript(
    ({ initial, answer }) => {
      window.notificationPermission = initial;
      Object.defineProperty(Notification, 'permission', { configurable: true, get: () => window.notificationPermission });
      Notification.requestPermission = async () => (window.notificationPermission = answer);
    },
    { initial, answer },
  );
}

describe('notifications in the sidebar', () => {
  let world: OneUser;
  const contexts: BrowserContext[] = [];

  /** Another tab of the client, in a browser context of its own set up by `prepare`. */
  async function openTab(prepare: (context: BrowserContext) => Promise<void>): Promise<Page> {
    const context = await world.browser.newContext({ viewport: { width: 1200, height: 780 }, locale: 'en-GB' });
    contexts.push(context);
    await prepare(context);
    const page = await context.newPage();
    await page.goto(await world.agent.launchLink());
    await visible(page.getByRole('button', { name: 'Log out' }));
    return page;
  }

  const note = (page: Page) => page.getByRole('status').filter({ hasText: 'Notifications are blocked' });
  const enable = (page: Page) => page.getByRole('button', { name: 'Enable notifications' });

  beforeAll(async () => {
    world = await startOneUser();
    await register(world.user.page, ADA);
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await world?.close();
  });

  it('offers to enable them while the browser has not been asked; once refused, says they are blocked instead', async () => {
    const page = await openTab((context) => fakePermission(context, 'default', 'denied'));
    await visible(enable(page));
    expect(await note(page).count()).toBe(0);
    await enable(page).click();
    await visible(note(page));
    expect((await note(page).textContent())?.replace('’', "'")).toBe(BLOCKED);
    expect(await enable(page).count()).toBe(0);
  }, 60_000);

  it('says so at once when they were blocked before; Dismiss puts the note away for good; allowed later, it goes', async () => {
    const page = await openTab((context) => fakePermission(context, 'denied', 'denied'));
    await visible(note(page));
    expect(await enable(page).count()).toBe(0);

    // Allowed in the browser's settings, the note goes once the window is back.
    await page.evaluate(() => {
      window.notificationPermission = 'granted';
      window.dispatchEvent(new Event('focus'));
    });
    await note(page).waitFor({ state: 'detached' });
    await page.evaluate(() => {
      window.notificationPermission = 'denied';
      window.dispatchEvent(new Event('focus'));
    });
    await visible(note(page));

    await note(page).getByRole('button', { name: 'Dismiss' }).click();
    await note(page).waitFor({ state: 'detached' });
    await page.reload();
    await visible(page.getByRole('button', { name: 'Log out' }));
    await page.waitForTimeout(500);
    expect(await note(page).count()).toBe(0);
  }, 60_000);

  it('says nothing once they are allowed', async () => {
    const page = await openTab(async (context) => {
      await context.grantPermissions(['notifications'], { origin: world.agent.origin });
    });
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
    await page.waitForTimeout(500);
    expect(await enable(page).count()).toBe(0);
    expect(await note(page).count()).toBe(0);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OneUser, startOneUser } from './support/one-user.js';
import { createChat, hasText, openCreatedChat, register, visible } from './support/ui.js';

/**
 * What the open chat's header says about the chat as it is now: whether its messages arrive live
 * (not while the connection to the server is down).
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@chat-header.test', password: 'analytical engine' };

describe('the chat header', () => {
  let world: OneUser;

  beforeAll(async () => {
    world = await startOneUser();
    await register(world.user.page, ADA);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('says Offline, not Live, while the connection to the server is down', async () => {
    const { page } = world.user;
    await createChat(page, 'Header news');
    await openCreatedChat(page, 'Header news');
    const indicator = page.locator('header details.delivery summary');
    await expect.poll(async () => (await indicator.count()) > 0 && (await indicator.textContent())?.trim(), { timeout: 20_000 }).toMatch(/^Live/);

    await world.server.close();
    await visible(page.getByRole('status').filter({ hasText: /Connection to the server lost|Connecting to the server/ }), 20_000);
    await hasText(indicator, 'Offline', 10_000);
    expect(await page.locator('header details.delivery').getAttribute('data-delivery')).toBe('offline');
  }, 60_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, chorus, registerProfile } from '../support/cli.js';
import { type OneUser, startOneUser } from './support/one-user.js';
import { createChat, hasText, openCreatedChat, register, visible } from './support/ui.js';

/**
 * What the open chat's header says about the chat as it is now: how many members it has (someone
 * may join without a word: a membership event says so) and whether its messages arrive live (not
 * while the connection to the server is down).
 */

// Functions given to page.evaluate run in the browser; the project is type-checked without the DOM library.
declare const document: any;

const ADA = { name: 'Ada Lovelace', email: 'ada@chat-header.test', password: 'analytical engine' };

describe('the chat header', () => {
  let world: OneUser;
  let scratch: string;
  const bob = () => join(scratch, 'bob');
  const memberCount = () => world.user.page.locator('.chat-meta > span').first();
  const membersPanel = () => world.user.page.getByRole('complementary', { name: /Members/ });

  beforeAll(async () => {
    world = await startOneUser();
    scratch = mkdtempSync(join(tmpdir(), 'chorus-chat-header-'));
    await Promise.all([register(world.user.page, ADA), registerProfile(bob(), world.server.httpUrl, 'Bob')]);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('counts a member who joined while the chat was open, without a word from them, in the header and the open Members panel', async () => {
    const { page } = world.user;
    const code = await createChat(page, 'Who is here');
    await openCreatedChat(page, 'Who is here');
    const membersButton = page.getByRole('button', { name: 'Members', exact: true });
    await membersButton.click();
    await hasText(membersPanel().getByRole('heading'), 'Members (1)');
    await hasText(memberCount(), '1 member');

    const joined = await chorus(as(bob(), 'join', code));
    expect(joined.code, joined.stderr).toBe(0);
    await hasText(memberCount(), '2 members', 10_000);
    await hasText(membersPanel().getByRole('heading'), 'Members (2)', 10_000);
    await visible(membersPanel().getByRole('listitem').filter({ hasText: 'Bob' }));

    // And one who leaves.
    expect((await chorus(as(bob(), 'leave', code))).code).toBe(0);
    await hasText(memberCount(), '1 member', 10_000);
    await hasText(membersPanel().getByRole('heading'), 'Members (1)', 10_000);
    await membersPanel().getByRole('button', { name: 'Close' }).click();
  }, 60_000);

  it('opens the Members panel with the focus in it, Escape closes it back to the button; on a phone, Leave asks on a row of its own, Escape cancels', async () => {
    const { page } = world.user;
    await createChat(page, 'Keys and narrow screens');
    await openCreatedChat(page, 'Keys and narrow screens');
    const membersButton = page.getByRole('button', { name: 'Members', exact: true });
    await membersButton.click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('aside')?.id)).toBe('members-panel');
    await page.keyboard.press('Escape');
    await expect.poll(() => membersPanel().count()).toBe(0);
    await expect.poll(() => membersButton.evaluate((button) => button === document.activeElement)).toBe(true);

    await page.setViewportSize({ width: 420, height: 800 });
    try {
      await page.getByRole('button', { name: 'Leave', exact: true }).click();
      const question = page.getByRole('group', { name: 'Leave this chat?' });
      await visible(question);
      const title = await page.locator('#chat-title').boundingBox();
      expect(title!.width).toBeGreaterThan(100); // the name is not squeezed out
      for (const name of ['Leave chat', 'Cancel']) {
        const box = (await question.getByRole('button', { name }).boundingBox())!;
        expect(box.x + box.width, name).toBeLessThanOrEqual(420);
      }
      await page.keyboard.press('Escape');
      await expect.poll(() => question.count()).toBe(0);
      await visible(page.getByRole('button', { name: 'Leave', exact: true }));
    } finally {
      await page.setViewportSize({ width: 1200, height: 780 });
    }
  }, 60_000);

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

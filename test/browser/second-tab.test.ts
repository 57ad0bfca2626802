import { createServer } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { type UserPage, hasText, launchBrowser, logout, openClient, register, visible } from './support/ui.js';

/**
 * A second tab opened on the client's bare address (or on a link used already) is not admitted,
 * and the agent tells it nothing. It still names whose client the address is when another tab
 * of the same browser is admitted and can tell it, and gives the exact command for a new
 * address; a tab in another browser (profile) learns no name.
 */

// Functions given to page.evaluate run in the browser; the project is type-checked without the DOM library.
declare const BroadcastChannel: any;

const ADA = { name: 'Ada Lovelace', email: 'ada@second-tab.test', password: 'analytical engine' };

describe('a second tab on the same client', () => {
  let server: TestServer;
  let browser: Browser;
  let agent: ClientAgent;
  let first: UserPage;

  const heading = (page: Page) => page.getByRole('heading', { level: 1 });
  const whose = (page: Page) => page.locator('.splash-whose');

  /** A new tab of the first tab's browser (its context), on `url`. */
  async function secondTab(url: string): Promise<Page> {
    const page = await first.context.newPage();
    await page.goto(url);
    await visible(heading(page));
    return page;
  }

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [browser, agent] = await Promise.all([launchBrowser(), startClientAgent(server.httpUrl)]);
    first = await openClient(browser, agent);
    await register(first.page, ADA);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
  });

  it('names the account, the server and the command for a new address, as a tab of the same browser tells it', async () => {
    const page = await secondTab(`${agent.origin}/`);
    await hasText(heading(page), 'This tab is not connected to your Chorus client');
    await hasText(
      whose(page),
      `This address, 127.0.0.1:${agent.port}, is the Chorus client of Ada Lovelace (ada@second-tab.test) on ${server.httpUrl}, open in another tab of this browser.`,
    );
    // The exact command that started this client (its --profile too), to run again for a new address.
    await hasText(page.locator('main code'), `chorus --profile ${agent.profileDir} client --server ${server.httpUrl}`);
    expect(await page.locator('main').textContent()).toContain('For a new address for this tab, run this again; the running client prints one and opens it:');

    await page.close();
  }, 60_000);

  it('names it on a link used already too', async () => {
    const link = await agent.launchLink();
    const admitted = await first.context.newPage();
    await admitted.goto(link);
    await visible(admitted.getByRole('button', { name: 'Log out' }));
    const page = await secondTab(link);
    await hasText(heading(page), 'This link has already been used');
    await expect.poll(() => whose(page).textContent()).toContain('is the Chorus client of Ada Lovelace (ada@second-tab.test)');
    await Promise.all([page.close(), admitted.close()]);
  }, 60_000);

  it('names no one to a tab of another browser, where no tab of the client is open', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${agent.origin}/`);
      await hasText(heading(page), 'This tab is not connected to your Chorus client');
      await page.waitForTimeout(500);
      expect(await whose(page).textContent()).toBe(`This address, 127.0.0.1:${agent.port}, is a Chorus client's; the terminal where it runs prints this address and its profile.`);
      expect(await page.locator('main').textContent()).not.toContain('Ada');
      expect(await page.locator('main').textContent()).toContain('For a new address, run chorus client again');
    } finally {
      await context.close();
    }
  }, 60_000);

  it('follows what the admitted tab shows: logged out there, it says nobody is logged in', async () => {
    const page = await secondTab(`${agent.origin}/`);
    await expect.poll(() => whose(page).textContent()).toContain('Ada Lovelace');
    await logout(first.page);
    await hasText(whose(page), `This address, 127.0.0.1:${agent.port}, is a Chorus client on ${server.httpUrl}, with nobody logged in, open in another tab of this browser.`);
  }, 60_000);

  it('tells nothing while the agent is stopped: a page someone else serves on its port hears no answer', async () => {
    await agent.stop();
    await visible(first.page.getByRole('heading', { name: 'Waiting for the Chorus client…' }), 20_000);
    const squatter = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Not Chorus</title>'));
    await new Promise<void>((resolve) => squatter.listen(agent.port, '127.0.0.1', resolve));
    try {
      const page = await first.context.newPage();
      await page.goto(`${agent.origin}/`);
      const heard = await page.evaluate(
        () =>
          new Promise((resolve) => {
            const channel = new BroadcastChannel('chorus-client-identity');
            const messages: unknown[] = [];
            channel.onmessage = (event: { data: unknown }) => messages.push(event.data);
            channel.postMessage({ type: 'who' });
            setTimeout(() => resolve(messages), 1500);
          }),
      );
      expect(heard).toEqual([]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 60_000);
});

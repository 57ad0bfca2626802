import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import { type TestServer, startTestServer } from '../../support/server.js';
import { type ClientAgent, startClientAgent } from './client-agents.js';
import { ensureUiBuilt } from './ui-build.js';
import { type UserPage, launchBrowser, openClient } from './ui.js';

/** A server, a browser, and one person's client open in it: what most browser test files start with. */
export interface OneUser {
  server: TestServer;
  browser: Browser;
  agent: ClientAgent;
  user: UserPage;
  /** Checks the page showed no dialog, then stops everything. */
  close(): Promise<void>;
}

export async function startOneUser(): Promise<OneUser> {
  await ensureUiBuilt();
  const server = await startTestServer();
  const [browser, agent] = await Promise.all([launchBrowser(), startClientAgent(server.httpUrl)]);
  const user = await openClient(browser, agent);
  return {
    server,
    browser,
    agent,
    user,
    async close() {
      expect(user.dialogs).toEqual([]);
      await browser.close();
      await agent.stop();
      await server.dispose();
    },
  };
}

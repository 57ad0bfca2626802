import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import type { ClientAgent } from './support/client-agents.js';
import { type OneUser, startOneUser } from './support/one-user.js';
import { type UserPage, chatTitle, createChat, hasText, login, logout, openChat, openCreatedChat, register, visible } from './support/ui.js';

/**
 * The address names the open chat: reload, back and forward keep the person where they were, and
 * the next login comes back to the chat that was open last.
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@address.test', password: 'analytical engine' };

describe('the open chat in the address', () => {
  let server: TestServer;
  let world: OneUser;
  let agent: ClientAgent;
  let ada: UserPage;
  const codes: Record<string, string> = {};
  const chatParam = () => new URL(ada.page.url()).searchParams.get('chat');

  beforeAll(async () => {
    world = await startOneUser();
    ({ server, agent, user: ada } = world);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('names the chat, so that a reload opens it again', async () => {
    await register(ada.page, ADA);
    codes.alpha = await createChat(ada.page, 'Alpha');
    await openCreatedChat(ada.page, 'Alpha');
    codes.beta = await createChat(ada.page, 'Beta');
    await openCreatedChat(ada.page, 'Beta');
    await expect.poll(chatParam).toBe(codes.beta);

    await ada.page.reload();
    await hasText(chatTitle(ada.page), 'Beta');
    expect(chatParam()).toBe(codes.beta);
  }, 60_000);

  it('goes back and forward between chats', async () => {
    await openChat(ada.page, 'Alpha');
    await expect.poll(chatParam).toBe(codes.alpha);
    await ada.page.goBack();
    await hasText(chatTitle(ada.page), 'Beta');
    await ada.page.goForward();
    await hasText(chatTitle(ada.page), 'Alpha');
  }, 30_000);

  it('comes back to the last open chat after logging out and in', async () => {
    await openChat(ada.page, 'Beta');
    await logout(ada.page);
    await login(ada.page, ADA.email, ADA.password);
    await hasText(chatTitle(ada.page), 'Beta');
    await visible(ada.page.getByRole('log'));

    // A new tab from a fresh launch link names no chat: the profile remembers the last one.
    await openChat(ada.page, 'Alpha');
    await expect.poll(chatParam).toBe(codes.alpha);
    const tab = await ada.context.newPage();
    await tab.goto(await agent.launchLink());
    await hasText(chatTitle(tab), 'Alpha');
    expect(new URL(tab.url()).searchParams.get('chat')).toBe(codes.alpha);
    await tab.close();
  }, 30_000);
});

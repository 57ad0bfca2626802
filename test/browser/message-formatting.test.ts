import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sender } from '../../src/client/sender.js';
import { MAX_TEXT_BYTES } from '../../src/protocol/limits.js';
import { connectedSender } from '../support/messaging.js';
import { type TestServer, http, signUp } from '../support/server.js';
import type { ClientAgent } from './support/client-agents.js';
import { type OneUser, startOneUser } from './support/one-user.js';
import { type UserPage, createChat, openCreatedChat, register, screenshot, visible, waitForMessageCount } from './support/ui.js';

// Functions given to page.evaluate run in the browser; the project is type-checked without the DOM library.
declare const getComputedStyle: any;

/**
 * How the web client shows what people write: links, inline code and code blocks, right-to-left
 * text laid out right to left, never markup; the time of a grouped message on hover; and a
 * draft's size as it nears the limit, with sending refused past it.
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@format.test', password: 'analytical engine' };

describe('message formatting in the web client', () => {
  let server: TestServer;
  let world: OneUser;
  let agent: ClientAgent;
  let ada: UserPage;
  let grace: Sender;
  let graceId = 0;
  let code = '';

  beforeAll(async () => {
    world = await startOneUser();
    ({ server, agent, user: ada } = world);
  }, 120_000);

  afterAll(async () => {
    grace?.close();
    await world?.close();
  });

  it('renders http(s) links, inline code and fenced code blocks; other schemes and markup stay text', async () => {
    await register(ada.page, ADA);
    code = await createChat(ada.page, 'Formatting');
    await openCreatedChat(ada.page, 'Formatting');
    const { token, user } = await signUp(server.httpUrl, 'Grace');
    graceId = user.id;
    expect((await http(server.httpUrl)('POST', `/api/chats/${code}/members`, { token })).status).toBeLessThan(300);
    grace = await connectedSender(server.httpUrl, token);

    const texts = [
      'The notes are at https://example.test/notes?id=7, see you there.',
      'Run `npm ci` first, then:\n```sh\nnpm start\n  --no-open\n```\ndone',
      'Not links: javascript:alert(1) data:text/html,<b>x</b> <a href="https://evil.test">a</a>',
      'שלום לכולם, מה שלומכם היום?',
    ];
    for (const text of texts) await grace.send(code, text);
    const shown = await waitForMessageCount(ada.page, texts.length);
    const log = ada.page.getByRole('log');

    // A link always shows its own address: the URL inside the typed <a> tag is linked as itself.
    const links = await log.locator('.message-text a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent, a.rel, a.target]));
    expect(links).toEqual([
      ['https://example.test/notes?id=7', 'https://example.test/notes?id=7', 'noopener noreferrer', '_blank'],
      ['https://evil.test/', 'https://evil.test', 'noopener noreferrer', '_blank'],
    ]);

    expect(await log.locator('code.message-code').allTextContents()).toEqual(['npm ci']);
    const block = log.locator('pre.message-code-block');
    expect(await block.textContent()).toBe('npm start\n  --no-open');
    expect(await block.evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono/i);

    // The hostile one is shown exactly as written, and nothing in it became an element.
    expect(shown[2]!.text).toBe(texts[2]);
    expect(await log.locator('b, img, script, a[href^="javascript"], a[href^="data"]').count()).toBe(0);

    // Each message's direction follows its own text.
    const rtl = log.locator('li[data-seq]').nth(3).locator('.message-text');
    expect(await rtl.getAttribute('dir')).toBe('auto');
    expect(await rtl.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
    const ltr = log.locator('li[data-seq]').nth(0).locator('.message-text');
    expect(await ltr.evaluate((el) => getComputedStyle(el).direction)).toBe('ltr');
    await screenshot(ada.page, 'formatted-messages');
  }, 60_000);

  /** A new account joins the chat and says `text` there; the account. */
  async function newcomerSays(name: string, email: string, text: string) {
    const newcomer = await signUp(server.httpUrl, name, email);
    expect((await http(server.httpUrl)('POST', `/api/chats/${code}/members`, { token: newcomer.token })).status).toBeLessThan(300);
    const sender = await connectedSender(server.httpUrl, newcomer.token);
    await sender.send(code, text);
    sender.close();
    return newcomer;
  }

  it('tells apart senders whose names look alike, by their account number', async () => {
    // "Grасe" with a Cyrillic а and с: it would pass for Grace.
    const impostor = await newcomerSays('Gr\u0430\u0441e', 'impostor@format.test', 'I am Grace, trust me');
    const shown = await waitForMessageCount(ada.page, 5);
    expect(shown[4]!.sender).toBe(`Gr\u0430\u0441e #${impostor.user.id}`);
    // Every message of the real Grace now carries her number too, not only the later ones.
    expect(shown.slice(0, 4).map((m) => m.sender)).toEqual(Array(4).fill(`Grace #${graceId}`));
  }, 30_000);

  it('numbers a newcomer named like a member who has not spoken in view, from their first message', async () => {
    // Ada created the chat and has said nothing in it; "Аda Lovelace" (a Cyrillic А) joins and speaks.
    const twin = await newcomerSays('\u0410da Lovelace', 'twin@format.test', 'It is me, Ada');
    const shown = await waitForMessageCount(ada.page, 6);
    expect(shown[5]!.sender).toBe(`\u0410da Lovelace #${twin.user.id}`);
  }, 30_000);

  it('shows the time of a grouped message on hover', async () => {
    // The messages above are all Grace's, within minutes: the second is grouped under the first.
    const second = ada.page.getByRole('log').locator('li[data-seq]').nth(1);
    expect(await second.getAttribute('class')).toContain('message-continued');
    const time = second.locator('.message-gutter-time');
    expect(await time.isVisible()).toBe(false);
    await second.hover();
    await visible(time);
    expect(await time.textContent()).toMatch(/^\d{1,2}:\d\d/);
  }, 30_000);

  it('shows a draft\'s size near the limit and refuses to send past it', async () => {
    const box = ada.page.getByLabel('Message', { exact: true });
    const sendButton = ada.page.getByRole('button', { name: 'Send' });
    await box.fill('a'.repeat(MAX_TEXT_BYTES - 100));
    await visible(ada.page.getByText(/^15\.9 of 16 KiB$/));
    expect(await sendButton.isEnabled()).toBe(true);

    // Two bytes a character: a little over the limit.
    await box.fill('é'.repeat(MAX_TEXT_BYTES / 2 + 10));
    await visible(ada.page.getByText(/^Too long to send: .* Shorten it by 20 bytes\.$/));
    expect(await sendButton.isEnabled()).toBe(false);
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    await box.press('Enter');
    await ada.page.waitForTimeout(300);
    // Nothing was sent or queued: the draft is still in the box, no pending message shows.
    expect(await ada.page.getByRole('log').locator('[data-pending]').count()).toBe(0);
    expect((await box.inputValue()).length).toBe(MAX_TEXT_BYTES / 2 + 10);
    await screenshot(ada.page, 'size-warning');

    await box.fill('short again');
    expect(await ada.page.getByText(/KiB/).count()).toBe(0);
    expect(await sendButton.isEnabled()).toBe(true);
  }, 30_000);
});

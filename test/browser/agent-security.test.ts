import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMISSION_LINK_USED, ADMISSION_REFUSED, ADMISSION_TIMEOUT } from '../../src/agent/ui-protocol.js';
import { as, chorus } from '../support/cli.js';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { createChat, launchBrowser, login, openChat, openClient, openCreatedChat, register, send, visible, waitForMessageCount } from './support/ui.js';
import { type Refusal, type TabKey, connectUi, enrolledTab, newTabKey, ticketOf } from './support/ui-socket.js';

/**
 * Only the user's own browser tabs may drive `chorus client`: not another local program, not
 * another web page the user happens to have open (even one served by another local user on
 * another 127.0.0.1 port, which receives whatever the browser sends to 127.0.0.1), and not a
 * page reached through a hostile DNS name (rebinding). And the UI never holds the session token.
 */

// Functions given to page.evaluate run in the browser; the project is type-checked without the DOM library.
declare const Image: any;
declare const navigator: any;
declare const sessionStorage: any;
declare const document: any;
declare const getComputedStyle: any;

/** A raw GET with any Host header (fetch will not send a forged one). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function refusal(attempt: Promise<unknown>): Promise<Refusal> {
  try {
    await attempt;
  } catch (error) {
    return error as Refusal;
  }
  throw new Error('the agent admitted it');
}

describe('the local agent lets in only its own browser tabs', () => {
  let server: TestServer;
  let agent: ClientAgent;
  let origin: string;
  let tab: TabKey;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    agent = await startClientAgent(server.httpUrl);
    origin = agent.origin;
    const enrolled = await enrolledTab(agent);
    tab = enrolled.key;
    (await connectUi(agent, { origin }, enrolled.answer)).close();
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.dispose();
  });

  it('prints a launch link whose ticket is in the fragment, which browsers never send', () => {
    expect(agent.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]{32}$/);
    expect(new URL(agent.url).search).toBe('');
  });

  it('serves its public files to anyone, with its security headers, and sets no cookie', async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('set-cookie')).toBeNull();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    // The launch link itself, as an HTTP client sends it (without the fragment), is the same public page.
    expect((await fetch(agent.url)).headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${origin}/ws`)).status).toBe(426);
  });

  it('refuses a Host header that is not the agent itself (DNS rebinding)', async () => {
    expect((await rawGet(agent.port, '/', { host: `127.0.0.1:${agent.port}` })).status).toBe(200);
    expect((await rawGet(agent.port, '/', { host: `localhost:${agent.port}` })).status).toBe(200);
    for (const host of [`evil.example:${agent.port}`, 'evil.example', `127.0.0.1:${agent.port + 1}`, '127.0.0.1', `127.0.0.1.nip.io:${agent.port}`]) {
      const response = await rawGet(agent.port, '/', { host });
      expect(response.status, host).toBe(403);
      expect(response.body).not.toContain('<script');
    }
  });

  it("accepts the WebSocket only from the agent's own Origin", async () => {
    (await connectUi(agent, { origin }, { prove: tab })).close();
    (await connectUi(agent, { origin: `http://localhost:${agent.port}` }, { prove: tab })).close();
    const refusals: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: `http://127.0.0.1:${agent.port + 1}` }, // another local page: same site, other origin
      { origin: 'null' },
      {}, // no Origin at all
      { origin, host: `evil.example:${agent.port}` },
    ];
    for (const headers of refusals) {
      expect((await refusal(connectUi(agent, headers, { prove: tab }))).status, JSON.stringify(headers)).toBe(403);
    }
  });

  it('refuses a WebSocket without a tab key, and says nothing on it before', async () => {
    const stranger = newTabKey();
    const attempts = [
      { answer: { prove: stranger }, code: ADMISSION_REFUSED },
      { answer: { raw: () => ({ type: 'login', id: 1, email: 'a@example.test', password: 'whatever it is' }) }, code: ADMISSION_REFUSED },
      { answer: { raw: () => ({ type: 'chats', id: 1 }) }, code: ADMISSION_REFUSED },
      // The tab's own key, but signed for a page on another port (a relay through a port squatter).
      { answer: { prove: tab, signedOrigin: `http://127.0.0.1:${agent.port + 1}` }, code: ADMISSION_REFUSED },
      { answer: { enrol: stranger, ticket: 'A'.repeat(32) }, code: ADMISSION_LINK_USED },
      { answer: 'nothing' as const, code: ADMISSION_TIMEOUT },
    ];
    for (const { answer, code } of attempts) {
      const refused = await refusal(connectUi(agent, { origin }, answer));
      expect(refused.closeCode, JSON.stringify(answer)).toBe(code);
      // Only the challenge was said: no session, no chat list.
      expect(refused.frames!.map((f) => f.type)).toEqual(['challenge']);
    }
  });

  it('admits one tab per launch link, once; that tab comes back with its key, as often as it likes', async () => {
    const link = await agent.launchLink();
    const first = newTabKey();
    (await connectUi(agent, { origin }, { enrol: first, ticket: ticketOf(link) })).close();
    // The same link in another browser profile: refused.
    const second = newTabKey();
    expect((await refusal(connectUi(agent, { origin }, { enrol: second, ticket: ticketOf(link) }))).closeCode).toBe(ADMISSION_LINK_USED);
    expect((await refusal(connectUi(agent, { origin }, { prove: second }))).closeCode).toBe(ADMISSION_REFUSED);
    for (let i = 0; i < 3; i++) (await connectUi(agent, { origin }, { prove: first })).close();
  });

  it('never gives the UI the session token or a chat key', async () => {
    const ui = await connectUi(agent, { origin }, { prove: tab });
    const registered = await ui.request('register', { name: 'Token Keeper', email: 'keeper@example.test', password: 'a long enough password' });
    expect(registered).toMatchObject({ ok: true, result: { user: { name: 'Token Keeper' } } });
    const created = await ui.request('create', { name: 'Vault' });
    expect(created.ok).toBe(true);
    await ui.request('open', { code: created.result.chat.code });
    const profile = JSON.parse(readFileSync(join(agent.profileDir, 'profile.json'), 'utf8'));
    expect(profile.token).toMatch(/.{16,}/);
    expect(profile.serverKey).toMatch(/.{16,}/);
    const everything = ui.raw.join('\n');
    expect(everything).not.toContain(profile.token);
    expect(everything).not.toContain('"key"');
    // Nor where the chat is multicast: the delivery path ("multicast" or "server") may be told, the group, port and stream may not.
    expect(everything).not.toMatch(/"multicast"\s*:\s*\{/);
    expect(everything).not.toContain('"streamId"');
    expect(everything).not.toContain('"group"');
    expect(everything).not.toMatch(/239\.255\./);
    ui.close();
  });
});

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

describe("another local user's page in the same browser", () => {
  let server: TestServer;
  let agent: ClientAgent;
  let browser: Browser;
  let evil: Server;
  const captured: Captured[] = [];

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [agent, browser] = await Promise.all([startClientAgent(server.httpUrl), launchBrowser()]);
    // Another local user's server on another loopback port: the same *site* as the agent (ports
    // do not count for cookies or SameSite), so the victim's browser sends it whatever it sends
    // to 127.0.0.1. It records every request, cookies included, and its page makes the browser
    // send it more (images, beacons, fetches with credentials) and tries the agent directly.
    evil = createServer((req, res) => {
      captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>evil</title><p>nothing to see</p>');
      } else {
        res.writeHead(204, { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-credentials': 'true' });
        res.end();
      }
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
    await new Promise((resolve) => evil?.close(resolve));
  });

  it('obtains nothing that opens the WebSocket: neither in the browser nor with what the browser sent it', async () => {
    const user = await openClient(browser, agent);
    await register(user.page, { name: 'Victim', email: 'victim@example.test', password: 'victim password 1' });
    const evilPort = (evil.address() as AddressInfo).port;
    const evilPage = await user.context.newPage();
    await evilPage.goto(`http://127.0.0.1:${evilPort}/`);
    const outcome = await evilPage.evaluate(
      async ({ agentPort, evilPort }) => {
        // Everything the browser would carry to 127.0.0.1, sent to the attacker's own port.
        new Image().src = `http://127.0.0.1:${evilPort}/pixel.gif`;
        navigator.sendBeacon(`http://127.0.0.1:${evilPort}/beacon`, 'x');
        await fetch(`http://127.0.0.1:${evilPort}/fetch`, { credentials: 'include' }).catch(() => {});
        const socket = await new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${agentPort}/ws`);
          ws.onmessage = (e) => resolve(`message: ${String(e.data)}`);
          ws.onerror = () => resolve('error');
          ws.onclose = () => resolve('closed');
          setTimeout(() => resolve('timeout'), 5000);
        });
        let page: string;
        try {
          const response = await fetch(`http://127.0.0.1:${agentPort}/`, { credentials: 'include' });
          page = `read ${response.status}: ${(await response.text()).slice(0, 40)}`;
        } catch {
          page = 'blocked';
        }
        return { socket, page };
      },
      { agentPort: agent.port, evilPort },
    );
    expect(outcome.socket).not.toMatch(/^message/);
    expect(outcome.page).toBe('blocked');
    await expect.poll(() => captured.filter((c) => c.url !== '/').length).toBeGreaterThanOrEqual(3);

    // The agent set no cookie, and the browser sent the attacker nothing of the agent's.
    expect(await user.context.cookies()).toEqual([]);
    const tabKey = await user.page.evaluate(() => sessionStorage.getItem('chorus-agent-tab-key'));
    expect(tabKey).toMatch(/"d":/);
    const everything = JSON.stringify(captured);
    expect(everything).not.toContain(ticketOf(agent.url));
    expect(everything).not.toContain(JSON.parse(tabKey!).d);

    // The attacker replays whatever was captured, with the agent's own Origin: every header
    // the browser sent, and every value in them offered as a ticket.
    const values = captured.flatMap((c) => [c.url, ...Object.values(c.headers).flat()]).filter((v): v is string => typeof v === 'string');
    for (const c of captured) {
      const headers = Object.fromEntries(Object.entries(c.headers).filter(([name]) => !['host', 'connection', 'upgrade', 'content-length', 'sec-websocket-key', 'sec-websocket-version'].includes(name))) as Record<string, string>;
      const refused = await refusal(connectUi(agent, { ...headers, origin: agent.origin }, { raw: () => ({ type: 'chats', id: 1 }) }));
      expect(refused.closeCode).toBe(ADMISSION_REFUSED);
      expect(refused.frames!.map((f) => f.type)).toEqual(['challenge']);
    }
    for (const value of new Set(values)) {
      const refused = await refusal(connectUi(agent, { origin: agent.origin }, { enrol: newTabKey(), ticket: value }));
      expect(refused.closeCode).not.toBeUndefined();
    }
    // The user's own tab is unaffected.
    await visible(user.page.getByRole('button', { name: 'Log out' }));
    await user.context.close();
  }, 120_000);
});

describe('the pinned server key', () => {
  let server: TestServer;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
  });

  it('is stored at the first login and a different one is refused afterwards', async () => {
    const profileDir = mkdtempSync(join(tmpdir(), 'chorus-pinned-'));
    const first = await startClientAgent(server.httpUrl, { profileDir });
    const { answer } = await enrolledTab(first);
    const ui = await connectUi(first, { origin: first.origin }, answer);
    expect((await ui.request('register', { name: 'Pinned', email: 'pinned@example.test', password: 'pinned password 1' })).ok).toBe(true);
    ui.close();
    const profileFile = join(first.profileDir, 'profile.json');
    const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
    const realKey = ((await (await fetch(`${server.httpUrl}/api/server-key`)).json()) as { publicKey: string }).publicKey;
    expect(profile.serverKey).toBe(realKey);
    await first.stop();

    // Same profile, but it trusted another key: the saved session is not resumed, and a new
    // login is refused with a clear reason.
    const otherKey = Buffer.alloc(32, 7).toString('base64');
    writeFileSync(profileFile, JSON.stringify({ ...profile, serverKey: otherKey }));
    const second = await startClientAgent(server.httpUrl, { profileDir });
    try {
      const ui2 = await connectUi(second, { origin: second.origin }, (await enrolledTab(second)).answer);
      const session = await ui2.next((p) => p.type === 'session' && p.user === null && p.notice !== undefined);
      expect(session).toMatchObject({ type: 'session', user: null });
      expect((session as { notice: string }).notice).toMatch(/different identity key/);
      const login = await ui2.request('login', { email: 'pinned@example.test', password: 'pinned password 1' });
      expect(login).toMatchObject({ ok: false, error: { code: 'SERVER_KEY_CHANGED' } });
      expect(JSON.parse(readFileSync(profileFile, 'utf8')).serverKey).toBe(otherKey);
      ui2.close();
    } finally {
      await second.stop();
      rmSync(profileDir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Screenshots of these steps go to a temporary folder: they replace none of the README's. */
const SHOTS = join(tmpdir(), 'chorus-agent-security-shots');

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** The page's stylesheet is applied (a restart used to leave a reloaded page unstyled). */
async function styled(page: Page): Promise<boolean> {
  return page.evaluate(() => getComputedStyle(document.body).margin === '0px' && document.styleSheets.length > 0);
}

describe('a restart of the local client', () => {
  let server: TestServer;
  let browser: Browser;
  const agents: ClientAgent[] = [];
  let profileDir: string;

  beforeAll(async () => {
    await ensureUiBuilt();
    profileDir = mkdtempSync(join(tmpdir(), 'chorus-restart-'));
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const agent of agents) await agent.stop();
    await server?.dispose();
    rmSync(profileDir, { recursive: true, force: true });
  });

  it('keeps its address, and an open tab reconnects by itself, styled and still logged in; a reload works too', async () => {
    // Started as `npx chorus client` inside the clone: the tab says so when it waits for it.
    const first = await startClientAgent(server.httpUrl, { profileDir, env: { npm_command: 'exec' } });
    agents.push(first);
    const user = await openClient(browser, first);
    const { page } = user;
    await register(page, { name: 'Restarter', email: 'restarter@example.test', password: 'restart password 1' });
    await createChat(page, 'Restart room');
    await openCreatedChat(page, 'Restart room');
    await send(page, 'before the restart');
    await waitForMessageCount(page, 1);
    await shot(page, '1-before-restart');

    await first.stop();
    await visible(page.getByRole('heading', { name: 'Waiting for the Chorus client…' }));
    // With the profile and the server it was given: a bare `npx chorus client` would start another
    // login's client, or one for the default server.
    await visible(page.getByText(`npx chorus --profile ${profileDir} client --server ${server.httpUrl}`, { exact: true }));
    expect(await styled(page)).toBe(true);
    await shot(page, '2-client-stopped');

    const second = await startClientAgent(server.httpUrl, { profileDir });
    agents.push(second);
    expect(second.port).toBe(first.port);
    await visible(page.getByRole('button', { name: 'Log out' }), 30_000);
    await openChat(page, 'Restart room');
    await send(page, 'after the restart');
    await waitForMessageCount(page, 2);
    expect(await styled(page)).toBe(true);
    await shot(page, '3-after-restart');

    await page.reload();
    await visible(page.getByRole('button', { name: 'Log out' }));
    expect(await styled(page)).toBe(true);
    expect(user.dialogs).toEqual([]);
    await user.context.close();
  }, 120_000);

  it('gives a new link when `chorus client` runs again; the printed one opens nothing in another browser', async () => {
    const agent = agents[agents.length - 1]!;
    // The first link of this run, in one browser profile…
    const printed = await agent.launchLink();
    const owner = await browser.newContext();
    const ownerPage = await owner.newPage();
    await ownerPage.goto(printed);
    await visible(ownerPage.getByRole('button', { name: 'Log out' }));
    // …then in another: refused, and it says what to do.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(printed);
    await visible(otherPage.getByRole('heading', { name: 'This link has already been used' }));
    expect(await styled(otherPage)).toBe(true);
    await shot(otherPage, '4-link-used');
    // `chorus client` again, on the same profile: the running client prints a new link, same address.
    const fresh = await agent.launchLink();
    expect(new URL(fresh).origin).toBe(agent.origin);
    expect(ticketOf(fresh)).not.toBe(ticketOf(printed));
    await otherPage.goto(fresh);
    await visible(otherPage.getByRole('button', { name: 'Log out' }));
    expect(new URL(otherPage.url()).hash).toBe('');
    await Promise.all([owner.close(), other.close()]);
  }, 120_000);
});

describe('one profile, one truth', () => {
  let server: TestServer;
  let browser: Browser;
  let agent: ClientAgent;

  beforeAll(async () => {
    await ensureUiBuilt();
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    agent = await startClientAgent(server.httpUrl);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
  });

  it('after `chorus logout` on the profile, the open tab shows the login screen, and so does a reload', async () => {
    const user = await openClient(browser, agent);
    await register(user.page, { name: 'Leaver', email: 'leaver@example.test', password: 'leaver password 1' });
    const run = await chorus(as(agent.profileDir, 'logout'));
    expect(run.code, run.stderr).toBe(0);
    await visible(user.page.getByRole('button', { name: 'Log in', exact: true }));
    await visible(user.page.getByText('You were logged out of this profile'));
    await shot(user.page, '5-logged-out-from-cli');
    await user.page.reload();
    await visible(user.page.getByRole('button', { name: 'Log in', exact: true }));
    // Logging in again in the tab is the profile's login too.
    await login(user.page, 'leaver@example.test', 'leaver password 1');
    expect(JSON.parse(readFileSync(join(agent.profileDir, 'profile.json'), 'utf8')).user.name).toBe('Leaver');
    await user.context.close();
  }, 60_000);

  it('after the server revoked the session, the tab shows the login screen and the profile forgets the token', async () => {
    const user = await openClient(browser, agent);
    await visible(user.page.getByRole('button', { name: 'Log out' }));
    const { token } = JSON.parse(readFileSync(join(agent.profileDir, 'profile.json'), 'utf8'));
    const revoked = await fetch(`${server.httpUrl}/api/sessions/current`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBeLessThan(300);
    await user.page.reload();
    await visible(user.page.getByRole('button', { name: 'Log in', exact: true }));
    await visible(user.page.getByText('Your session has ended'));
    await shot(user.page, '6-session-revoked');
    expect(JSON.parse(readFileSync(join(agent.profileDir, 'profile.json'), 'utf8')).token).toBeUndefined();
    await user.context.close();
  }, 60_000);
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../support/server.js';
import { type ClientAgent, startClientAgent } from './support/client-agents.js';
import { ensureUiBuilt } from './support/ui-build.js';
import { launchBrowser, openClient, register, visible } from './support/ui.js';
import { agentCookie, connectUi } from './support/ui-socket.js';

/**
 * Only the user's own browser may drive `chorus client`: not another local program without the
 * secret, not another web page the user happens to have open (even one on 127.0.0.1), and not
 * a page reached through a hostile DNS name (rebinding). And the UI never holds the session token.
 */

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

describe('the local agent lets in only its own browser', () => {
  let server: TestServer;
  let agent: ClientAgent;
  let cookie: string;
  let origin: string;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    agent = await startClientAgent(server.httpUrl);
    origin = agent.origin;
    cookie = await agentCookie(agent);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.dispose();
  });

  it('refuses every request without the secret or its cookie', async () => {
    for (const path of ['/', '/index.html', '/favicon.svg', '/assets/', '/ws', '/api/anything']) {
      const response = await fetch(origin + path, { redirect: 'manual' });
      expect(response.status, path).toBe(403);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    const wrong = await fetch(`${origin}/?s=not-the-secret`, { redirect: 'manual' });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // A forged cookie is no cookie.
    const forged = await fetch(`${origin}/`, { headers: { cookie: `chorus_agent_${agent.port}=${new URL(agent.url).searchParams.get('s')}` } });
    expect(forged.status).toBe(403);
  });

  it('swaps the secret for an HttpOnly, SameSite=Strict cookie and a redirect that drops it from the address', async () => {
    const response = await fetch(agent.url, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^chorus_agent_${agent.port}=[A-Za-z0-9_-]{20,};`));
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    // The cookie is not the secret: an address left in the browser's history is not a session.
    expect(setCookie).not.toContain(new URL(agent.url).searchParams.get('s')!);

    const page = await fetch(`${origin}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('refuses a Host header that is not the agent itself (DNS rebinding)', async () => {
    const good = await rawGet(agent.port, '/', { host: `127.0.0.1:${agent.port}`, cookie });
    expect(good.status).toBe(200);
    expect((await rawGet(agent.port, '/', { host: `localhost:${agent.port}`, cookie })).status).toBe(200);
    for (const host of [`evil.example:${agent.port}`, 'evil.example', `127.0.0.1:${agent.port + 1}`, '127.0.0.1', `127.0.0.1.nip.io:${agent.port}`]) {
      const response = await rawGet(agent.port, '/', { host, cookie });
      expect(response.status, host).toBe(403);
      expect(response.body).not.toContain('<script');
    }
    // Even the secret exchange checks the Host: a rebinding page cannot obtain the cookie.
    const secretPath = new URL(agent.url).pathname + new URL(agent.url).search;
    expect((await rawGet(agent.port, secretPath, { host: `evil.example:${agent.port}` })).status).toBe(403);
  });

  it('accepts the WebSocket only with the cookie and the agent\'s own Origin', async () => {
    const ok = await connectUi(agent, { cookie, origin });
    await ok.next((p) => p.type === 'session');
    ok.close();
    const viaLocalhost = await connectUi(agent, { cookie, origin: `http://localhost:${agent.port}` });
    viaLocalhost.close();

    const refusals: Record<string, string>[] = [
      { origin }, // no cookie
      { cookie, origin: 'http://evil.example' },
      { cookie, origin: `http://127.0.0.1:${agent.port + 1}` }, // another local page: same site, other origin
      { cookie, origin: 'null' },
      { cookie }, // no Origin at all
      { cookie, origin, host: `evil.example:${agent.port}` },
    ];
    for (const headers of refusals) {
      await expect(connectUi(agent, headers), JSON.stringify(headers)).rejects.toMatchObject({ status: 403 });
    }
  });

  it('never gives the UI the session token or a chat key', async () => {
    const ui = await connectUi(agent, { cookie, origin });
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
    expect(everything).not.toContain('multicast');
    ui.close();
  });
});

describe('another web page in the same browser', () => {
  let server: TestServer;
  let agent: ClientAgent;
  let browser: Browser;
  let evil: Server;

  beforeAll(async () => {
    await ensureUiBuilt();
    server = await startTestServer();
    [agent, browser] = await Promise.all([startClientAgent(server.httpUrl), launchBrowser()]);
    // A page on another loopback port: the same *site* as the agent (ports do not count for
    // SameSite), so the browser would send the agent's cookie; only the Origin check stops it.
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>evil</title><p>nothing to see</p>');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.dispose();
    await new Promise((resolve) => evil?.close(resolve));
  });

  it('can neither open the agent\'s WebSocket nor read its pages, even with the user logged in', async () => {
    const user = await openClient(browser, agent);
    await register(user.page, { name: 'Victim', email: 'victim@example.test', password: 'victim password 1' });
    const evilPage = await user.context.newPage();
    await evilPage.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    const outcome = await evilPage.evaluate(async (agentPort) => {
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
    }, agent.port);
    expect(outcome.socket).not.toMatch(/^message/);
    expect(outcome.page).toBe('blocked');
    // The user's own tab is unaffected.
    await visible(user.page.getByRole('button', { name: 'Logout' }));
    await user.context.close();
  }, 60_000);
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
    const ui = await connectUi(first, { cookie: await agentCookie(first), origin: first.origin });
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
      const ui2 = await connectUi(second, { cookie: await agentCookie(second), origin: second.origin });
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

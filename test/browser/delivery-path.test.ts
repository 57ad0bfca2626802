// The web client shows how a chat's messages reach it: "Live via the server" where multicast
// does not arrive. A real network without multicast, not a fake: the server, the person's
// `chorus client` and the browser all run inside one network namespace (test/netns/topology.ts)
// whose nftables drops every incoming datagram to 224.0.0.0/4. Chromium joins the namespace
// through a wrapper script used as Playwright's executablePath (`ip netns exec NS chromium`;
// Playwright drives it over a pipe, so no port has to cross the namespace).
//
// Needs root, iproute2, nftables and Debian's chromium; fails (does not skip) without them.

import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lan, type LanHost, createLan, requireRoot, toolPath } from '../netns/topology.js';
import { REPO, ensureUiBuilt } from './support/ui-build.js';
import { DESKTOP, type UserPage, chatTitle, hasText, openChat, screenshot, visible } from './support/ui.js';

declare const window: any;

const NODE = process.execPath;
const MAIN = join(REPO, 'src', 'cli', 'main.ts');
const CLIENT = join(REPO, 'test', 'browser', 'support', 'client-process.ts');
const SERVER = 'http://127.0.0.1:6789';
const PASSWORD = 'correct horse battery staple';
/** Its own table, apart from the loss helper's: every multicast datagram arriving here is dropped. */
const NO_MULTICAST = 'chorus_no_multicast';
const CHAT = 'Behind the access point';

/** The environment of every child: no CHORUS_* settings leaking in from the developer's shell. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_') || key.startsWith('npm_')) delete env[key];
  return env;
}

let lan: Lan;
let host: LanHost;
let scratch: string;
let browser: Browser | undefined;
const children: ChildProcess[] = [];

/** `chorus ARGS` run to its end inside the namespace. */
async function chorus(args: string[], input?: string): Promise<string> {
  const run = await lan.exec(host, [NODE, '--import', 'tsx', MAIN, ...args], { env: childEnv(), cwd: REPO, input, timeoutMs: 60_000 });
  return run.stdout;
}

/** Starts a long-running command in the namespace; resolves once `ready` has been printed on stdout. */
async function start(argv: string[], ready: RegExp): Promise<RegExpExecArray> {
  const child = lan.spawn(host, argv, { env: childEnv(), cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not print ${ready} in time:\n${stdout}\n${stderr}`)), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const match = ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** Packets the namespace's no-multicast rule dropped. */
async function droppedMulticast(): Promise<number> {
  const { stdout } = await lan.exec(host, [toolPath('nft'), 'list', 'table', 'inet', NO_MULTICAST]);
  return Number(/counter packets (\d+)/.exec(stdout)?.[1] ?? 0);
}

describe('the web client where multicast does not arrive', { timeout: 180_000 }, () => {
  let user: UserPage;
  let code = '';
  const ada = () => join(scratch, 'ada');
  const bob = () => join(scratch, 'bob');

  beforeAll(async () => {
    requireRoot();
    await ensureUiBuilt();
    scratch = mkdtempSync(join(tmpdir(), 'chorus-delivery-ui-'));
    lan = await createLan({ prefix: 'chorus-pushui', hosts: ['ui'] });
    host = lan.host('ui');
    await lan.exec(host, [toolPath('nft'), '-f', '-'], {
      input: `table inet ${NO_MULTICAST} {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip daddr 224.0.0.0/4 counter drop\n  }\n}\n`,
    });

    // The server on the namespace's loopback; its multicast is sent, and dropped on the way in.
    await start([NODE, '--import', 'tsx', MAIN, 'server', '--data', join(scratch, 'data'), '--http-port', '6789', '--tcp-port', '12342'], /Chorus server listening/);
    for (const [dir, name] of [[ada(), 'Ada'], [bob(), 'Bob']] as const) {
      await chorus(['--profile', dir, 'register', '--name', name, '--email', `${name.toLowerCase()}@example.test`, '--server', SERVER, '--password-stdin'], `${PASSWORD}\n`);
    }
    code = /\b([0-9A-Z]{5}-[0-9A-Z]{5})\b/.exec(await chorus(['--profile', ada(), 'create', CHAT]))?.[1] ?? '';
    expect(code).not.toBe('');
    await chorus(['--profile', bob(), 'join', code]);

    // Ada's web client, and a browser in the same namespace.
    const [, link] = await start([NODE, '--import', 'tsx', CLIENT, '--profile', ada(), 'client', '--server', SERVER, '--no-open', '--port', '0'], /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]+)/);
    const wrapper = join(scratch, 'chromium-in-namespace');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${toolPath('ip')} netns exec ${host.netns} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await chromium.launch({
      executablePath: wrapper,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'Europe/Madrid' });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(link!);
    await page.waitForFunction(() => window.location.hash === '');
    user = { context, page, dialogs };
  });

  afterAll(async () => {
    await browser?.close();
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await lan?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shows "Live via the server" in the chat header, with the reason on hover and in its panel (Escape closes it); messages still arrive', async () => {
    const { page } = user;
    await openChat(page, CHAT);
    await hasText(chatTitle(page), CHAT);
    const indicator = page.locator('header details.delivery');
    await hasText(indicator.locator('summary'), 'Live via the server', 20_000);
    expect(await indicator.getAttribute('data-delivery')).toBe('server');
    const why = await indicator.getAttribute('title');
    expect(why).toMatch(/^Multicast does not reach this computer \(.+\), so the server sends this chat's messages over its connection instead\./);

    // The reason for keyboards and screen readers: the summary opens a panel that says it.
    await indicator.locator('summary').focus();
    await page.keyboard.press('Enter');
    await visible(indicator.locator('.delivery-detail'));
    expect(await indicator.locator('.delivery-detail').textContent()).toBe(why);
    await screenshot(page, 'delivery-via-server');
    await page.keyboard.press('Escape');
    await indicator.locator('.delivery-detail').waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => (window as any).document.activeElement?.tagName)).toBe('SUMMARY');

    // Not just a label: a message sent now reaches this client, pushed over TCP.
    await chorus(['--profile', bob(), 'send', code, 'this one came through the server']);
    await visible(page.getByRole('log').getByText('this one came through the server'), 20_000);
    // The datagrams were sent, and dropped here: multicast really did not arrive.
    expect(await droppedMulticast()).toBeGreaterThan(0);
    expect(user.dialogs).toEqual([]);
  });
});

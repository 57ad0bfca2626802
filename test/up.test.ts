import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUiBuilt } from './browser/support/ui-build.js';
import { launchBrowser, visible } from './browser/support/ui.js';
import { DEMO_USERS } from '../src/cli/demo.js';
import { refuseDemoBeyondLoopback } from '../src/cli/up.js';
import { chorus, finished, spawnChorus } from './support/cli.js';
import { http } from './support/server.js';

/**
 * `chorus up`, what the README's quick start runs: a server on the embedded defaults and a web
 * client for it, in one process. Driven as a child process, on free loopback ports.
 */

let scratch: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-up-'));
  await ensureUiBuilt();
});

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** Starts `chorus up ARGS`; `ready` resolves with the two addresses it prints. */
function up(args: string[]) {
  const child = spawnChorus(['up', ...args], { CHORUS_HOME: join(scratch, 'home') });
  started.push(child);
  const exited = finished(child);
  let seen = '';
  const ready = new Promise<{ serverUrl: string; clientUrl: string }>((done, fail) => {
    child.stdout!.on('data', (chunk: string) => {
      seen += chunk;
      const server = /Chorus server: (http:\/\/127\.0\.0\.1:\d+) \(TCP port \d+\)/.exec(seen);
      const client = /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(seen);
      if (server && client) done({ serverUrl: server[1]!, clientUrl: client[1]! });
    });
    void exited.then((run) => fail(new Error(`chorus up exited ${run.code} before it was ready: ${run.stderr}`)));
  });
  ready.catch(() => {}); // awaited only by the tests that expect a start
  return { child, ready, exited };
}

describe('chorus up', { timeout: 60_000 }, () => {
  it("starts a server and a web client on loopback, serves the UI, hands a second start a new link from the running client, and stops on SIGTERM", async () => {
    const profile = join(scratch, 'ada');
    const run = up(['--no-open', '--data', join(scratch, 'data'), '--http-port', '0', '--tcp-port', '0', '--profile', profile]);
    const { serverUrl, clientUrl } = await run.ready;

    expect(await (await fetch(`${serverUrl}/api/health`)).json()).toEqual({ status: 'ok' });
    // The link's one-time ticket is in the fragment: what a browser sends is only the public page.
    expect(clientUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]{32}$/);
    const origin = new URL(clientUrl).origin;
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(await page.text()).toContain('<div id="root">');

    // `chorus up` again on the same profile starts nothing: the running client gives a new link.
    const again = await chorus(['up', '--no-open', '--data', join(scratch, 'data'), '--profile', profile], { env: { CHORUS_HOME: join(scratch, 'home') } });
    expect(again.code, again.stderr).toBe(0);
    const fresh = /Chorus client: (\S+)/.exec(again.stdout)?.[1];
    expect(new URL(fresh!).origin).toBe(origin);
    expect(fresh).not.toBe(clientUrl);
    expect(again.stderr).toContain('already running');
    // What would have shaped a new start is named as unused: nothing else was started.
    expect(again.stderr).toContain('chorus: not used, since that client runs already: --data (no server was started). To start with them, stop the running client');
    const plain = await chorus(['up', '--no-open', '--profile', profile], { env: { CHORUS_HOME: join(scratch, 'home') } });
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toContain('not used');

    run.child.kill('SIGTERM');
    const stopped = await run.exited;
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain('SIGTERM: stopping');
  });

  it('says which port is taken when a server already runs there', async () => {
    const first = up(['--no-open', '--data', join(scratch, 'one'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'p1')]);
    const { serverUrl } = await first.ready;
    const taken = new URL(serverUrl).port;
    const second = up(['--no-open', '--data', join(scratch, 'two'), '--http-port', taken, '--tcp-port', '0', '--profile', join(scratch, 'p2')]);
    const refused = await second.exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`chorus: cannot start the server: port ${taken} or 0 on 127\\.0\\.0\\.1 is in use`));
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it('refuses a bad port as a usage error', async () => {
    const run = await up(['--no-open', '--http-port', 'abc']).exited;
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('chorus: invalid --http-port "abc": give a port number from 1 to 65535, or 0 for any free one');
  });

  it('--demo: the two test users (printed passwords) and a chat they are both in, said in large letters; run again on the same data, the same users and chat', async () => {
    const args = ['--no-open', '--demo', '--data', join(scratch, 'demo-data'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'demo-profile')];
    const chatCodes: string[] = [];
    for (let round = 0; round < 2; round++) {
      const run = up(args);
      const { serverUrl, clientUrl } = await run.ready;
      // The window the banner says to log in as Carlos in opens on Login with his address filled
      // in (a new profile would open on Register), and the banner's password logs in to the chat.
      if (round === 0) await logInAsCarlos(clientUrl);
      run.child.kill('SIGTERM');
      const { stdout, code } = await run.exited;
      expect(code).toBe(0);
      expect(stdout).toContain('D E M O   M O D E');
      // --no-open: no window opens, so the banner points at the printed address.
      expect(stdout).toContain('Log in as Carlos at the address printed below;');
      // The second window's command opens on Luis's login the same way.
      // Luis has a profile of his own: the command does not carry this window's --profile.
      expect(stdout).toContain(`chorus client --server ${serverUrl} --profile ${join(scratch, 'demo-profile')}-luis --email luis@gmail.com\n`);
      expect(stdout).not.toContain(`--profile ${join(scratch, 'demo-profile')} client`);
      expect(stdout).toContain('on this machine only (loopback)');
      const chatCode = /chat "Demo" \(code ([0-9A-Z]{5}-[0-9A-Z]{5})\)/.exec(stdout)?.[1];
      expect(chatCode).toBeDefined();
      chatCodes.push(chatCode!);
      // The printed passwords log in, on the data folder, and both users are in the chat.
      const again = up(['--no-open', '--data', join(scratch, 'demo-data'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'check-profile')]);
      const check = http((await again.ready).serverUrl);
      expect(serverUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
      for (const email of ['carlos@gmail.com', 'luis@gmail.com']) {
        const password = new RegExp(`${email.replace('.', '\\.')}\\s+password: (.+)`).exec(stdout)?.[1]?.trim();
        const session = await check('POST', '/api/sessions', { json: { email, password } });
        expect(session.status, email).toBe(201);
        const chats = await check('GET', '/api/chats', { token: session.body.token });
        expect(chats.body.chats.filter((c: { name: string }) => c.name === 'Demo').map((c: { code: string }) => c.code)).toEqual([chatCode]);
      }
      again.child.kill('SIGTERM');
      expect((await again.exited).code).toBe(0);
    }
    expect(chatCodes[1]).toBe(chatCodes[0]);
  });

  async function logInAsCarlos(clientUrl: string) {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(clientUrl);
      await visible(page.getByRole('button', { name: 'Login', exact: true }));
      expect(await page.getByLabel('Email address', { exact: true }).inputValue()).toBe('carlos@gmail.com');
      await page.keyboard.type(DEMO_USERS[0]!.password);
      await page.keyboard.press('Enter');
      await visible(page.getByRole('button', { name: 'Logout' }));
      await visible(page.getByText('Demo'));
    } finally {
      await browser.close();
    }
  }

  it('refuses --demo beyond loopback: the guard on the host, whatever flag sets it one day', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(() => refuseDemoBeyondLoopback(host)).not.toThrow();
    for (const host of ['0.0.0.0', '192.168.1.20', '::', 'chorus.example.test']) expect(() => refuseDemoBeyondLoopback(host)).toThrow(/--demo .* serves this machine only/);
  });
});

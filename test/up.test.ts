import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUiBuilt } from './browser/support/ui-build.js';
import { launchBrowser, visible } from './browser/support/ui.js';
import { DEMO_USERS } from '../src/cli/demo.js';
import { pinForProfile, refuseDemoBeyondLoopback } from '../src/cli/up.js';
import { pinnedFetch } from '../src/client/pinned-fetch.js';
import { chorus, finished, spawnChorus } from './support/cli.js';
import { impostor } from './support/impostor.js';
import { http } from './support/server.js';

/**
 * `chorus up`, what the README's quick start runs: a server on the embedded defaults and a web
 * client for it, in one process. Driven as a child process, on free loopback ports.
 */

let scratch: string;
const started: ChildProcess[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-up-'));
  await ensureUiBuilt();
});

afterAll(() => {
  for (const close of closers) close();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

const PASSWORD = 'correct horse battery staple';

/** Starts `chorus up ARGS`; `ready` resolves with the two addresses it prints and the server's certificate fingerprint. */
function up(args: string[]) {
  const child = spawnChorus(['up', ...args], { CHORUS_HOME: join(scratch, 'home') });
  started.push(child);
  const exited = finished(child);
  let seen = '';
  const ready = new Promise<{ serverUrl: string; clientUrl: string; fingerprint: string }>((done, fail) => {
    child.stdout!.on('data', (chunk: string) => {
      seen += chunk;
      const server = /Chorus server: (https:\/\/127\.0\.0\.1:\d+) \(TCP port \d+\)/.exec(seen);
      const fingerprint = /its TLS certificate \(SHA-256\): ([0-9A-F:]{95})\n/.exec(seen);
      const client = /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(seen);
      if (server && fingerprint && client) done({ serverUrl: server[1]!, clientUrl: client[1]!, fingerprint: fingerprint[1]! });
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
    const { serverUrl, clientUrl, fingerprint } = await run.ready;

    expect(await (await pinnedFetch(fingerprint)(`${serverUrl}/api/health`)).json()).toEqual({ status: 'ok' });
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

  it('speaks TLS on loopback too and hands its certificate to this profile: its commands need no question, and refuse another program on the port once the server is gone', async () => {
    const profile = join(scratch, 'grace');
    const env = { CHORUS_HOME: join(scratch, 'home') };
    const run = up(['--no-open', '--data', join(scratch, 'grace-data'), '--http-port', '0', '--tcp-port', '0', '--profile', profile]);
    const { serverUrl, fingerprint } = await run.ready;
    const plainUrl = serverUrl.replace('https:', 'http:');
    await expect(fetch(`${plainUrl}/api/health`)).rejects.toThrow();
    // Its certificate is its own: nothing but the pin trusts it.
    await expect(fetch(`${serverUrl}/api/health`)).rejects.toThrow();
    expect(JSON.parse(readFileSync(join(profile, 'profile.json'), 'utf8'))).toEqual({ server: serverUrl, tlsFingerprint: fingerprint });

    const registered = await chorus(['register', '--name', 'Grace', '--email', 'grace@example.com', '--password-stdin', '--profile', profile], { input: `${PASSWORD}\n`, env });
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toContain(`at ${serverUrl}`);
    const created = await chorus(['create', 'Room', '--profile', profile], { env });
    expect(created.code, created.stderr).toBe(0);
    const code = /code ([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(created.stdout)![1]!;
    const sent = await chorus(['send', code, 'hello over TLS', '--profile', profile], { env });
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toContain('#1');

    // The server stops; another program takes its port: this profile's login tells it nothing.
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    const fake = await impostor(Number(new URL(serverUrl).port));
    closers.push(() => fake.server.close());
    const login = await chorus(['login', '--email', 'grace@example.com', '--password-stdin', '--profile', profile], { input: `${PASSWORD}\n`, env });
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/certificate/i);
    expect(fake.bytes()).toHaveLength(0);
  });

  it("points its profile at its server: a new one, or one on this address over plain http (keeping its session); not one kept for another server", async () => {
    const server = 'https://127.0.0.1:6789';
    const pin = 'AB:'.repeat(31) + 'AB';
    const at = (name: string, profile?: object) => {
      const dir = join(scratch, 'pins', name);
      mkdirSync(dir, { recursive: true });
      if (profile) writeFileSync(join(dir, 'profile.json'), typeof profile === 'string' ? profile : JSON.stringify(profile));
      return dir;
    };
    const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'));
    const session = { token: 't', user: { id: 1, name: 'Ada', email: 'ada@example.com' }, serverKey: 'k' };

    const fresh = at('new');
    await pinForProfile(fresh, server, pin);
    expect(read(fresh)).toEqual({ server, tlsFingerprint: pin });

    const plain = at('plain', { server: 'http://127.0.0.1:6789', ...session });
    await pinForProfile(plain, server, pin);
    expect(read(plain)).toEqual({ server, tlsFingerprint: pin, ...session });

    const otherCertificate = at('other-certificate', { server, tlsFingerprint: 'CD:'.repeat(31) + 'CD', ...session });
    await pinForProfile(otherCertificate, server, pin);
    expect(read(otherCertificate)).toEqual({ server, tlsFingerprint: pin });

    for (const [name, profile] of [['lan', { server: 'https://10.0.2.5:6789', tlsFingerprint: 'CD', ...session }], ['other-port', { server: 'http://127.0.0.1:7000' }]] as const) {
      const dir = at(name, profile);
      await pinForProfile(dir, server, pin);
      expect(read(dir), name).toEqual(profile);
    }
    const unreadable = at('unreadable', '{ not json' as unknown as object);
    await pinForProfile(unreadable, server, pin);
    expect(readFileSync(join(unreadable, 'profile.json'), 'utf8')).toBe('{ not json');
  });

  it('says which port is taken when a server already runs there', async () => {
    const first = up(['--no-open', '--data', join(scratch, 'one'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'p1')]);
    const { serverUrl } = await first.ready;
    const taken = new URL(serverUrl).port;
    const second = up(['--no-open', '--data', join(scratch, 'two'), '--http-port', taken, '--tcp-port', '0', '--profile', join(scratch, 'p2')]);
    const refused = await second.exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`chorus: cannot start the server: port ${taken} or 0 on 127\\.0\\.0\\.1 is in use`));
    // A fresh data folder holds no certificate to name: the hint says where the fingerprint is.
    expect(refused.stderr).toContain(`connect to it with "chorus --profile ${join(scratch, 'p2')} client --server ${serverUrl} --fingerprint F", F being the fingerprint it printed at start`);
    // The same data folder (npm start again, with another profile): its certificate is named.
    const { fingerprint } = await first.ready;
    const again = await up(['--no-open', '--data', join(scratch, 'one'), '--http-port', taken, '--tcp-port', '0', '--profile', join(scratch, 'p3')]).exited;
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`If it is the Chorus server "chorus up" started on this data folder, connect to it with "chorus --profile ${join(scratch, 'p3')} client --server ${serverUrl} --fingerprint ${fingerprint}"`);
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
      const { serverUrl, clientUrl, fingerprint } = await run.ready;
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
      expect(stdout).toContain(`chorus client --server ${serverUrl} --fingerprint ${fingerprint} --profile ${join(scratch, 'demo-profile')}-luis --email luis@gmail.com\n`);
      expect(stdout).not.toContain(`--profile ${join(scratch, 'demo-profile')} client`);
      expect(stdout).toContain('on this machine only (loopback)');
      const chatCode = /chat "Demo" \(code ([0-9A-Z]{5}-[0-9A-Z]{5})\)/.exec(stdout)?.[1];
      expect(chatCode).toBeDefined();
      chatCodes.push(chatCode!);
      // The printed passwords log in, on the data folder, and both users are in the chat.
      const again = up(['--no-open', '--data', join(scratch, 'demo-data'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'check-profile')]);
      const { serverUrl: checkUrl, fingerprint: checkPin } = await again.ready;
      // The same data folder, so the same certificate.
      expect(checkPin).toBe(fingerprint);
      const check = http(checkUrl, pinnedFetch(checkPin));
      expect(serverUrl).toMatch(/^https:\/\/127\.0\.0\.1:/);
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
      await visible(page.getByRole('button', { name: 'Log in', exact: true }));
      expect(await page.getByLabel('Email address', { exact: true }).inputValue()).toBe('carlos@gmail.com');
      await page.keyboard.type(DEMO_USERS[0]!.password);
      await page.keyboard.press('Enter');
      await visible(page.getByRole('button', { name: 'Log out' }));
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

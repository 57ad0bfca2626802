import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_WINDOW_DATA, type BrowserLookup, LAUNCH_PAGE, findAppBrowser, openBrowser } from './open-browser.js';

const noBrowser = (platform: NodeJS.Platform): BrowserLookup => ({ platform, env: { PATH: '/usr/bin:/bin' }, isExecutable: () => false });
const installed = (platform: NodeJS.Platform, paths: string[], env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin' }): BrowserLookup => ({
  platform,
  env,
  isExecutable: (path) => paths.includes(path),
});

describe('openBrowser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const url = 'http://127.0.0.1:41234/?secret=s3cr3t-value&x="<y>';

  it('never puts the secret address on the browser command line, only a private page that redirects to it', () => {
    const launched: string[][] = [];
    openBrowser(url, dir, (command, args) => launched.push([command, ...args]), noBrowser('linux'));
    expect(launched).toEqual([['xdg-open', join(dir, LAUNCH_PAGE)]]);
    expect(launched.flat().join(' ')).not.toContain('s3cr3t');
    expect(statSync(join(dir, LAUNCH_PAGE)).mode & 0o777).toBe(0o600);
    const page = readFileSync(join(dir, LAUNCH_PAGE), 'utf8');
    expect(page).toContain('content="0;url=http://127.0.0.1:41234/?secret=s3cr3t-value&amp;x=&quot;&lt;y>"');
  });

  it('creates a missing profile folder for it, readable by the user only', () => {
    const fresh = join(dir, 'new-profile');
    const launched: string[][] = [];
    openBrowser(url, fresh, (command, args) => launched.push([command, ...args]), noBrowser('linux'));
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(launched).toEqual([['xdg-open', join(fresh, LAUNCH_PAGE)]]);
  });

  it('uses the platform opener when no app-mode browser is installed', () => {
    const launched: string[][] = [];
    openBrowser(url, dir, (command, args) => launched.push([command, ...args]), noBrowser('darwin'));
    expect(launched[0]?.[0]).toBe('open');
  });

  it('opens an app window of Chromium, Chrome or Edge where one is installed: on the private page, with its own data folder in the profile', () => {
    const profile = join(dir, 'app-profile');
    const launched: string[][] = [];
    openBrowser(url, profile, (command, args) => launched.push([command, ...args]), installed('linux', ['/usr/bin/chromium']));
    expect(launched).toEqual([
      ['/usr/bin/chromium', `--app=${pathToFileURL(join(profile, LAUNCH_PAGE)).href}`, `--user-data-dir=${join(profile, APP_WINDOW_DATA)}`, '--no-first-run', '--no-default-browser-check'],
    ]);
    expect(launched.flat().join(' ')).not.toContain('s3cr3t');
    expect(statSync(join(profile, APP_WINDOW_DATA)).mode & 0o777).toBe(0o700);
  });

  it('finds Chrome before Chromium and Edge, on each platform, and passes over a snap', () => {
    expect(findAppBrowser(installed('linux', ['/usr/bin/chromium', '/usr/local/bin/google-chrome']))).toBe('/usr/local/bin/google-chrome');
    expect(findAppBrowser(installed('linux', ['/usr/bin/microsoft-edge']))).toBe('/usr/bin/microsoft-edge');
    expect(findAppBrowser(installed('linux', ['/snap/bin/chromium'], { PATH: '/snap/bin' }))).toBeUndefined();
    expect(findAppBrowser(installed('darwin', ['/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge']))).toBe('/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge');
    const windows = { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local', PROGRAMFILES: 'C:\\Program Files' };
    expect(findAppBrowser(installed('win32', ['C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe'], windows))).toBe('C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe');
    expect(findAppBrowser(noBrowser('win32'))).toBeUndefined();
  });
});

describe.runIf(existsSync('/usr/bin/chromium'))('the app window, with the real Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-app-window-'));
  const started: ChildProcess[] = [];
  afterAll(async () => {
    // Chromium's helpers (zygote, renderer, utility) outlive the browser by seconds on a busy
    // machine and keep writing into its profile: the browser runs as its own process group, and
    // the folder goes only once the whole group is gone.
    for (const child of started) await stopGroup(child);
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  it('follows the private page from file:// to the address on 127.0.0.1, which is never on its command line', async () => {
    const commandLine: string[] = [];
    const requested = new Promise<string>((resolve) => {
      const server = createServer((request, response) => {
        response.end('<title>Chorus</title>');
        if (request.url?.startsWith('/landed')) {
          resolve(request.url);
          server.close();
        }
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        openBrowser(
          `http://127.0.0.1:${port}/landed?secret=s3cr3t-value#ticket=t1ck3t`,
          join(dir, 'profile'),
          (command, args) => {
            commandLine.push(command, ...args);
            // Headless, as no screen is there in a test; the navigation rules are the app window's.
            const child = spawn(command, ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...args], { stdio: 'ignore', detached: true });
            started.push(child);
          },
          installed('linux', ['/usr/bin/chromium'], { PATH: '/usr/bin' }),
        );
      });
    });
    expect(await requested).toBe('/landed?secret=s3cr3t-value');
    expect(commandLine.some((arg) => arg.startsWith('--app=file://'))).toBe(true);
    expect(commandLine.join(' ')).not.toMatch(/s3cr3t|t1ck3t/);
    expect(existsSync(join(dir, 'profile', APP_WINDOW_DATA))).toBe(true);
  }, 30_000);
});

/** Ends the process group `child` leads (SIGTERM, then SIGKILL after 5 s) and waits until none of it is left. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const group = -child.pid!;
  const alive = () => {
    try {
      process.kill(group, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(group, name);
    } catch {
      // Gone already.
    }
  };
  signal('SIGTERM');
  for (let waited = 0; alive() && waited < 15_000; waited += 100) {
    if (waited === 5_000) signal('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

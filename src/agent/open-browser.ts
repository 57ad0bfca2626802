import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const LAUNCH_PAGE = 'open-chorus.html';
/** The app window's own browser profile, inside the Chorus profile: its storage is nobody else's. */
export const APP_WINDOW_DATA = 'app-window';

type Launcher = (command: string, args: string[]) => void;

/** Where to look for a browser that has an app mode; injectable for tests. */
export interface BrowserLookup {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** Is there a program at this path that we may run? */
  isExecutable(path: string): boolean;
}

const systemLookup: BrowserLookup = { platform: process.platform, env: process.env, isExecutable };

/**
 * Opens the agent's private address as a desktop window, as the original Chorus did: in the app
 * mode of Chromium, Chrome or Edge (`--app=`, a window with no tabs or address bar, with its own
 * browser profile under the Chorus profile) where one is installed, else in the default browser.
 * Best effort: no browser (a server, a container) is not an error, since the address is printed.
 *
 * The address carries the agent's secret, and a browser's command line is visible to every local
 * user in `ps`. So the browser is given a small page in the user's own profile folder (0600, in a
 * 0700 folder) that redirects to the address: only a path shows on the command line, for the
 * app window too (Chromium follows the page's meta refresh from file:// to http://127.0.0.1 in
 * app mode; src/agent/open-browser.test.ts checks it with the real browser).
 */
export function openBrowser(url: string, profileDir: string, launch: Launcher = launchDetached, lookup: BrowserLookup = systemLookup): void {
  const page = join(profileDir, LAUNCH_PAGE);
  try {
    mkdirSync(profileDir, { recursive: true, mode: 0o700 });
    writeFileSync(page, launchPage(url), { mode: 0o600 });
  } catch {
    return; // best effort, like the browser itself: the address is printed
  }
  const app = findAppBrowser(lookup);
  if (app) {
    const data = join(profileDir, APP_WINDOW_DATA);
    try {
      mkdirSync(data, { recursive: true, mode: 0o700 });
      launch(app, appWindowArgs(page, data));
      return;
    } catch {
      // fall through to the default browser
    }
  }
  const [command, args] = defaultBrowserCommand(page, lookup.platform);
  launch(command, args);
}

/** The arguments of an app window on the redirect page: paths only, never the address itself. */
export function appWindowArgs(page: string, userDataDir: string): string[] {
  return [`--app=${pathToFileURL(page).href}`, `--user-data-dir=${userDataDir}`, '--no-first-run', '--no-default-browser-check'];
}

function defaultBrowserCommand(page: string, platform: NodeJS.Platform): [string, string[]] {
  if (platform === 'darwin') return ['open', [page]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', page]];
  return ['xdg-open', [page]];
}

/** Chromium, Chrome or Edge, the first installed; undefined when none is. */
export function findAppBrowser(lookup: BrowserLookup = systemLookup): string | undefined {
  return appBrowserCandidates(lookup).find((path) => lookup.isExecutable(path) && !isSnap(path, lookup));
}

function appBrowserCandidates({ platform, env }: BrowserLookup): string[] {
  if (platform === 'darwin') {
    const bundles = [
      ['Google Chrome', 'Google Chrome'],
      ['Chromium', 'Chromium'],
      ['Microsoft Edge', 'Microsoft Edge'],
    ].map(([app, binary]) => `${app}.app/Contents/MacOS/${binary}`);
    const roots = ['/Applications', ...(env.HOME ? [join(env.HOME, 'Applications')] : [])];
    return roots.flatMap((root) => bundles.map((bundle) => `${root}/${bundle}`));
  }
  if (platform === 'win32') {
    const roots = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.ProgramFiles, env['ProgramFiles(x86)']].filter((r): r is string => !!r);
    const relative = ['Google\\Chrome\\Application\\chrome.exe', 'Microsoft\\Edge\\Application\\msedge.exe', 'Chromium\\Application\\chrome.exe'];
    return relative.flatMap((r) => roots.map((root) => `${root}\\${r}`));
  }
  const names = ['google-chrome', 'google-chrome-stable', 'chromium', 'chromium-browser', 'microsoft-edge', 'microsoft-edge-stable'];
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  return names.flatMap((name) => dirs.map((dir) => join(dir, name)));
}

/**
 * A snap's browser may not read hidden folders in the home directory (~/.config, where profiles
 * live by default): it could open neither the redirect page nor its own data folder there.
 */
function isSnap(path: string, lookup: BrowserLookup): boolean {
  if (lookup.platform !== 'linux') return false;
  if (path.startsWith('/snap/')) return true;
  try {
    const real = realpathSync(path);
    return real.startsWith('/snap/') || real === '/usr/bin/snap';
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function launchPage(url: string): string {
  const attribute = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url=${attribute}"><title>Chorus</title><p>Opening Chorus…</p>\n`;
}

function launchDetached(command: string, args: string[]): void {
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // ignored: the address is printed
  }
}

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LAUNCH_PAGE = 'open-chorus.html';

type Launcher = (command: string, args: string[]) => void;

/**
 * Opens the agent's private address in the default browser, best effort: no browser (a server, a
 * container) is not an error, since the address is printed anyway.
 *
 * The address carries the agent's secret, and a browser's command line is visible to every local
 * user in `ps`. So the browser is given a small page in the user's own profile folder (0600, in a
 * 0700 folder) that redirects to the address: only a path shows on the command line.
 */
export function openBrowser(url: string, profileDir: string, launch: Launcher = launchDetached, platform: NodeJS.Platform = process.platform): void {
  const page = join(profileDir, LAUNCH_PAGE);
  try {
    mkdirSync(profileDir, { recursive: true, mode: 0o700 });
    writeFileSync(page, launchPage(url), { mode: 0o600 });
  } catch {
    return; // best effort, like the browser itself: the address is printed
  }
  const [command, args] =
    platform === 'darwin' ? ['open', [page]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', page]] : ['xdg-open', [page]];
  launch(command, args);
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

import { spawn } from 'node:child_process';

/**
 * Opens `url` in the default browser, best effort: no browser (a server, a container) is not an
 * error, since the address is printed anyway.
 */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): void {
  const [command, args] =
    platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // ignored: the address is printed
  }
}

import { chmod, mkdir, unlink } from 'node:fs/promises';
import { type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';

/**
 * How `chorus client` (or `chorus up`), run again on a profile whose client is already running,
 * gets a fresh launch link from it instead of starting a second one: a Unix socket in the
 * profile folder. The folder is the user's alone (0700), so only the user can connect, and
 * nobody else can stand in for the agent there (unlike a port on 127.0.0.1, which anyone may
 * take while the agent is stopped). One line asked, one line answered.
 *
 * Not on Windows (no such permissions on named pipes) and not where the path is too long for a
 * socket address: there, a second start fails on the port in use, as before.
 */
export const CONTROL_SOCKET = 'agent.sock';
const REQUEST = 'launch-link\n';
/** Linux allows 108 bytes in sun_path, macOS 104. */
const MAX_SOCKET_PATH = 100;
const ASK_TIMEOUT_MS = 3000;

export interface ControlServer {
  close(): Promise<void>;
}

function socketPath(profileDir: string): string | undefined {
  const path = join(profileDir, CONTROL_SOCKET);
  return process.platform === 'win32' || Buffer.byteLength(path) > MAX_SOCKET_PATH ? undefined : path;
}

/** A fresh launch link from the agent running on this profile, or undefined when none runs. */
export async function askRunningAgent(profileDir: string): Promise<string | undefined> {
  const path = socketPath(profileDir);
  if (!path) return undefined;
  return new Promise((resolve) => {
    const socket = connect(path);
    let answer = '';
    const done = (url: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(url);
    };
    const timer = setTimeout(() => done(undefined), ASK_TIMEOUT_MS);
    socket.on('connect', () => socket.write(REQUEST));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\n')) done(/^http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]+$/.test(answer.trim()) ? answer.trim() : undefined);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}

/**
 * Answers launch-link requests on the profile's control socket. Call only after askRunningAgent
 * found no agent: a socket file left by one that died is removed first.
 */
export async function listenControl(profileDir: string, launchUrl: () => string): Promise<ControlServer | undefined> {
  const path = socketPath(profileDir);
  if (!path) return undefined;
  await mkdir(profileDir, { recursive: true, mode: 0o700 });
  await unlink(path).catch(() => {});
  const server = createServer((socket) => answer(socket, launchUrl));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    // The folder is the user's alone already; the socket too, whatever the umask.
    await chmod(path, 0o600);
  } catch {
    server.close();
    return undefined; // best effort: the client still runs, only without this convenience
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        unlink(path).catch(() => {});
      }),
  };
}

function answer(socket: Socket, launchUrl: () => string): void {
  let request = '';
  socket.on('error', () => socket.destroy());
  socket.setTimeout(ASK_TIMEOUT_MS, () => socket.destroy());
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    request += chunk;
    if (!request.includes('\n')) {
      if (request.length > REQUEST.length) socket.destroy();
      return;
    }
    if (request === REQUEST) socket.end(`${launchUrl()}\n`);
    else socket.destroy();
  });
}


import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './ui-build.js';

export interface ClientAgent {
  /** The printed launch link, with its one-time ticket. */
  url: string;
  /** The printed link the first time; then a new one, from `chorus client` run again on the profile. */
  launchLink(): Promise<string>;
  origin: string;
  port: number;
  profileDir: string;
  child: ChildProcess;
  /** Everything it wrote to stderr, for failures. */
  stderr(): string;
  /** Stops it (SIGTERM, then SIGKILL) and deletes its profile. */
  stop(): Promise<void>;
}

const ENTRY = join(REPO, 'test/browser/support/client-process.ts');

const LAUNCH_LINK = /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]+)/;

/** Started as an installed `chorus` is (npm test's npm_* variables left out), plus `env`. */
function spawnClient(profileDir: string, server: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
  return spawn(process.execPath, ['--import', 'tsx', ENTRY, '--profile', profileDir, 'client', '--server', server, '--no-open', ...args], {
    cwd: REPO,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts `chorus client --no-open` in its own process, with a fresh profile (any free port) or
 * the one given (its port from last time, if free).
 */
export async function startClientAgent(server: string, options: { profileDir?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<ClientAgent> {
  const profileDir = options.profileDir ?? mkdtempSync(join(tmpdir(), 'chorus-profile-'));
  const child = spawnClient(profileDir, server, options.args ?? [], options.env);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chorus client did not start:\n${stderr}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = LAUNCH_LINK.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chorus client exited with ${code}:\n${stderr}`));
    });
  });
  const parsed = new URL(url);
  let printedLinkUsed = false;
  return {
    url,
    async launchLink() {
      if (!printedLinkUsed) {
        printedLinkUsed = true;
        return url;
      }
      return newLaunchLink(profileDir, server);
    },
    origin: parsed.origin,
    port: Number(parsed.port),
    profileDir,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!options.profileDir) rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** `chorus client` run again on a profile whose client runs: it prints a new link and exits 0. */
export async function newLaunchLink(profileDir: string, server: string): Promise<string> {
  const child = spawnClient(profileDir, server, []);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const match = LAUNCH_LINK.exec(stdout);
  if (code !== 0 || !match) throw new Error(`chorus client run again exited ${code} without a link:\n${stdout}${stderr}`);
  return match[1]!;
}

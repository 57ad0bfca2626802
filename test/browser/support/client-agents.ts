import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './ui-build.js';

export interface ClientAgent {
  /** The printed address, with its secret. */
  url: string;
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

/** Starts `chorus client --no-open --port 0` in its own process with a fresh profile. */
export async function startClientAgent(server: string, options: { profileDir?: string; args?: string[] } = {}): Promise<ClientAgent> {
  const profileDir = options.profileDir ?? mkdtempSync(join(tmpdir(), 'chorus-profile-'));
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, '--profile', profileDir, 'client', '--server', server, '--no-open', '--port', '0', ...(options.args ?? [])], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chorus client did not start:\n${stderr}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/\?s=[A-Za-z0-9_-]+)/.exec(stdout);
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
  return {
    url,
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

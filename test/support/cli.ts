import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

/**
 * The `chorus` CLI as a user runs it: each command a child process (from the TypeScript source),
 * with its own profile folder (`--profile DIR`), and nothing from the developer's environment.
 */

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI_MAIN = join(ROOT, 'src', 'cli', 'main.ts');
export const PASSWORD = 'correct horse battery staple';
/** A chat code as the CLI prints it. */
export const CHAT_CODE = /\b([0-9A-Z]{5}-[0-9A-Z]{5})\b/;
/** Where a command without --profile would look: a folder nobody creates. */
const NO_DEFAULT_PROFILE = join(tmpdir(), `chorus-test-no-default-profile-${process.pid}`);

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every child: no CHORUS_* settings leaking in from the developer's shell. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', NO_COLOR: '1', CHORUS_HOME: NO_DEFAULT_PROFILE };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_') && key !== 'CHORUS_HOME') delete env[key];
  // Run as an installed `chorus` is, not through npm (npm test's variables would make messages say `npx chorus`).
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
  return { ...env, ...extra };
}

export function spawnChorus(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI_MAIN, ...args], { cwd: ROOT, env: childEnv(env), stdio: 'pipe' });
}

export function finished(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `chorus ARGS`; `input` is written to stdin, which is then closed. */
export function chorus(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  const child = spawnChorus(args, options.env);
  const result = finished(child);
  child.stdin!.end(options.input ?? '');
  return result;
}

/** `--profile DIR ARGS…` */
export const as = (profile: string, ...args: string[]) => ['--profile', profile, ...args];

/** The one line a failure prints. */
export function failureLine(run: Run): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, `stderr: ${run.stderr}`).toHaveLength(1);
  return lines[0]!;
}

/** Registers someone with `chorus register` into the profile folder `dir`, logged in after. */
export async function registerProfile(dir: string, server: string, name: string, email = `${name.toLowerCase()}@example.com`): Promise<void> {
  const run = await chorus(as(dir, 'register', '--name', name, '--email', email, '--server', server, '--password-stdin'), { input: `${PASSWORD}\n` });
  if (run.code !== 0) throw new Error(`chorus register ${name}: exit ${run.code}: ${run.stderr}`);
}

/** A port on loopback that nobody listens on. */
export async function deadPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

export interface Running {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves once `pattern` has been printed on `stream`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp | string, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<void>;
  /** Resolves when the command has exited. */
  result: Promise<Run>;
}

/** Starts a long-running `chorus ARGS` (tail, chat) whose output is watched as it comes. */
export function startChorus(args: string[], env: Record<string, string> = {}): Running {
  const child = spawnChorus(args, env);
  const result = finished(child);
  let exited = false;
  void result.then(() => (exited = true));
  const seen = { stdout: '', stderr: '' };
  child.stdout!.on('data', (s: string) => (seen.stdout += s));
  child.stderr!.on('data', (s: string) => (seen.stderr += s));
  return {
    child,
    result,
    output: () => ({ ...seen }),
    async waitFor(pattern, stream = 'stdout', timeoutMs = 20_000) {
      const found = () => (typeof pattern === 'string' ? seen[stream].includes(pattern) : pattern.test(seen[stream]));
      const deadline = Date.now() + timeoutMs;
      while (!found()) {
        if (exited) throw new Error(`chorus ${args.join(' ')} exited before printing ${pattern} on ${stream}: ${JSON.stringify(seen)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on ${stream}: ${JSON.stringify(seen)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}

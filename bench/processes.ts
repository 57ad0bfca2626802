import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from '../test/support/messaging.js';

/** What the benchmarks need of child processes: starting them, their output, their CPU and memory. */

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI_MAIN = join(ROOT, 'src', 'cli', 'main.ts');

/** CPU seconds (user + system; and system alone: the kernel's share) and peak resident memory of a process so far, from /proc. */
export function procStats(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const [user, system] = [Number(stat[11]), Number(stat[12])]; // utime, stime, in clock ticks (100/s)
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: (user + system) / 100, systemSeconds: system / 100, peakMiB: Number(hwm) / 1024 };
}

/** A TypeScript entry point run as its own Node process, as `npm run` would. */
export function spawnTs(entry: string, args: string[], options: { nodeFlags?: string[]; stdout?: 'pipe' | number; stderr?: 'pipe' | 'inherit'; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    stdio: ['pipe', options.stdout ?? 'pipe', options.stderr ?? 'pipe'],
    env: options.env ?? process.env,
  });
}

/** Collects a stream's text so that callers can wait for a line. */
export function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => (text += chunk));
  return { text: () => text };
}

export async function waitForOutput(output: { text: () => string }, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  await waitFor(() => pattern.test(output.text()), what, timeoutMs);
  return pattern.exec(output.text())!;
}

/** Waits for a process to end on its own; rejects if it fails. */
export async function exited(child: ChildProcess, what: string, stderr?: { text: () => string }): Promise<void> {
  const [code] = (child.exitCode !== null ? [child.exitCode] : await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${what} exited with ${code}: ${stderr?.text().slice(-2000) ?? ''}`);
}

/** Stops a process the benchmark started (by its pid) and waits for it to be gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** `chorus server` as its own process on free loopback ports; resolves with its HTTP address. */
export async function startChorusServer(dataDir: string, nodeFlags: string[] = [], extraArgs: string[] = []) {
  // --message-rate 0: one sender pipelining 20,000 messages measures the server, not the per-user limit.
  const args = ['server', '--data', dataDir, '--http-port', '0', '--tcp-port', '0', '--log-level', 'warn', '--message-rate', '0', ...extraArgs];
  const child = spawnTs(CLI_MAIN, args, { nodeFlags, stderr: 'inherit' });
  const output = collect(child.stdout);
  const url = (await waitForOutput(output, /http:\/\/127\.0\.0\.1:\d+/, 'the server to print its address'))[0];
  return { child, url };
}

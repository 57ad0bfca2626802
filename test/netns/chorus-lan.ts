// What the Chorus tests across network namespaces share: paths, the server started in a host,
// and the receiving fixture (fixtures/chorus-receive.ts) read as it prints.

import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Lan, LanHost } from './topology.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
export const NODE = process.execPath;

export const fixture = (name: string): string => join(ROOT, 'test', 'netns', 'fixtures', name);
export const tsx = (script: string, ...args: string[]): string[] => [NODE, '--import', 'tsx', fixture(script), ...args];

/** The environment of every child: no CHORUS_* settings leaking in from the developer's shell. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_')) delete env[key];
  return { ...env, ...extra };
}

/** A child's output read as JSON objects, one a line, as it arrives; other lines are skipped. */
export class JsonLines {
  private buffer = '';

  /** The complete lines `chunk` ends (with what was left of the previous one), as objects. */
  push(chunk: string): ({ event?: string } & Record<string, unknown>)[] {
    this.buffer += chunk;
    const objects: ({ event?: string } & Record<string, unknown>)[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const text = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!text.startsWith('{')) continue;
      try {
        objects.push(JSON.parse(text));
      } catch {
        // A line that only looks like JSON (a stack trace's brace): not ours.
      }
    }
    return objects;
  }
}

export interface Setup {
  chat: string;
  memberCount: number;
  multicast: { group: string; port: number };
  tcpPort: number;
  users: Record<string, { id: number; token: string }>;
}

/** A verdict of the receiver's delivery path (with CHORUS_LINK=1). */
export interface PathEvent {
  path: 'multicast' | 'server';
  reason: string;
  at: number;
}

export interface Delivered {
  seq: number;
  text: string;
  clientMsgId: string;
  sender: string;
  /** Date.now() in the receiving process when it delivered the message. */
  at: number;
}

export interface Stats {
  counts: { datagrams: number; heartbeats: number; repairs: number; repairedMessages: number };
  drops: Record<string, number>;
  lastDelivered: number | null;
}

/** A receiving fixture's output, read as it comes: what it delivered, its stats and errors. */
export class ReceiverProcess {
  readonly delivered: Delivered[] = [];
  readonly errors: string[] = [];
  readonly paths: PathEvent[] = [];
  /** Who was typing, each time it changed (with CHORUS_SELF_ID). */
  readonly typing: { names: string[]; at: number }[] = [];
  /** When the process was started (Date.now()). */
  readonly startedAt = Date.now();
  stderr = '';
  private ready = false;
  /** When it printed "ready" (joined, history in): its delivery path is decided from then on. */
  readyAt = 0;
  private exited = false;
  private readonly lines = new JsonLines();
  private readonly statsWaiters: ((s: Stats) => void)[] = [];
  private readonly changeWaiters = new Set<() => void>();

  constructor(
    readonly host: LanHost,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    child.once('close', () => {
      this.exited = true;
      this.changed();
    });
  }

  /** Resolves when `check` holds; rejects if the process exits first or after `timeoutMs`. */
  async until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.exited) throw new Error(`receiver in ${this.host.name} exited before ${what}:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what} in ${this.host.name} (delivered ${this.delivered.length}, ` +
            `errors: ${this.errors.slice(-3).join('; ') || 'none'})\n${this.stderr}`,
        );
      }
      await new Promise<void>((wake) => {
        const done = (): void => {
          clearTimeout(timer);
          this.changeWaiters.delete(done);
          wake();
        };
        const timer = setTimeout(done, Math.min(left, 1000));
        this.changeWaiters.add(done);
      });
    }
  }

  waitReady(): Promise<void> {
    return this.until(() => this.ready, 'the receiver to join', 30_000);
  }

  /** Asks the receiver for its counters. */
  async stats(): Promise<Stats> {
    let stats: Stats | undefined;
    this.statsWaiters.push((s) => (stats = s));
    this.child.stdin!.write('stats\n');
    await this.until(() => stats !== undefined, 'stats', 10_000);
    return stats!;
  }

  private onData(chunk: string): void {
    for (const event of this.lines.push(chunk)) {
      if (event.event === 'ready') {
        this.ready = true;
        this.readyAt = Date.now();
      }
      else if (event.event === 'message') this.delivered.push(event as unknown as Delivered);
      else if (event.event === 'error') this.errors.push(String(event['message']));
      else if (event.event === 'path') this.paths.push(event as unknown as PathEvent);
      else if (event.event === 'typing') this.typing.push(event as unknown as { names: string[]; at: number });
      else if (event.event === 'stats') this.statsWaiters.shift()?.(event as unknown as Stats);
    }
    this.changed();
  }

  private changed(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }
}

/** What the server printed (its addresses, then its log at level warn and above, which pino writes to stdout), shown when a send fails. */
export const serverLog: string[] = [];

export interface Listening {
  httpUrl: string;
  tlsFingerprint: string | undefined;
}

/**
 * Starts `chorus server` in host A, listening and multicasting on A's address, with no per-user
 * message rate (one sender pushes the whole burst: this is about delivery, not the abuse limit);
 * resolves once it listens (and, when it speaks TLS, has printed its certificate's fingerprint).
 */
export function startServer(lan: Lan, a: LanHost, dataDir: string, extraArgs: string[] = []): { child: ChildProcess; ready: Promise<Listening> } {
  const child = lan.spawn(
    a,
    [
      NODE, '--import', 'tsx', MAIN, 'server',
      '--data', dataDir,
      '--host', a.address,
      '--http-port', '0',
      '--tcp-port', '0',
      '--multicast-interface', a.address,
      '--multicast-ttl', '1',
      '--message-rate', '0',
      '--log-level', 'warn',
      ...extraArgs,
    ],
    { cwd: ROOT, env: childEnv() },
  );
  let seen = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    serverLog.push(s);
  });
  const ready = new Promise<Listening>((resolveListening, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      seen += chunk;
      serverLog.push(chunk);
      const url = /listening on (https?:\/\/\S+) \(HTTP API\)/.exec(seen)?.[1];
      const fingerprint = /fingerprint \(SHA-256\): ([0-9A-F:]+)/.exec(seen)?.[1];
      if (url && (url.startsWith('http:') || fingerprint)) resolveListening({ httpUrl: url, tlsFingerprint: fingerprint });
    });
    child.once('close', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${stderr}`)));
  });
  return { child, ready };
}

/** An acknowledgement a sending fixture printed (with CHORUS_ACK_EVENTS=1). */
export interface AckEvent {
  /** Index of the message's text (textOf(i)). */
  i: number;
  seq: number;
  /** The client message id. */
  id: string;
}

/**
 * A sending fixture (fixtures/chorus-send.ts with CHORUS_ACK_EVENTS=1) read as it prints: every
 * acknowledgement as it arrives, and whether it finished (every message acknowledged) or failed.
 */
export class SenderProcess {
  readonly acks: AckEvent[] = [];
  stderr = '';
  /** Set when it printed its final "sent" line: every message acknowledged. */
  finishedAt: number | undefined;
  readonly startedAt = Date.now();
  /** Resolves with its exit code (null if killed) once it has exited and its output is read. */
  readonly exited: Promise<number | null>;
  private readonly lines = new JsonLines();

  constructor(
    readonly where: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once `n` acknowledgements arrived; rejects if it exits first or after `timeoutMs`. */
  async untilAcked(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acks.length < n) {
      if (!this.running) throw new Error(`sender ${this.where} exited after ${this.acks.length} acks, before ${n}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`sender ${this.where}: ${this.acks.length} acks after ${timeoutMs} ms, waiting for ${n}:\n${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves with its exit code once it exits; rejects after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`sender ${this.where} still running after ${timeoutMs} ms (${this.acks.length} acks):\n${this.stderr.slice(-2000)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private onData(chunk: string): void {
    for (const event of this.lines.push(chunk)) {
      if (event.event === 'ack') this.acks.push(event as unknown as AckEvent);
      else if (event.event === 'sent') this.finishedAt = Date.now();
    }
  }
}

/**
 * Side by side, end to end, as users script it: one `chorus send --stdin` process pipelining N
 * short lines into one chat, and R `chorus tail --json` processes each writing to its own file;
 * then the same with the Socket.IO + SQLite server a Node developer would write instead
 * (bench/peer-socketio.ts), its sender and receivers separate processes too. The clock starts
 * when the lines are written to the connected sender's stdin and stops when the last receiver's
 * file has the last message (the file's modification time): process start-up, login and joins
 * are not counted, for either. With a warm-up, W other lines go through the same chat first, from
 * a sender of their own, and the timed sender is a new process: the receivers have been following
 * the chat, as they would when a burst comes, and the burst is one more command.
 */
import { type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../test/support/messaging.js';
import { CLI_MAIN, ROOT, collect, exited, procStats, spawnTs, startChorusServer, stop, waitForOutput } from './processes.js';

const PEER = join(ROOT, 'bench', 'peer-socketio.ts');
const PASSWORD = 'correct horse battery staple';

export interface SideBySideRow {
  receivers: number;
  messages: number;
  chorusPerSecond: number;
  peerPerSecond: number;
  ratio: number;
  /** With several rounds: the lowest and highest ratio of one round's two runs. */
  ratioRange?: string;
  chorusServerCpuPer1000: number;
  peerServerCpuPer1000: number;
  /** CPU seconds per 1,000 messages of one receiver process (the mean over them). */
  chorusReceiverCpuPer1000: number;
  peerReceiverCpuPer1000: number;
}

/** What a run needs of one system: its server, a receiver process, a sender process. */
interface System {
  serverPid: number;
  /** Starts receiver `i` writing to the file descriptor `fd`; resolves once it listens. */
  startReceiver(fd: number): Promise<ChildProcess>;
  /** Starts the sender; resolves once it is connected and about to read stdin. */
  startSender(): Promise<{ child: ChildProcess; stderr: { text: () => string } }>;
  close(): Promise<void>;
  /** Chorus only: the server's counters that tell how it packed (its /api/metrics). */
  counters?(): Promise<Map<string, number>>;
}

/**
 * `profile`: a folder for V8 CPU profiles of Chorus's processes (server, sender, receivers), one
 * sub-folder per receiver count and process: where the end-to-end time goes. `rounds`: how many
 * times each system runs per receiver count, the two alternating; each figure is the median of
 * its rounds (the peer's rate moves a lot from run to run on a busy machine).
 */
export async function runSideBySide(options: { messages: number; receivers: number[]; rounds?: number; profile?: string; warmUp?: number }): Promise<SideBySideRow[]> {
  const rows: SideBySideRow[] = [];
  const rounds = options.rounds ?? 1;
  const warmUp = options.warmUp ?? 0;
  for (const r of options.receivers) {
    profileDir = options.profile && join(options.profile, `R${r}`);
    const chorus: Measured[] = [];
    const peer: Measured[] = [];
    for (let round = 1; round <= rounds; round++) {
      const of = rounds > 1 ? ` (round ${round} of ${rounds})` : '';
      process.stderr.write(`side by side: ${options.messages} lines, ${r} receiver process(es): Chorus${of}…\n`);
      chorus.push(await measure(chorusSystem, options.messages, r, warmUp));
      process.stderr.write(`side by side: ${options.messages} lines, ${r} receiver process(es): Socket.IO + SQLite${of}…\n`);
      peer.push(await measure(peerSystem, options.messages, r, warmUp));
    }
    const ratios = chorus.map((c, i) => c.perSecond / peer[i]!.perSecond);
    const chorusPerSecond = median(chorus.map((m) => m.perSecond));
    const peerPerSecond = median(peer.map((m) => m.perSecond));
    rows.push({
      receivers: r,
      messages: options.messages,
      chorusPerSecond,
      peerPerSecond,
      ratio: +(chorusPerSecond / peerPerSecond).toFixed(2),
      ...(rounds > 1 ? { ratioRange: `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` } : {}),
      chorusServerCpuPer1000: median(chorus.map((m) => m.serverCpuPer1000)),
      peerServerCpuPer1000: median(peer.map((m) => m.serverCpuPer1000)),
      chorusReceiverCpuPer1000: median(chorus.map((m) => m.receiverCpuPer1000)),
      peerReceiverCpuPer1000: median(peer.map((m) => m.receiverCpuPer1000)),
    });
  }
  return rows;
}

/** The middle value (the mean of the middle two for an even count, to 4 decimals: 0.0065, not 0.006500000000000001). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : +((sorted[middle - 1]! + sorted[middle]!) / 2).toFixed(4);
}

/** CPU seconds the receiver processes have used, together (user + system, and system alone). */
function receiverCpuSeconds(receivers: ChildProcess[]): { cpuSeconds: number; systemSeconds: number } {
  const stats = receivers.map((child) => procStats(child.pid!));
  return { cpuSeconds: stats.reduce((sum, s) => sum + s.cpuSeconds, 0), systemSeconds: stats.reduce((sum, s) => sum + s.systemSeconds, 0) };
}

interface Measured {
  perSecond: number;
  serverCpuPer1000: number;
  receiverCpuPer1000: number;
}

/** The chat's first `count` lines, untimed, from a sender process of their own; resolves once every file has them. */
async function warmUpReceivers(system: System, files: string[], count: number): Promise<void> {
  const sender = await system.startSender();
  sender.child.stdin!.end(benchLines(count, 'warm-up'));
  await exited(sender.child, 'the warm-up sender', sender.stderr);
  await untilEveryFileHas(files, count);
}

/** `count` lines of about 60 bytes, numbered. */
function benchLines(count: number, label: string): string {
  return Array.from({ length: count }, (_, i) => `${label} ${i} ${'x'.repeat(50)}`).join('\n') + '\n';
}

function untilEveryFileHas(files: string[], seq: number): Promise<void> {
  const last = new RegExp(`"seq":${seq}[,}]`);
  return waitFor(() => files.every((file) => last.test(tailOf(file))), `every receiver to have message ${seq}`, 600_000);
}

async function measure(start: (dir: string) => Promise<System>, messages: number, receiverCount: number, warmUp: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-side-by-side-'));
  const system = await start(dir);
  const receivers: ChildProcess[] = [];
  try {
    const files = Array.from({ length: receiverCount }, (_, i) => join(dir, `receiver-${i}.jsonl`));
    for (const file of files) {
      const fd = openSync(file, 'w');
      try {
        receivers.push(await system.startReceiver(fd));
      } finally {
        closeSync(fd);
      }
    }
    if (warmUp > 0) await warmUpReceivers(system, files, warmUp);
    const sender = await system.startSender();
    const lines = benchLines(messages, 'line');
    const countersBefore = await system.counters?.();
    const serverBefore = procStats(system.serverPid);
    const receiversCpuBefore = receiverCpuSeconds(receivers);
    const startedAt = Date.now();
    sender.child.stdin!.end(lines);
    await exited(sender.child, 'the sender', sender.stderr);
    await untilEveryFileHas(files, warmUp + messages);
    const finishedAt = Math.max(...files.map((file) => statSync(file).mtimeMs));
    const serverAfter = procStats(system.serverPid);
    const cpuSeconds = serverAfter.cpuSeconds - serverBefore.cpuSeconds;
    const systemSeconds = serverAfter.systemSeconds - serverBefore.systemSeconds;
    const receiversCpuAfter = receiverCpuSeconds(receivers);
    const receiverCpu = (receiversCpuAfter.cpuSeconds - receiversCpuBefore.cpuSeconds) / receivers.length;
    const receiverSystem = (receiversCpuAfter.systemSeconds - receiversCpuBefore.systemSeconds) / receivers.length;
    for (const file of files) checkComplete(file, warmUp + messages);
    process.stderr.write(`  ${commitTimeline(files[0]!, startedAt, warmUp)}; every receiver done +${Math.round(finishedAt - startedAt)} ms\n`);
    const counters = await system.counters?.();
    if (counters) {
      const count = (name: string) => (counters.get(name) ?? 0) - (countersBefore?.get(name) ?? 0);
      const datagrams = count('chorus_datagrams_sent_total');
      process.stderr.write(
        `  chorus packed ${messages} messages in ${count('chorus_commits_total')} commits and ${datagrams} DATA datagrams (${(messages / datagrams).toFixed(1)} a datagram), with ${count('chorus_vouches_sent_total')} VOUCHes; ${count('chorus_messages_pushed_total')} messages pushed over TCP, ${count('chorus_progress_reports_total')} progress reports, ${count('chorus_multicast_rate_decreases_total')} pace decreases, ${count('chorus_read_updates_total')} read updates, ${count('chorus_events_datagrams_total')} EVENTS datagrams, ${count('chorus_heartbeats_sent_total')} heartbeats, ${count('chorus_acks_total')} acks\n`,
      );
    }
    // The kernel's share says how much of a server's CPU is system calls: on loopback, that is
    // where a multicast datagram is copied to every receiver's socket.
    process.stderr.write(`  server CPU ${cpuSeconds.toFixed(2)} s, ${Math.round((systemSeconds / cpuSeconds) * 100)}% of it in the kernel; each receiver ${receiverCpu.toFixed(2)} s, ${Math.round((receiverSystem / receiverCpu) * 100)}% in the kernel\n`);
    return {
      perSecond: Math.round(messages / ((finishedAt - startedAt) / 1000)),
      serverCpuPer1000: +((cpuSeconds / messages) * 1000).toFixed(3),
      receiverCpuPer1000: +((receiverCpu / messages) * 1000).toFixed(3),
    };
  } finally {
    for (const child of receivers) await stop(child);
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The last few hundred bytes of a file, where its last line is. */
function tailOf(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 512);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * When the server committed the first, middle and last message (their sentAt, both servers
 * stamp it at the commit), from the start: a last delivery long after the last commit is time
 * spent between the two (the multicast pace, receivers behind), not in the commits.
 */
function commitTimeline(file: string, startedAt: number, skip: number): string {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').slice(skip);
  const at = (line: string) => Math.round(Date.parse((JSON.parse(line) as { sentAt: string }).sentAt) - startedAt);
  return `commits: first +${at(lines[0]!)} ms, middle +${at(lines[Math.floor(lines.length / 2)]!)} ms, last +${at(lines[lines.length - 1]!)} ms`;
}

/** Every message once, in order: seq 1..n, one per line. */
function checkComplete(file: string, messages: number): void {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const inOrder = lines.length === messages && lines.every((line, i) => (JSON.parse(line) as { seq: number }).seq === i + 1);
  if (!inOrder) throw new Error(`${file}: expected seq 1..${messages} once each, got ${lines.length} lines`);
}

// ---- Chorus: the CLI as users run it ----

/** The CLI's environment: no CHORUS_* settings from the shell; profiles are given with --profile. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_')) delete env[key];
  return { ...env, CHORUS_HOME: join(tmpdir(), 'chorus-bench-no-default-profile') };
}

/** Where this run's CPU profiles go (runSideBySide's `profile`), if anywhere. */
let profileDir: string | undefined;

/** Node flags that make a process of `role` write its CPU profile, when profiles are asked for. */
function profileFlags(role: string): string[] {
  return profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, role)] : [];
}

function chorusCli(profile: string, args: string[], stdout: 'pipe' | number = 'pipe', role?: string): ChildProcess {
  return spawnTs(CLI_MAIN, ['--profile', profile, ...args], { stdout, env: cliEnv(), nodeFlags: role ? profileFlags(role) : [] });
}

async function chorusRun(profile: string, args: string[], input = ''): Promise<string> {
  const child = chorusCli(profile, args);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  child.stdin!.end(input);
  await exited(child, `chorus ${args[0]}`, stderr);
  return stdout.text();
}

async function chorusSystem(dir: string): Promise<System> {
  const server = await startChorusServer(join(dir, 'data'), profileFlags('server'));
  const writer = join(dir, 'writer');
  const reader = join(dir, 'reader');
  const register = (profile: string, name: string) =>
    chorusRun(profile, ['register', '--name', name, '--email', `${name.toLowerCase()}@example.com`, '--server', server.url, '--password-stdin'], `${PASSWORD}\n`);
  await register(writer, 'Writer');
  const { code } = JSON.parse(await chorusRun(writer, ['create', 'bench', '--json'])) as { code: string };
  await register(reader, 'Reader');
  await chorusRun(reader, ['join', code]);
  const tcpConnections = async () => {
    const metrics = await (await fetch(`${server.url}/api/metrics`)).text();
    return Number(/^chorus_tcp_connections (\d+)/m.exec(metrics)?.[1] ?? 0);
  };
  let receivers = 0;
  return {
    serverPid: server.child.pid!,
    async startReceiver(fd) {
      const child = chorusCli(reader, ['tail', code, '--json', '--history', '0'], fd, 'tail');
      await waitForOutput(collect(child.stderr), /Following/, 'chorus tail to follow the chat');
      receivers++;
      return child;
    },
    async startSender() {
      // Each tail holds a session connection; a warm-up sender's is gone once the server saw it close.
      let before = await tcpConnections();
      for (const deadline = Date.now() + 10_000; before > receivers && Date.now() < deadline; before = await tcpConnections()) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const child = chorusCli(writer, ['send', code, '--stdin'], 'pipe', 'send');
      const stderr = collect(child.stderr);
      // Connected (it reads stdin only after): its TCP connection is open at the server.
      let connected = false;
      while (!connected) {
        await new Promise((r) => setTimeout(r, 20));
        connected = (await tcpConnections()) > before;
      }
      return { child, stderr };
    },
    async counters() {
      const metrics = await (await fetch(`${server.url}/api/metrics`)).text();
      return new Map([...metrics.matchAll(/^(chorus_[a-z_]+) (\d+(?:\.\d+)?)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    },
    close: () => stop(server.child),
  };
}

// ---- The peer: Socket.IO + SQLite ----

async function peerSystem(dir: string): Promise<System> {
  const server = spawnTs(PEER, ['server', join(dir, 'peer.sqlite')], { stderr: 'inherit' });
  const port = Number((await waitForOutput(collect(server.stdout), /listening (\d+)/, 'the Socket.IO server to listen'))[1]);
  const room = 'bench';
  return {
    serverPid: server.pid!,
    async startReceiver(fd) {
      const child = spawnTs(PEER, ['receive', String(port), room], { stdout: fd });
      await waitForOutput(collect(child.stderr), /joined/, 'a Socket.IO receiver to join');
      return child;
    },
    async startSender() {
      const child = spawnTs(PEER, ['send', String(port), room]);
      const stderr = collect(child.stderr);
      await waitForOutput(collect(child.stdout), /ready/, 'the Socket.IO sender to connect');
      return { child, stderr };
    },
    close: () => stop(server),
  };
}

/**
 * Messaging benchmark, library level: one Sender in this process pipelines N messages into one
 * chat while R Receivers, each its own process (bench/receiver-process.ts) as on members'
 * machines, deliver them from multicast. The server runs as a child process so that its CPU time
 * and peak memory are its own. Prints figures; asserts nothing about speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sender } from '../src/client/sender.js';
import { tcpPortOf } from '../test/support/messaging.js';
import { http, signUp } from '../test/support/server.js';
import { ROOT, collect, procStats, spawnTs, startChorusServer, stop, waitForOutput } from './processes.js';
import type { ReceiverReport } from './receiver-process.js';

const RECEIVER = join(ROOT, 'bench', 'receiver-process.ts');

export interface MessagingOptions {
  messages: number;
  receivers: number[];
  rate: number;
  rateSeconds: number;
  profile?: string;
  /**
   * A diagnostic, not a setting for figures to quote: the receivers' scheduling priority
   * (`nice`, 1..19 lower). It shows how much of a figure is the receivers taking the server's
   * and the sender's cores, as they would not on machines of their own.
   */
  receiverNice?: number;
  /** Messages committed and multicast into the receivers' chat before each timed run, not counted (receivers skip them). */
  warmUp: number;
}

/**
 * At full speed the bench hands the Sender at most this many messages ahead of their acks, as
 * `chorus send --stdin` reads ahead of its (src/cli/messaging-commands.ts). Handing it all of
 * them in one synchronous loop kept this process from reading the first acks for 70 ms of a
 * 600 ms run (docs/benchmarks.md, session 26).
 */
const READ_AHEAD = 2048;
/** Client ids of timed messages are `b<index>`; the warm-up's, `w<index>`, which receivers skip (receiver-process.ts). */
const TIMED_ID_PREFIX = 'b';
const WARM_UP_ID_PREFIX = 'w';

/**
 * Sends `messages` 60-byte messages with ids b0, b1 … into the chat, as fast as the sender's
 * window and READ_AHEAD allow, or at `ratePerSecond`; when each was sent and acknowledged (epoch
 * ms), and how long until all were acknowledged.
 */
export async function pipeline(sender: Sender, chat: string, messages: number, ratePerSecond?: number, idPrefix = TIMED_ID_PREFIX) {
  const text = 'x'.repeat(60);
  const now = () => performance.timeOrigin + performance.now();
  const sentAt: number[] = [];
  const ackedAt: number[] = [];
  const start = now();
  const send = (i: number) => {
    sentAt[i] = now();
    return sender.send(chat, text, `${idPrefix}${i}`).then(() => void (ackedAt[i] = now()));
  };
  if (ratePerSecond) {
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < messages; i++) {
      const wait = start + (i * 1000) / ratePerSecond - now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      acks.push(send(i));
    }
    await Promise.all(acks);
  } else {
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let acked = 0;
      const more = () => {
        while (sent < messages && sent - acked < READ_AHEAD) {
          send(sent++).then(() => (++acked === messages ? resolve() : more()), reject);
        }
      };
      more();
    });
  }
  return { start, sentAt, ackedAt, committedMs: now() - start };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A receiver as its own process (bench/receiver-process.ts); resolves once it has joined. */
export async function startReceiver(url: string, token: string, code: string, messages: number, nice?: number) {
  const child = spawnTs(RECEIVER, [url, code, String(messages)], { env: { ...process.env, BENCH_TOKEN: token }, stderr: 'inherit' });
  if (nice) setPriority(child.pid!, nice);
  const output = collect(child.stdout);
  await waitForOutput(output, /^ready$/m, 'a receiver to join');
  const report = async () => {
    await waitForOutput(output, /^\{.*\}$/m, 'a receiver to deliver every message', 600_000);
    return JSON.parse(/^\{.*\}$/m.exec(output.text())![0]) as ReceiverReport;
  };
  return { child, report };
}

/**
 * A server that has been running a while has its hot paths compiled by V8's optimizing JIT; one
 * just started has not, and a 20,000-message run at full speed lasts well under a second (at
 * R = 1, 24,361 / 26,746 committed a second without this, 27,876 / 27,163 with it, and the
 * server's CPU per message a quarter lower; docs/benchmarks.md, session 26). The same holds for
 * members' receivers, which in use have been following their chat. So each timed run follows
 * `messages` sent into the chat the receivers follow, acknowledged and multicast, which the
 * figures do not count (the receivers skip them: their client ids say warm-up). Resolves once
 * the server's multicast of them is done, so that they hold no share of the pace.
 */
async function warmUp(url: string, token: string, port: number, code: string, messages: number): Promise<void> {
  if (messages === 0) return;
  const sender = new Sender({ host: '127.0.0.1', port, token, window: 1000 });
  await sender.connect();
  await pipeline(sender, code, messages, undefined, WARM_UP_ID_PREFIX);
  sender.close();
  let sent = -1;
  for (;;) {
    const now = await datagramsSent(url);
    if (now === sent) return;
    sent = now;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** DATA datagrams the server has multicast since it started. */
async function datagramsSent(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/api/metrics`)).text();
  return Number(/^chorus_datagrams_sent_total (\d+)/m.exec(metrics)?.[1]);
}

async function scenario(options: MessagingOptions, receiverCount: number, messages: number, ratePerSecond?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-bench-'));
  const { child, url } = await startChorusServer(dataDir, options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile] : []);
  const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
  try {
    const call = http(url);
    const owner = await signUp(url, 'Bench');
    const port = await tcpPortOf(url);
    const chat = (await call('POST', '/api/chats', { token: owner.token, json: { name: 'bench' } })).body;
    for (let i = 0; i < receiverCount; i++) receivers.push(await startReceiver(url, owner.token, chat.code, messages, options.receiverNice));
    await warmUp(url, owner.token, port, chat.code, options.warmUp);
    const sender = new Sender({ host: '127.0.0.1', port, token: owner.token, window: 1000 });
    await sender.connect();
    const datagramsBefore = await datagramsSent(url);
    const before = procStats(child.pid!);
    const { start, sentAt, ackedAt, committedMs } = await pipeline(sender, chat.code, messages, ratePerSecond);
    const reports = await Promise.all(receivers.map((r) => r.report()));
    const after = procStats(child.pid!);
    const datagrams = (await datagramsSent(url)) - datagramsBefore;
    sender.close();
    const latencies = reports.flatMap((r) => r.deliveredAt.map((t, i) => t - sentAt[i]!)).sort((a, b) => a - b);
    const ackLatencies = ackedAt.map((t, i) => t - sentAt[i]!).sort((a, b) => a - b);
    const deliveredMs = reports.reduce((last, r) => r.deliveredAt.reduce((a, b) => Math.max(a, b), last), 0) - start;
    const repaired = reports.reduce((sum, r) => sum + r.repairedMessages, 0);
    return {
      receivers: receiverCount,
      messages,
      offered: ratePerSecond ? `${ratePerSecond}/s` : 'max',
      committedPerSecond: Math.round(messages / (committedMs / 1000)),
      deliveredPerSecond: Math.round((messages * receiverCount) / (deliveredMs / 1000)),
      p50ms: +percentile(latencies, 50).toFixed(2),
      p99ms: +percentile(latencies, 99).toFixed(2),
      maxMs: +(latencies.at(-1) ?? NaN).toFixed(2),
      // send() to its ack: the part of a delivery's latency spent before anything is multicast
      // (the sender's process, TCP, the server's commit and its fsync).
      ackP99ms: +percentile(ackLatencies, 99).toFixed(2),
      serverCpuSecondsPer1000: +(((after.cpuSeconds - before.cpuSeconds) / messages) * 1000).toFixed(3),
      serverPeakMiB: +after.peakMiB.toFixed(1),
      // How full datagrams are: messages per DATA datagram.
      messagesPerDatagram: +(messages / datagrams).toFixed(1),
      // Deliveries that came over the history API because the datagram was lost (here: dropped
      // by a receiver's full socket buffer when it fell behind).
      repairedPercent: +((repaired / (messages * receiverCount)) * 100).toFixed(1),
    };
  } finally {
    for (const r of receivers) await stop(r.child);
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Two runs per receiver count: as fast as one sender can pipeline (throughput), and paced at an
// offered rate the receivers keep up with (latency, and the server's CPU per message as R grows:
// receivers that fall behind lose datagrams from their socket buffers and repair over HTTP,
// which is extra server work that grows with R).
export async function runMessaging(options: MessagingOptions) {
  const rows = [];
  for (const r of options.receivers) {
    process.stderr.write(`throughput: ${options.messages} messages, ${r} receiver(s)…\n`);
    rows.push(await scenario(options, r, options.messages));
    process.stderr.write(`paced: ${options.rate}/s for ${options.rateSeconds} s, ${r} receiver(s)…\n`);
    rows.push(await scenario(options, r, options.rate * options.rateSeconds, options.rate));
  }
  return rows;
}

/**
 * Messaging benchmark (npm run bench): one sender pipelines N messages into one chat while R
 * receivers on loopback deliver them. The server runs as a child process so that its CPU time
 * and peak memory are its own. Prints figures; asserts nothing about speed.
 *
 *   npm run bench                       # R = 1, 10, 50: N = 20000 at full speed, then paced at 1000/s
 *   npm run bench -- --messages 50000 --receivers 1,10
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Command } from 'commander';
import { Receiver } from '../src/client/receiver.js';
import { Sender } from '../src/client/sender.js';
import { httpSource, serverKeyOf, tcpPortOf, waitFor } from '../test/support/messaging.js';
import { http, signUp } from '../test/support/server.js';

interface Options {
  messages: number;
  receivers: number[];
  rate: number;
  rateSeconds: number;
  profile?: string;
}

const program = new Command()
  .option('--messages <n>', 'messages per throughput run', (v) => Number(v), 20_000)
  .option('--receivers <list>', 'receiver counts, comma separated', (v) => v.split(',').map(Number), [1, 10, 50])
  .option('--rate <n>', 'messages per second offered in the latency run', (v) => Number(v), 1000)
  .option('--rate-seconds <n>', 'length of the latency run', (v) => Number(v), 5)
  .option('--profile <dir>', "write each server's V8 CPU profile (.cpuprofile) to this folder");
const options = program.parse().opts<Options>();

function procStats(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, in clock ticks (100/s)
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: ticks / 100, peakMiB: Number(hwm) / 1024 };
}

async function startServerProcess(dataDir: string) {
  // --message-rate 0: one sender pipelining 20,000 messages measures the server, not the per-user limit.
  const args = ['server', '--data', dataDir, '--http-port', '0', '--tcp-port', '0', '--log-level', 'warn', '--message-rate', '0'];
  const profile = options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/cli/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  await waitFor(() => /http:\/\/127\.0\.0\.1:\d+/.test(output), 'the server to print its address', 60_000);
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)![0];
  return { child, url };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function scenario(receiverCount: number, messages: number, ratePerSecond?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-bench-'));
  const { child, url } = await startServerProcess(dataDir);
  try {
    const call = http(url);
    const owner = await signUp(url, 'Bench');
    const chat = (await call('POST', '/api/chats', { token: owner.token, json: { name: 'bench' } })).body;
    const serverKey = await serverKeyOf(url);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    let delivered = 0;
    let lastDelivery = 0;
    const receivers: Receiver[] = [];
    for (let i = 0; i < receiverCount; i++) {
      const r = new Receiver({ source: httpSource(url, owner.token), serverKey, interfaceAddress: '127.0.0.1' });
      r.onMessage((m) => {
        delivered++;
        lastDelivery = performance.now();
        const t0 = sentAt.get(Number(m.clientMsgId.slice(1)));
        if (t0 !== undefined) latencies.push(lastDelivery - t0);
      });
      await r.join(chat.code, { after: 0 });
      receivers.push(r);
    }
    const sender = new Sender({ host: '127.0.0.1', port: await tcpPortOf(url), token: owner.token, window: 1000 });
    await sender.connect();
    const before = procStats(child.pid!);
    const text = 'x'.repeat(60);
    const start = performance.now();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < messages; i++) {
      if (ratePerSecond) {
        const due = start + (i * 1000) / ratePerSecond;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sentAt.set(i, performance.now());
      acks.push(sender.send(chat.code, text, `b${i}`));
    }
    await Promise.all(acks);
    const committedMs = performance.now() - start;
    await waitFor(() => delivered >= messages * receiverCount, 'every receiver to deliver every message', 300_000);
    const deliveredMs = lastDelivery - start;
    const after = procStats(child.pid!);
    const repaired = receivers.reduce((sum, r) => sum + r.counts.repairedMessages, 0);
    sender.close();
    for (const r of receivers) r.close();
    latencies.sort((a, b) => a - b);
    return {
      receivers: receiverCount,
      messages,
      offered: ratePerSecond ? `${ratePerSecond}/s` : 'max',
      committedPerSecond: Math.round(messages / (committedMs / 1000)),
      deliveredPerSecond: Math.round((messages * receiverCount) / (deliveredMs / 1000)),
      p50ms: +percentile(latencies, 50).toFixed(2),
      p99ms: +percentile(latencies, 99).toFixed(2),
      maxMs: +(latencies.at(-1) ?? NaN).toFixed(2),
      serverCpuSecondsPer1000: +(((after.cpuSeconds - before.cpuSeconds) / messages) * 1000).toFixed(3),
      serverPeakMiB: +after.peakMiB.toFixed(1),
      // Deliveries that came over the history API because the datagram was lost (here: dropped
      // by a receiver's full socket buffer, all receivers sharing one process and core).
      repairedPercent: +((repaired / (messages * receiverCount)) * 100).toFixed(1),
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Two runs per receiver count: as fast as one sender can pipeline (throughput), and paced at an
// offered rate the receivers keep up with (latency, and the server's CPU per message as R grows:
// at full speed, R receivers sharing this one process fall behind, lose datagrams from their
// socket buffers and repair over HTTP, which is extra server work that grows with R).
const rows = [];
for (const r of options.receivers) {
  process.stderr.write(`throughput: ${options.messages} messages, ${r} receiver(s)…\n`);
  rows.push(await scenario(r, options.messages));
  process.stderr.write(`paced: ${options.rate}/s for ${options.rateSeconds} s, ${r} receiver(s)…\n`);
  rows.push(await scenario(r, options.rate * options.rateSeconds, options.rate));
}
console.table(rows);

/**
 * Messaging benchmark, library level: one Sender pipelines N messages into one chat while R
 * Receivers in this process deliver them from multicast. The server runs as a child process so
 * that its CPU time and peak memory are its own. Prints figures; asserts nothing about speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Receiver } from '../src/client/receiver.js';
import { Sender } from '../src/client/sender.js';
import { httpSource, serverKeyOf, tcpPortOf, waitFor } from '../test/support/messaging.js';
import { http, signUp } from '../test/support/server.js';
import { procStats, startChorusServer, stop } from './processes.js';

export interface MessagingOptions {
  messages: number;
  receivers: number[];
  rate: number;
  rateSeconds: number;
  profile?: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function scenario(options: MessagingOptions, receiverCount: number, messages: number, ratePerSecond?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-bench-'));
  const { child, url } = await startChorusServer(dataDir, options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile] : []);
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
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Two runs per receiver count: as fast as one sender can pipeline (throughput), and paced at an
// offered rate the receivers keep up with (latency, and the server's CPU per message as R grows:
// at full speed, R receivers sharing this one process fall behind, lose datagrams from their
// socket buffers and repair over HTTP, which is extra server work that grows with R).
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

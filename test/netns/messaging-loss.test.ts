// Chorus under real datagram loss: the server in host A, three members receiving in B, C and D,
// one sender in E, each a separate process in its own network namespace on the test LAN
// (test/netns/topology.ts), running the real CLI server and the real client library. nftables
// drops about one datagram in ten of the chat's multicast port in every receiving host, so each
// receiver has gaps of its own to repair from the history API; then a last message whose only
// datagram is dropped has to be recovered through the server's heartbeats.
//
// Needs root, iproute2 and nftables; fails (does not skip) without them. Traffic stays inside the
// namespaces the test creates (10.213.0.0/24 exists only there).

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Delivered, ROOT, ReceiverProcess, type Setup, childEnv, serverLog, startServer, tsx } from './chorus-lan.js';
import { textOf } from './fixtures/texts.js';
import { type Lan, createLan, listNetns, requireRoot, toolPath } from './topology.js';

const PREFIX = 'chorus-loss';
const COUNT = 2000;
const RECEIVING = ['b', 'c', 'd'] as const;
const NAMES: Record<string, string> = { e: 'Sam', b: 'Bea', c: 'Cal', d: 'Dee' };
/** nftables table of the tail-loss rule: separate from the helper's `chorus_loss`, see below. */
const TAIL_TABLE = 'chorus_tail';

describe('messaging with real loss, across network namespaces', { timeout: 90_000 }, () => {
  let lan: Lan | undefined;
  let dataDir: string | undefined;
  let server: ChildProcess | undefined;
  let setup: Setup;
  let url: string;
  let fingerprint: string;
  const receivers = new Map<string, ReceiverProcess>();
  /** Which message (index i of textOf) got which sequence number. */
  const indexOfSeq = new Map<number, number>();

  const theLan = (): Lan => {
    if (!lan) throw new Error('LAN not created');
    return lan;
  };

  async function send(first: number, count: number): Promise<[number, number][]> {
    const l = theLan();
    const run = await l
      .exec('e', tsx('chorus-send.ts', l.host('a').address, String(setup.tcpPort), setup.chat, String(first), String(count)), {
        cwd: ROOT,
        env: childEnv({ CHORUS_TOKEN: setup.users[NAMES['e']!]!.token, CHORUS_FINGERPRINT: fingerprint }),
        timeoutMs: 40_000,
      })
      .catch((error: Error) => {
        throw new Error(`${error.message}\nserver stderr:\n${serverLog.join('')}`);
      });
    const sent = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { event: string; acks: [number, number][] };
    expect(sent.event).toBe('sent');
    for (const [i, seq] of sent.acks) indexOfSeq.set(seq, i);
    return sent.acks;
  }

  /** Sequence numbers 1..n, and each one's expected text. */
  function expectExactly(delivered: Delivered[], n: number): void {
    expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
    for (const m of delivered) {
      expect(m.text).toBe(textOf(indexOfSeq.get(m.seq)!));
      expect(m.sender).toBe(NAMES['e']);
    }
  }

  beforeAll(async () => {
    requireRoot();
    lan = await createLan({ prefix: PREFIX, hosts: ['a', 'b', 'c', 'd', 'e'] });
    const a = lan.host('a');
    dataDir = mkdtempSync(join(tmpdir(), 'chorus-netns-'));
    const started = startServer(lan, a, dataDir);
    server = started.child;
    const listening = await started.ready;
    url = listening.httpUrl;
    // Beyond loopback the server speaks TLS: every client pins its certificate.
    expect(url).toBe(`https://${a.address}:${new URL(url).port}`);
    expect(listening.tlsFingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    fingerprint = listening.tlsFingerprint!;

    const run = await lan.exec('e', tsx('chorus-setup.ts', url, ...['e', ...RECEIVING].map((h) => NAMES[h]!)), {
      cwd: ROOT,
      env: childEnv({ CHORUS_FINGERPRINT: fingerprint }),
      timeoutMs: 60_000,
    });
    setup = JSON.parse(run.stdout.trim()) as Setup;
    expect(setup.memberCount).toBe(4);

    for (const name of RECEIVING) {
      const host = lan.host(name);
      const child = lan.spawn(host, tsx('chorus-receive.ts', url, setup.chat, host.address), {
        cwd: ROOT,
        env: childEnv({ CHORUS_TOKEN: setup.users[NAMES[name]!]!.token, CHORUS_FINGERPRINT: fingerprint }),
      });
      receivers.set(name, new ReceiverProcess(host, child));
    }
    await Promise.all([...receivers.values()].map((r) => r.waitReady()));
  });

  afterAll(async () => {
    // Receivers exit when their stdin ends; the server stops on SIGTERM. destroy() then kills
    // (by handle) whatever of the processes the LAN spawned still runs, and deletes the
    // namespaces.
    for (const r of receivers.values()) r.child.stdin?.end();
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await lan?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const left = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  });

  it(`delivers ${COUNT} messages to every receiver exactly once and in order, with ~10% loss in each`, async () => {
    const l = theLan();
    const port = setup.multicast.port;
    for (const name of RECEIVING) await l.dropIncomingUdp(name, { port, everyNth: 10 });

    const acks = await send(1, COUNT);
    expect(acks).toHaveLength(COUNT);
    expect(new Set(acks.map(([, seq]) => seq))).toEqual(new Set(Array.from({ length: COUNT }, (_, k) => k + 1)));

    for (const r of receivers.values()) await r.until(() => r.delivered.length >= COUNT, `${COUNT} messages`, 45_000);
    for (const [name, r] of receivers) {
      expectExactly(r.delivered, COUNT);
      const counters = await l.nftCounters(name);
      const stats = await r.stats();
      // Loss really happened in this host, and what it lost came back through the history API.
      expect(counters.rules).toEqual([expect.objectContaining({ port, everyNth: 10 })]);
      expect(counters.dropped, `datagrams dropped in ${name}`).toBeGreaterThan(0);
      expect(stats.counts.repairedMessages, `messages repaired in ${name}`).toBeGreaterThan(0);
      // ... and only about what was lost (~10%: a datagram here carries at most 5 messages),
      // not the stream: repair must not turn multicast into one HTTP download per member.
      expect(stats.counts.repairedMessages, `messages repaired in ${name}`).toBeLessThan(COUNT / 2);
      expect(stats.counts.datagrams).toBeGreaterThan(0);
      expect(stats.lastDelivered).toBe(COUNT);
      // Everything that did arrive was genuine and readable.
      expect(stats.drops).toMatchObject({ malformed: 0, 'bad-signature': 0, 'unknown-key': 0, undecryptable: 0 });
    }
  });

  it('recovers a lost last message through a heartbeat', async () => {
    const l = theLan();
    const c = receivers.get('c')!;
    const port = setup.multicast.port;
    const before = await c.stats();

    // Drop, in C only, every DATA datagram of the chat's port, and nothing else: the payload
    // match reads the datagram header (docs/protocol.md) right after the 8-byte UDP header:
    // bytes 0-1 are the magic "CH" (@th,64,16) and byte 3 the type, 1 = DATA (@th,88,8).
    // Heartbeats (type 2) pass, whatever their timing, so the test does not race the server's
    // +50 ms / +250 ms / +1 s schedule. The rule lives in its own table at a priority before
    // the 10% random rule's, so it sees (and counts) the DATA datagram first: its counter then
    // says exactly how many DATA datagrams C missed.
    await l.exec('c', [toolPath('nft'), '-f', '-'], {
      input:
        `table inet ${TAIL_TABLE} {\n` +
        `  chain input {\n` +
        `    type filter hook input priority -10; policy accept;\n` +
        `    udp dport ${port} @th,64,16 0x4348 @th,88,8 1 counter drop\n` +
        `  }\n` +
        `}\n`,
    });
    try {
      const acks = await send(COUNT + 1, 1);
      expect(acks).toEqual([[COUNT + 1, COUNT + 1]]);
      for (const r of receivers.values()) await r.until(() => r.delivered.length >= COUNT + 1, 'the last message', 30_000);
      const tail = await l.exec('c', [toolPath('nft'), '-j', 'list', 'table', 'inet', TAIL_TABLE]);
      expect(tailDrops(tail.stdout), 'DATA datagrams dropped in C').toBe(1);
    } finally {
      await l.exec('c', [toolPath('nft'), 'delete', 'table', 'inet', TAIL_TABLE]);
    }

    // C never saw the datagram carrying the message: a heartbeat told it the chat had moved on,
    // and it fetched the message from history.
    const after = await c.stats();
    expect(after.counts.heartbeats).toBeGreaterThan(before.counts.heartbeats);
    expect(after.counts.repairedMessages).toBeGreaterThanOrEqual(before.counts.repairedMessages + 1);
    expect(after.lastDelivered).toBe(COUNT + 1);
    for (const r of receivers.values()) {
      // Still exactly once and in order, the whole run long.
      expectExactly(r.delivered, COUNT + 1);
      expect(r.errors).toEqual([]);
    }
  });
});

/** The packet counter of the single rule in the tail table (`nft -j list table` output). */
function tailDrops(json: string): number {
  const doc = JSON.parse(json) as { nftables?: Array<{ rule?: { expr?: Array<Record<string, unknown>> } }> };
  const rules = (doc.nftables ?? []).flatMap((item) => (item.rule ? [item.rule] : []));
  expect(rules).toHaveLength(1);
  const counter = rules[0]!.expr?.find((e) => 'counter' in e)?.['counter'] as { packets?: number } | undefined;
  if (!counter) throw new Error(`no counter in ${json}`);
  return counter.packets ?? 0;
}

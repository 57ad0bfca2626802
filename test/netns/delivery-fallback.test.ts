// Delivery where multicast does not arrive (issue 11): the server in host A, members receiving in
// B, C and D with the real client library and a server link (fixtures/chorus-receive.ts with
// CHORUS_LINK=1), a sender in E, each in its own network namespace on the test LAN. D's namespace
// drops every datagram to 224.0.0.0/4 (nftables), as a Wi-Fi access point or a Docker bridge
// would: D must notice within a few seconds and be pushed the chat over TCP, while B and C stay
// on multicast. F is blocked for a while only, and must come back to multicast. A neighbour
// forging probes must not make a blocked member believe multicast works.
//
// Needs root, iproute2 and nftables; fails (does not skip) without them. Traffic stays inside the
// namespaces the test creates (10.213.0.0/24 exists only there).

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Delivered, MAIN, NODE, ROOT, ReceiverProcess, type Setup, childEnv, serverLog, startServer, tsx } from './chorus-lan.js';
import { textOf } from './fixtures/texts.js';
import { type Lan, type LanHost, createLan, listNetns, requireRoot, toolPath } from './topology.js';

const PREFIX = 'chorus-push';
const COUNT = 2000;
const NAMES: Record<string, string> = { e: 'Sam', b: 'Bea', c: 'Cal', d: 'Dee', f: 'Fay', g: 'Gus' };
/** nftables table that blocks multicast in a host: separate from the loss helper's table. */
const BLOCK_TABLE = 'chorus_block';
/** Shorter probe timers for F, which must leave and come back within one test. */
const QUICK_PROBES = { timeoutMs: 1000, retryMs: 300, intervalMs: 1000, failuresToPush: 2, backIntervalMs: 2000, confirmIntervalMs: 500, successesToMulticast: 3 };

/** Drops every incoming datagram sent to a multicast group, in the host's namespace. */
async function blockMulticast(lan: Lan, host: string): Promise<void> {
  await lan.exec(host, [toolPath('nft'), '-f', '-'], {
    input: `table inet ${BLOCK_TABLE} {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    ip daddr 224.0.0.0/4 counter drop\n  }\n}\n`,
  });
}

async function unblockMulticast(lan: Lan, host: string): Promise<void> {
  await lan.exec(host, [toolPath('nft'), '-f', '-'], { input: `table inet ${BLOCK_TABLE}\ndelete table inet ${BLOCK_TABLE}\n` });
}

/** The server's Prometheus text, read from host E (the certificate is the server's own: not checked, it is only counts). */
async function metrics(lan: Lan, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(`${url}/api/metrics`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const run = await lan.exec('e', [NODE, '-e', script], { env: { ...childEnv(), NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
  return run.stdout;
}

/** The value of a metric without labels in Prometheus text, or undefined. */
function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('delivery falls back to server push where multicast does not arrive', { timeout: 180_000 }, () => {
  let lan: Lan | undefined;
  let dataDir: string | undefined;
  let server: ChildProcess | undefined;
  let setup: Setup;
  let url: string;
  let fingerprint: string;
  const receivers = new Map<string, ReceiverProcess>();
  const indexOfSeq = new Map<number, number>();
  let sentSoFar = 0;

  const theLan = (): Lan => {
    if (!lan) throw new Error('LAN not created');
    return lan;
  };

  function startReceiver(name: string, extraEnv: Record<string, string> = {}): ReceiverProcess {
    const host: LanHost = theLan().host(name);
    const child = theLan().spawn(host, tsx('chorus-receive.ts', url, setup.chat, host.address), {
      cwd: ROOT,
      env: childEnv({ CHORUS_TOKEN: setup.users[NAMES[name]!]!.token, CHORUS_FINGERPRINT: fingerprint, CHORUS_LINK: '1', ...extraEnv }),
    });
    const receiver = new ReceiverProcess(host, child);
    receivers.set(name, receiver);
    return receiver;
  }

  /** Sends the next `count` messages from E; resolves once all are acknowledged. */
  async function send(count: number): Promise<void> {
    const first = sentSoFar + 1;
    sentSoFar += count;
    const run = await theLan()
      .exec('e', tsx('chorus-send.ts', theLan().host('a').address, String(setup.tcpPort), setup.chat, String(first), String(count)), {
        cwd: ROOT,
        env: childEnv({ CHORUS_TOKEN: setup.users[NAMES['e']!]!.token, CHORUS_FINGERPRINT: fingerprint }),
        timeoutMs: 60_000,
      })
      .catch((error: Error) => {
        throw new Error(`${error.message}\nserver stderr:\n${serverLog.join('')}`);
      });
    const sent = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { acks: [number, number][] };
    for (const [i, seq] of sent.acks) indexOfSeq.set(seq, i);
  }

  /** Exactly 1..n, in order, once, each with its text. */
  function expectExactly(delivered: Delivered[], n: number): void {
    expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
    for (const m of delivered) expect(m.text).toBe(textOf(indexOfSeq.get(m.seq)!));
  }

  beforeAll(async () => {
    requireRoot();
    lan = await createLan({ prefix: PREFIX, hosts: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] });
    dataDir = mkdtempSync(join(tmpdir(), 'chorus-netns-'));
    const started = startServer(lan, lan.host('a'), dataDir);
    server = started.child;
    const listening = await started.ready;
    url = listening.httpUrl;
    fingerprint = listening.tlsFingerprint!;
    const run = await lan.exec('e', tsx('chorus-setup.ts', url, ...['e', 'b', 'c', 'd', 'f', 'g'].map((h) => NAMES[h]!)), {
      cwd: ROOT,
      env: childEnv({ CHORUS_FINGERPRINT: fingerprint }),
      timeoutMs: 60_000,
    });
    setup = JSON.parse(run.stdout.trim()) as Setup;
    await blockMulticast(lan, 'd');
  });

  afterAll(async () => {
    for (const r of receivers.values()) r.child.stdin?.end();
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await lan?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const left = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  });

  it(`a blocked member falls back to push within 3 s and gets all ${COUNT} messages, in order, once, as promptly as the others`, async () => {
    const [b, c, d] = ['b', 'c', 'd'].map((name) => startReceiver(name));
    await Promise.all([b, c, d].map((r) => r!.waitReady()));
    await Promise.all([b, c, d].map((r) => r!.until(() => r!.paths.length > 0, 'the first delivery verdict', 10_000)));
    expect(d!.paths).toHaveLength(1);
    expect(d!.paths[0]!.path).toBe('server');
    expect(d!.paths[0]!.reason).toMatch(/probe/);
    expect(d!.paths[0]!.at - d!.readyAt).toBeLessThanOrEqual(3000);
    for (const r of [b, c]) expect(r!.paths.map((p) => p.path)).toEqual(['multicast']);
    expect(metricValue(await metrics(theLan(), url), 'chorus_push_clients')).toBe(1);

    await send(COUNT);
    for (const r of [b, c, d]) await r!.until(() => r!.delivered.length >= COUNT, `all ${COUNT} messages`, 60_000);
    for (const r of [b, c, d]) {
      expectExactly(r!.delivered, COUNT);
      expect(r!.errors).toEqual([]);
    }
    // D, pushed over TCP, lags the first of the others by at most a second (99th percentile).
    const lags = d!.delivered.map((m, i) => m.at - Math.min(b!.delivered[i]!.at, c!.delivered[i]!.at));
    expect(percentile(lags, 99)).toBeLessThanOrEqual(1000);
    // Nobody changed path meanwhile.
    expect(d!.paths.map((p) => p.path)).toEqual(['server']);
    for (const r of [b, c]) expect(r!.paths.map((p) => p.path)).toEqual(['multicast']);
    expect(metricValue(await metrics(theLan(), url), 'chorus_push_clients')).toBe(1);
  });

  it('a member whose multicast stops for 10 s mid-stream switches to push and back, losing and repeating nothing', async () => {
    const f = startReceiver('f', { CHORUS_PROBE_TIMINGS: JSON.stringify(QUICK_PROBES) });
    await f.waitReady();
    await f.until(() => f.paths.length > 0, 'the first delivery verdict', 10_000);
    expect(f.paths.map((p) => p.path)).toEqual(['multicast']);
    const stream = (async () => {
      for (let batch = 0; batch < 12; batch++) {
        await send(50);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    await f.until(() => f.delivered.length >= COUNT + 100, 'the stream to be under way', 30_000);
    await blockMulticast(theLan(), 'f');
    const blockedAt = Date.now();
    try {
      await f.until(() => f.paths.at(-1)?.path === 'server', 'the switch to push', 15_000);
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - blockedAt))));
    } finally {
      await unblockMulticast(theLan(), 'f');
    }
    await stream;
    await f.until(() => f.paths.at(-1)?.path === 'multicast', 'the way back to multicast', 30_000);
    expect(f.paths.map((p) => p.path)).toEqual(['multicast', 'server', 'multicast']);
    // F joins from the start of the chat: the first test's messages, then the stream.
    await f.until(() => f.delivered.length >= sentSoFar, 'every message of the stream', 30_000);
    expectExactly(f.delivered, sentSoFar);
    expect(f.errors).toEqual([]);
  });

  it('chorus doctor gives its two verdicts: messages through the server in the blocked host, multicast in an open one', async () => {
    const verdicts: Record<string, { multicast: boolean; delivery: string; reason: string }> = {};
    for (const name of ['d', 'b']) {
      const host = theLan().host(name);
      const profile = mkdtempSync(join(tmpdir(), `chorus-doctor-${name}-`));
      try {
        const cli = (...args: string[]) => [NODE, '--import', 'tsx', MAIN, '--profile', profile, ...args];
        const env = childEnv({ CHORUS_PASSWORD: 'netns test password' });
        await theLan().exec(name, cli('login', '--server', url, '--email', `${NAMES[name]!.toLowerCase()}@netns.test`, '--fingerprint', fingerprint), { cwd: ROOT, env });
        const run = await theLan().exec(name, cli('doctor', '--json', '--chat', setup.chat, '--multicast-interface', host.address), { cwd: ROOT, env, allowFail: true });
        expect(run.code, run.stderr).toBe(0);
        verdicts[name] = JSON.parse(run.stdout) as (typeof verdicts)[string];
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    }
    expect(verdicts['d']).toMatchObject({ multicast: false, delivery: 'server' });
    expect(verdicts['d']!.reason).toMatch(/probe/);
    expect(verdicts['b']).toMatchObject({ multicast: true, delivery: 'multicast' });
  });

  it('a neighbour forging probes (re-signed copies of real ones, random nonces) does not keep a blocked member on multicast', async () => {
    await blockMulticast(theLan(), 'g');
    const c = theLan().host('c');
    const forger = theLan().spawn(c, tsx('probe-forger.ts', setup.multicast.group, String(setup.multicast.port), c.address, theLan().host('g').address), { cwd: ROOT, env: childEnv() });
    let forgerOut = '';
    forger.stdout!.setEncoding('utf8').on('data', (s: string) => (forgerOut += s));
    try {
      while (!forgerOut.includes('"ready"')) await new Promise((r) => setTimeout(r, 100));
      const g = startReceiver('g');
      await g.waitReady();
      await g.until(() => g.paths.length > 0, 'the first delivery verdict', 10_000);
      // Long enough for several probe rounds to be forged against.
      await new Promise((r) => setTimeout(r, 3000));
      expect(g.paths.map((p) => p.path)).toEqual(['server']);
      await send(20);
      await g.until(() => g.delivered.length >= sentSoFar, 'every message', 30_000);
      expectExactly(g.delivered, sentSoFar);
      expect(g.paths.map((p) => p.path)).toEqual(['server']);
    } finally {
      forger.stdin!.end();
      await new Promise((r) => forger.once('close', r));
    }
    const forged = JSON.parse(forgerOut.trim().split('\n').at(-1)!) as { count: number };
    expect(forged.count).toBeGreaterThan(10);
  });
});

describe('a server that cannot multicast at all', { timeout: 120_000 }, () => {
  let lan: Lan | undefined;
  let dataDir: string | undefined;
  let server: ChildProcess | undefined;
  const receivers: ReceiverProcess[] = [];

  afterAll(async () => {
    for (const r of receivers) r.child.stdin?.end();
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await lan?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('says so once in its log, and every client gets every message by push', async () => {
    requireRoot();
    lan = await createLan({ prefix: `${PREFIX}s`, hosts: ['a', 'b', 'c', 'e'] });
    // Host A's own firewall refuses to send to any multicast group: sends fail with EPERM.
    await lan.exec('a', [toolPath('nft'), '-f', '-'], {
      input: `table inet ${BLOCK_TABLE} {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    ip daddr 224.0.0.0/4 counter drop\n  }\n}\n`,
    });
    dataDir = mkdtempSync(join(tmpdir(), 'chorus-netns-'));
    const logStart = serverLog.length;
    const started = startServer(lan, lan.host('a'), dataDir);
    server = started.child;
    const { httpUrl, tlsFingerprint } = await started.ready;
    const names = { e: 'Sam', b: 'Bea', c: 'Cal' };
    const run = await lan.exec('e', tsx('chorus-setup.ts', httpUrl, names.e, names.b, names.c), { cwd: ROOT, env: childEnv({ CHORUS_FINGERPRINT: tlsFingerprint! }), timeoutMs: 60_000 });
    const setup = JSON.parse(run.stdout.trim()) as Setup;
    for (const name of ['b', 'c'] as const) {
      const host = lan.host(name);
      const child = lan.spawn(host, tsx('chorus-receive.ts', httpUrl, setup.chat, host.address), {
        cwd: ROOT,
        env: childEnv({ CHORUS_TOKEN: setup.users[names[name]]!.token, CHORUS_FINGERPRINT: tlsFingerprint!, CHORUS_LINK: '1' }),
      });
      receivers.push(new ReceiverProcess(host, child));
    }
    await Promise.all(receivers.map((r) => r.waitReady()));
    await Promise.all(receivers.map((r) => r.until(() => r.paths.length > 0, 'the first delivery verdict', 10_000)));
    for (const r of receivers) expect(r.paths.map((p) => p.path)).toEqual(['server']);
    const sent = await lan.exec('e', tsx('chorus-send.ts', lan.host('a').address, String(setup.tcpPort), setup.chat, '1', '300'), {
      cwd: ROOT,
      env: childEnv({ CHORUS_TOKEN: setup.users[names.e]!.token, CHORUS_FINGERPRINT: tlsFingerprint! }),
      timeoutMs: 60_000,
    });
    expect(sent.stdout).toContain('"sent"');
    for (const r of receivers) {
      await r.until(() => r.delivered.length >= 300, 'all 300 messages', 30_000);
      expect(r.delivered.map((m) => m.seq)).toEqual(Array.from({ length: 300 }, (_, k) => k + 1));
    }
    const log = serverLog.slice(logStart).join('');
    expect(log.match(/multicast sends fail/g) ?? []).toHaveLength(1);
  });
});

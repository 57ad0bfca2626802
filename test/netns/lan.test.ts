// Smoke test for the network-namespace test LAN (test/netns/topology.ts), with plain node:dgram
// and node:net in small fixture scripts: no Chorus code. Needs root, iproute2 and nftables; it
// fails (does not skip) without them. Traffic stays inside the namespaces it creates.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLan, listNetns, nextJson, requireRoot, toolPath, type Lan } from './topology.js';

const PREFIX = 'chorus-lantest';
const GROUP = '239.255.7.7';
const PORT = 45000;
const COUNT = 500;

const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const NODE = process.execPath;

interface RecvResult {
  event: 'result';
  count: number;
  unique: number;
  bytes: number;
}

async function ourNamespaces(): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
}

describe('test LAN in network namespaces', () => {
  let lan: Lan | undefined;

  beforeAll(async () => {
    requireRoot();
    lan = await createLan({ prefix: PREFIX, hosts: ['a', 'b', 'c'] });
  });

  afterAll(async () => {
    await lan?.destroy();
    const left = await ourNamespaces();
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  });

  const theLan = (): Lan => {
    if (!lan) throw new Error('LAN not created');
    return lan;
  };

  /** A sends COUNT datagrams to GROUP:PORT; returns what B and C received. */
  async function multicastRound(): Promise<{ b: RecvResult; c: RecvResult }> {
    const l = theLan();
    const a = l.host('a');
    const receivers = ['b', 'c'].map((name) =>
      l.spawn(name, [NODE, fixture('mcast-recv.mjs'), GROUP, String(PORT), l.host(name).address]),
    );
    try {
      await Promise.all(receivers.map((r) => nextJson(r, (v) => v['event'] === 'ready')));
      const sent = await l.exec(a, [NODE, fixture('mcast-send.mjs'), GROUP, String(PORT), a.address, String(COUNT)]);
      expect(JSON.parse(sent.stdout)).toEqual({ event: 'sent', count: COUNT });
      // Let the last datagrams cross the bridge, then ask the receivers for their counts.
      await new Promise((r) => setTimeout(r, 200));
      const results = receivers.map((r) => nextJson<RecvResult>(r, (v) => v.event === 'result'));
      for (const r of receivers) r.stdin?.end();
      const [b, c] = await Promise.all(results);
      return { b: b!, c: c! };
    } finally {
      for (const r of receivers) if (r.exitCode === null) r.kill();
    }
  }

  it('gives each host its own namespace and address, and adds nothing to ours', async () => {
    const l = theLan();
    expect(l.hosts.map((h) => [h.name, h.address])).toEqual([
      ['a', '10.213.0.10'],
      ['b', '10.213.0.11'],
      ['c', '10.213.0.12'],
    ]);
    for (const h of l.hosts) {
      const { stdout } = await l.exec(h, [toolPath('ip'), '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(stdout).toContain(`inet ${h.address}/24`);
      const routes = await l.exec(h, [toolPath('ip'), '-4', 'route', 'show']);
      expect(routes.stdout).toMatch(/^224\.0\.0\.0\/4 dev eth0/m);
      expect(routes.stdout).not.toMatch(/^default/m);
    }
    // The machine's own namespace has no address of the test subnet and no bridge of ours.
    const own = execFileSync(toolPath('ip'), ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
    expect(own).not.toContain('10.213.0.');
  });

  it('carries multicast from A to B and C', async () => {
    const { b, c } = await multicastRound();
    expect(b.unique).toBeGreaterThanOrEqual(COUNT - 5);
    expect(c.unique).toBeGreaterThanOrEqual(COUNT - 5);
    expect(b.count).toBe(b.unique); // no duplicates
    expect(c.count).toBe(c.unique);
  });

  it('drops about 1 in 10 datagrams in C with nftables, while B gets them all', async () => {
    const l = theLan();
    await l.dropIncomingUdp('c', { port: PORT, everyNth: 10 });
    try {
      const { b, c } = await multicastRound();
      const counters = await l.nftCounters('c');
      expect(b.unique).toBeGreaterThanOrEqual(COUNT - 5);
      expect(c.unique).toBeGreaterThanOrEqual(Math.floor(COUNT * 0.7));
      expect(c.unique).toBeLessThanOrEqual(Math.floor(COUNT * 0.97));
      expect(counters.rules).toEqual([expect.objectContaining({ port: PORT, everyNth: 10 })]);
      expect(counters.dropped).toBeGreaterThan(COUNT * 0.03);
      // What C missed is what its rule dropped (give or take a rare loss on the veth).
      expect(c.unique + counters.dropped).toBeLessThanOrEqual(COUNT);
      expect(c.unique + counters.dropped).toBeGreaterThanOrEqual(COUNT - 5);
      expect((await l.nftCounters('b')).dropped).toBe(0);
    } finally {
      await l.clearLoss('c');
    }
  });

  it('drops every datagram to a port (tail loss), and clearLoss ends it', async () => {
    const l = theLan();
    await l.dropIncomingUdp('c', { port: PORT });
    try {
      const { b, c } = await multicastRound();
      expect(b.unique).toBeGreaterThanOrEqual(COUNT - 5);
      expect(c.count).toBe(0);
      const counters = await l.nftCounters('c');
      expect(counters.rules).toEqual([{ port: PORT, packets: counters.dropped, bytes: expect.any(Number) }]);
      expect(counters.dropped).toBeGreaterThanOrEqual(COUNT - 5);
    } finally {
      await l.clearLoss('c');
    }
    expect(await l.nftCounters('c')).toEqual({ dropped: 0, rules: [] });
    await l.clearLoss('c'); // idempotent
    const { c } = await multicastRound();
    expect(c.unique).toBeGreaterThanOrEqual(COUNT - 5);
  });

  it('connects over TCP from B to a server in A', async () => {
    const l = theLan();
    const a = l.host('a');
    const b = l.host('b');
    const server = l.spawn(a, [NODE, fixture('tcp-echo.mjs'), a.address, '0']);
    try {
      const listening = await nextJson<{ port: number }>(server, (v) => 'port' in v);
      const connection = nextJson<{ remoteAddress: string }>(server, (v) => 'remoteAddress' in v);
      const client = await l.exec(b, [
        NODE, fixture('tcp-client.mjs'), a.address, String(listening.port), 'hello across the LAN',
      ]);
      expect(JSON.parse(client.stdout)).toEqual({
        event: 'echo',
        data: 'hello across the LAN',
        localAddress: b.address,
        remoteAddress: a.address,
      });
      expect((await connection).remoteAddress).toBe(b.address);
    } finally {
      server.stdin?.end();
      server.kill();
    }
  });
});

// The site topology of the cluster tests (test/netns/sites.ts), checked with two plain servers
// (no cluster: each alone on its own SQLite data folder): each site is its own subnet, linked to
// the machine's namespace where its server runs, and a site's multicast stays on its bridge.
// The receivers and senders are the real client library in the sites' host namespaces.
//
// Needs root, iproute2 and nftables; fails (does not skip) without them. Traffic stays on
// loopback and on the links and namespaces the test creates.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, type Setup, fixture, NODE } from './chorus-lan.js';
import { textOf } from './fixtures/texts.js';
import { memberName, setupChat, startReceiver, startSender } from './site-chat.js';
import { SiteServer } from './site-server.js';
import { type Sites, createSites, linksOfThisProcess } from './sites.js';
import { listNetns, nextJson, toolPath } from './topology.js';

const PREFIX = 'chorus-sites';
const COUNT = 300;

describe('sites: one subnet and one server each, linked to the machine', { timeout: 90_000 }, () => {
  let sites: Sites | undefined;
  const servers = new Map<string, SiteServer>();
  const setups = new Map<string, Setup>();
  const dataDirs: string[] = [];

  beforeAll(async () => {
    sites = await createSites({ prefix: PREFIX, sites: [{ name: 'a', hosts: ['a1', 'a2'] }, { name: 'b', hosts: ['b1', 'b2'] }] });
    for (const site of sites.sites) {
      const dataDir = mkdtempSync(join(tmpdir(), 'chorus-sites-'));
      dataDirs.push(dataDir);
      servers.set(site.name, new SiteServer(site, dataDir));
    }
    await Promise.all([...servers.values()].map((s) => s.ready));
    for (const [name, server] of servers) setups.set(name, await setupChat(server, `${name}1`, [`${name}1`, `${name}2`]));
  });

  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await sites?.destroy();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    const namespaces = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
    const links = await linksOfThisProcess();
    if (namespaces.length > 0 || links.length > 0) throw new Error(`left behind: ${[...namespaces, ...links].join(', ')}`);
  });

  const theSites = (): Sites => {
    if (!sites) throw new Error('sites not created');
    return sites;
  };

  it('gives each site its own subnet, with its server on the machine end of its link', () => {
    const [a, b] = theSites().sites;
    expect(a!.subnetPrefix).not.toBe(b!.subnetPrefix);
    for (const site of theSites().sites) {
      expect(site.serverAddress).toBe(`${site.subnetPrefix}1`);
      for (const host of site.lan.hosts) expect(host.address.startsWith(site.subnetPrefix)).toBe(true);
      const own = execFileSync(toolPath('ip'), ['-4', '-o', 'addr', 'show', 'dev', site.link], { encoding: 'utf8' });
      expect(own).toContain(`inet ${site.serverAddress}/24`);
      const server = servers.get(site.name)!;
      expect(server.info.httpUrl).toMatch(new RegExp(`^https://${site.serverAddress.replace(/\./g, '\\.')}:\\d+$`));
      expect(server.info.serverId).toBeUndefined();
    }
  });

  it("delivers each site's messages to its members, and keeps each site's multicast on its own bridge", async () => {
    const s = theSites();
    const receivers = new Map<string, ReceiverProcess>();
    for (const name of ['a', 'b']) receivers.set(name, startReceiver(servers.get(name)!, `${name}2`, setups.get(name)!));
    await Promise.all([...receivers.values()].map((r) => r.waitReady()));

    // A bare multicast listener in each site on site B's group and port: B's datagrams must
    // reach b1 and not a1. (Groups are drawn at random, so A's chat is almost surely elsewhere;
    // should it be on the same group and port, A's own datagrams are excluded below.)
    const group = setups.get('b')!.multicast;
    const sameAsA = setups.get('a')!.multicast.group === group.group && setups.get('a')!.multicast.port === group.port;
    const listeners = new Map(
      ['a1', 'b1'].map((host) => {
        const lan = s.site(host[0]!).lan;
        return [host, lan.spawn(host, [NODE, fixture('mcast-recv.mjs'), group.group, String(group.port), lan.host(host).address])] as const;
      }),
    );
    await Promise.all([...listeners.values()].map((l) => nextJson(l, (v) => v['event'] === 'ready')));

    const started = Date.now();
    const senders = ['a', 'b'].map((name) => startSender(servers.get(name)!, `${name}1`, setups.get(name)!, name === 'a' ? 1 : COUNT + 1, COUNT));
    for (const sender of senders) expect(await sender.finish(45_000), sender.stderr).toBe(0);
    for (const r of receivers.values()) await r.until(() => r.delivered.length >= COUNT, `${COUNT} messages`, 30_000);
    console.log(`sites: ${COUNT} messages at each of two sites delivered in ${Date.now() - started} ms`);

    for (const [name, r] of receivers) {
      const first = name === 'a' ? 1 : COUNT + 1;
      expect(r.delivered.map((m) => m.seq)).toEqual(Array.from({ length: COUNT }, (_, k) => k + 1));
      expect(r.delivered.map((m) => m.text)).toEqual(Array.from({ length: COUNT }, (_, k) => textOf(first + k)));
      expect(new Set(r.delivered.map((m) => m.sender))).toEqual(new Set([memberName(`${name}1`)]));
      const stats = await r.stats();
      expect(stats.counts.datagrams, `datagrams received in site ${name}`).toBeGreaterThan(0);
      // Nothing from the other site's server (signed by another key) ever arrived.
      expect(stats.drops).toMatchObject({ malformed: 0, 'bad-signature': 0, 'unknown-key': 0, undecryptable: 0 });
    }

    const counts = new Map<string, number>();
    for (const [host, listener] of listeners) {
      const result = nextJson<{ count: number }>(listener, (v) => 'count' in v);
      listener.stdin?.end();
      counts.set(host, (await result).count);
    }
    console.log(`sites: datagrams on site B's group and port seen in a1: ${counts.get('a1')}, in b1: ${counts.get('b1')}${sameAsA ? ' (same group and port as A)' : ''}`);
    expect(counts.get('b1')).toBeGreaterThan(0);
    if (!sameAsA) expect(counts.get('a1')).toBe(0);
    for (const r of receivers.values()) r.child.stdin?.end();
  });
});

// Sites: several test LANs (topology.ts), one subnet each, every one joined to the machine's own
// network namespace by a veth link of its own. A Chorus server in cluster mode must reach
// PostgreSQL and NATS on 127.0.0.1 of the machine's namespace, so it runs there, listening and
// multicasting on its site's link; the site's clients live in the LAN's host namespaces.
//
//   machine's namespace:  chsS  10.214.S.1/24   (S: a subnet no other link of the machine claims)
//        |  veth
//   site switch namespace: up0 -- br0 -- v0, v1, ...  (topology.ts)
//        |
//   site hosts:           eth0 10.214.S.(10+i)/24, route 224.0.0.0/4 dev eth0
//
// Each site's subnet exists only on its link and its namespaces. The machine does not forward
// between links here (the test checks net.ipv4.ip_forward is 0), the hosts have no default route,
// and multicast sent with TTL 1 on a link stays on that site's bridge: nothing reaches beyond
// loopback and what the test created. Every link and namespace is removed by destroy(), by a
// synchronous hook if the process exits without it, and on the next createSites if a crashed
// run left them (its pid, part of every name, no longer runs).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type Lan, createLan, ip, pidAlive, removeLeftovers, requireRoot, toolPath, waitFor } from './topology.js';

/** The first two octets of every site subnet: 10.214.S.0/24. */
export const SITE_NET = '10.214.';
/**
 * A site's link is named `chsS` in the machine's namespace, for its subnet S: names are unique,
 * so creating the link claims the subnet atomically (test files run in parallel). Its alias
 * names the process that made it, so that a crashed run's links can be told from a live one's.
 */
const LINK_NAME = /^chs(\d+)$/;
const aliasOf = (pid: number): string => `chorus test sites, pid ${pid}`;
const ALIAS = /^chorus test sites, pid (\d+)$/;
/** The site's end of the link, inside the switch namespace. */
const UPLINK = 'up0';

export interface SiteSpec {
  /** Letters and digits, e.g. "a". */
  name: string;
  /** Host names of the site's LAN (unique across sites: they name namespaces). */
  hosts: string[];
}

export interface Site {
  name: string;
  /** The site's LAN: its hosts, exec/spawn in them, loss rules. */
  lan: Lan;
  /** The link's end in the machine's namespace. */
  link: string;
  /** The link's address in the machine's namespace: where the site's server listens and multicasts from. */
  serverAddress: string;
  /** The first three octets of the site's /24 and a dot, e.g. "10.214.3.". */
  subnetPrefix: string;
}

export interface Sites {
  sites: Site[];
  /** Look a site up by name; throws on an unknown one. */
  site(name: string): Site;
  /** Deletes every link and namespace of these sites (their LANs kill what they spawned). Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Creates one LAN per site, each with its own /24 under 10.214/16, and links each to the
 * machine's namespace. Fails (after removing what it made) if the machine forwards IPv4, since
 * then the sites would not be separate subnets but one routed network.
 */
export async function createSites(options: { prefix: string; sites: SiteSpec[] }): Promise<Sites> {
  requireRoot();
  if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '0') {
    throw new Error('net.ipv4.ip_forward is on: the machine would route between the test sites (and beyond them); sites need it off');
  }
  await removeLeftoverLinks();
  await removeLeftovers(options.prefix);

  const sites: Site[] = [];
  const links: string[] = [];
  const onExit = (): void => {
    for (const link of links) spawnSync(toolPath('ip'), ['link', 'del', link], { stdio: 'ignore' });
  };
  process.once('exit', onExit);
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener('exit', onExit);
    // Deleting either end of a veth deletes both; the LAN's destroy() would take it with the
    // switch namespace anyway, but the machine's end goes first, explicitly.
    for (const link of links) await ip(['link', 'del', link], { allowFail: true });
    for (const site of sites) await site.lan.destroy();
  };

  try {
    for (const spec of options.sites) {
      const { link, peer, subnet } = await claimSubnet();
      links.push(link);
      const subnetPrefix = `${SITE_NET}${subnet}.`;
      const lan = await createLan({ prefix: options.prefix, hosts: spec.hosts, subnetPrefix });
      const site: Site = { name: spec.name, lan, link, serverAddress: `${subnetPrefix}1`, subnetPrefix };
      sites.push(site);
      await linkToMachine(site, peer);
    }
  } catch (error) {
    await destroy();
    throw error;
  }

  const byName = new Map(sites.map((s) => [s.name, s]));
  return {
    sites,
    site(name) {
      const site = byName.get(name);
      if (!site) throw new Error(`unknown site ${name} (sites: ${[...byName.keys()].join(', ')})`);
      return site;
    },
    destroy,
  };
}

/**
 * Creates the veth of the first subnet S that no address and no site link of the machine's
 * namespace uses. Should another process claim the same S at the same moment, one of the two
 * `ip link add chsS` fails with "File exists" and that one tries the next S.
 */
async function claimSubnet(): Promise<{ link: string; peer: string; subnet: number }> {
  const { stdout } = await ip(['-4', '-o', 'addr', 'show']);
  const used = new Set([...stdout.matchAll(/inet 10\.214\.(\d+)\./g)].map((m) => Number(m[1])));
  for (const { ifname } of await machineLinks()) {
    const m = ifname ? LINK_NAME.exec(ifname) : null;
    if (m) used.add(Number(m[1]));
  }
  for (let subnet = 1; subnet < 255; subnet++) {
    if (used.has(subnet)) continue;
    const link = `chs${subnet}`;
    // The peer's name only has to be unique until it moves into the site's switch.
    const peer = `chp${subnet}-${process.pid}`;
    const made = await ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', peer], { allowFail: true });
    if (made.code === 0) {
      await ip(['link', 'set', 'dev', link, 'alias', aliasOf(process.pid)]);
      return { link, peer, subnet };
    }
    if (!/exists/i.test(made.stderr)) throw new Error(`ip link add ${link} failed: ${made.stderr.trim()}`);
  }
  throw new Error('no free 10.214.S.0/24 left in the machine namespace');
}

/** The link's peer moved onto the site's bridge, both ends up, the server's address on the machine's end. */
async function linkToMachine(site: Site, peer: string): Promise<void> {
  const { lan, link, serverAddress } = site;
  await ip(['link', 'set', peer, 'netns', lan.switchNetns, 'name', UPLINK]);
  await ip(['-n', lan.switchNetns, 'link', 'set', UPLINK, 'master', 'br0']);
  await ip(['-n', lan.switchNetns, 'link', 'set', UPLINK, 'up']);
  // No IPv6 on the machine's end: its router solicitations and MLD reports would be noise on
  // the site's bridge, and nothing here speaks IPv6.
  setSysctl(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`, '1');
  setSysctl(`/proc/sys/net/ipv4/conf/${link}/rp_filter`, '0');
  await ip(['addr', 'add', `${serverAddress}/24`, 'dev', link]);
  await ip(['link', 'set', link, 'up']);
  await waitFor(`the link of site ${site.name} to come up`, async () => {
    const [port] = JSON.parse((await ip(['-n', lan.switchNetns, '-j', '-d', 'link', 'show', 'dev', UPLINK])).stdout) as IpLink[];
    const [own] = JSON.parse((await ip(['-j', 'link', 'show', 'dev', link])).stdout) as IpLink[];
    return port?.linkinfo?.info_slave_data?.state === 'forwarding' && own?.operstate === 'UP';
  });
}

interface IpLink {
  ifname?: string;
  ifalias?: string;
  operstate?: string;
  linkinfo?: { info_slave_data?: { state?: string } };
}

function setSysctl(file: string, value: string): void {
  if (existsSync(file)) writeFileSync(file, `${value}\n`);
}

async function machineLinks(): Promise<IpLink[]> {
  return JSON.parse((await ip(['-j', 'link', 'show'])).stdout) as IpLink[];
}

/** The pid that made a site link, from its alias; undefined for any other link. */
function makerOf(link: IpLink): number | undefined {
  if (!link.ifname || !LINK_NAME.test(link.ifname)) return undefined;
  const m = ALIAS.exec(link.ifalias ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Deletes site links whose process no longer runs (a crashed run's). */
export async function removeLeftoverLinks(): Promise<string[]> {
  const removed: string[] = [];
  for (const link of await machineLinks()) {
    const pid = makerOf(link);
    if (pid === undefined || pid === process.pid || pidAlive(pid)) continue;
    await ip(['link', 'del', link.ifname!], { allowFail: true });
    removed.push(link.ifname!);
  }
  return removed;
}

/** Site links of this process still in the machine's namespace (for tests checking their cleanup). */
export async function linksOfThisProcess(): Promise<string[]> {
  return (await machineLinks()).flatMap((link) => (makerOf(link) === process.pid ? [link.ifname!] : []));
}

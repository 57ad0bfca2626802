import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { LARGEST_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from '../protocol/limits.js';

/**
 * How large the fan-out's DATA datagrams may be: as large as the multicast interface's MTU
 * carries whole (its MTU less the IPv4 and UDP headers), between MAX_DATAGRAM_BYTES and
 * LARGEST_DATAGRAM_BYTES. TCP sizes its segments the same way (its MSS comes from the MTU); for
 * multicast it matters more, since every datagram wakes every receiver: short messages pack
 * 11 to a 1,200-byte datagram, 12 to an Ethernet frame's 1,472 bytes, and about 150 to 16 KiB on
 * loopback, where a receiver's CPU per message then falls by a third or more (docs/benchmarks.md).
 *
 * Only on the link itself: with a TTL above 1 the datagrams may cross routers whose MTU is
 * smaller, and a fragmented datagram is lost whole when any fragment is, so they keep to
 * MAX_DATAGRAM_BYTES. So does an interface whose MTU cannot be read (not Linux, or an address
 * no interface holds).
 */
export function dataDatagramBytes(interfaceAddress: string, ttl: number, mtuOf: (address: string) => number | undefined = interfaceMtu): number {
  if (ttl > 1) return MAX_DATAGRAM_BYTES;
  const mtu = mtuOf(interfaceAddress);
  if (mtu === undefined) return MAX_DATAGRAM_BYTES;
  return Math.min(LARGEST_DATAGRAM_BYTES, Math.max(MAX_DATAGRAM_BYTES, mtu - IPV4_UDP_HEADER_BYTES));
}

// An IPv4 header without options, and the UDP header.
const IPV4_UDP_HEADER_BYTES = 20 + 8;

/** The MTU of the interface holding `address`, from Linux's /sys/class/net; undefined where it cannot be read. */
export function interfaceMtu(address: string): number | undefined {
  const name = Object.entries(networkInterfaces()).find(([, addresses]) => addresses?.some((a) => a.address === address))?.[0];
  if (!name || !/^[\w.:-]+$/.test(name)) return undefined;
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

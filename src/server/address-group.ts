import { isIPv4, isIPv6 } from 'node:net';

/** Every address of this machine's loopback (127.0.0.0/8, ::1) as one: they are all one host. */
export const LOOPBACK_HOST = 'loopback';

/**
 * The host an address is, for what one host may hold (connections): an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 clients) is the IPv4 address, and every
 * loopback address is this machine. Without that, a local user binding 127.0.0.2, 127.0.0.3, …
 * (Linux routes the whole /8 to loopback) would count as thousands of hosts.
 */
export function hostOf(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const ipv4 = mapped?.[1] && isIPv4(mapped[1]) ? mapped[1] : isIPv4(bare) ? bare : undefined;
  if (ipv4 !== undefined) return ipv4.startsWith('127.') ? LOOPBACK_HOST : ipv4;
  if (isIPv6(bare) && expandIPv6(bare).join(':') === '0:0:0:0:0:0:0:1') return LOOPBACK_HOST;
  return address;
}

/**
 * The unit throttles count a client's address in. An IPv4 address is its own group; an IPv6
 * address counts by its /64, since one host is routinely given a whole /64 (SLAAC, privacy
 * addresses) and could otherwise present a new address for every attempt. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 clients) is the IPv4 address.
 */
export function addressGroup(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped?.[1] && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(bare)) return address;
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').flatMap(hextetsOf));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right].map((h) => Number.parseInt(h, 16).toString(16));
}

/** A hextet, or an embedded dotted IPv4 address (the last 32 bits) as two. */
function hextetsOf(piece: string): string[] {
  if (!piece.includes('.')) return [piece];
  const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from './config.js';

/** Linux's range of ports handed out to sockets bound to port 0 (and outgoing connections). */
function linuxEphemeralRange(): { first: number; last: number } | undefined {
  try {
    const [first, last] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return { first: first!, last: last! };
  } catch {
    return undefined;
  }
}

const overlaps = (a: { first: number; last: number }, b: { first: number; last: number }) => a.first <= b.last && b.first <= a.last;

describe("the default range of chats' ports", () => {
  const ports = DEFAULTS.multicastPorts;

  it("lies outside the ephemeral ranges: Linux's default 32768-60999, IANA's and Windows' 49152-65535", () => {
    expect(ports.first).toBeGreaterThanOrEqual(1024);
    expect(ports.first).toBeLessThanOrEqual(ports.last);
    expect(overlaps(ports, { first: 32768, last: 60999 })).toBe(false);
    expect(overlaps(ports, { first: 49152, last: 65535 })).toBe(false);
  });

  it("lies outside this machine's ephemeral range", () => {
    const ephemeral = linuxEphemeralRange();
    if (ephemeral) expect(overlaps(ports, ephemeral), `${ephemeral.first}-${ephemeral.last}`).toBe(false);
  });

  it("holds none of the server's own default ports", () => {
    for (const port of [DEFAULTS.httpPort, DEFAULTS.tcpPort]) expect(port < ports.first || port > ports.last).toBe(true);
  });
});

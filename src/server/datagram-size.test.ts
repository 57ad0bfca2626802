import { describe, expect, it } from 'vitest';
import { LARGEST_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from '../protocol/limits.js';
import { dataDatagramBytes, interfaceMtu } from './datagram-size.js';

describe('dataDatagramBytes: DATA as large as the interface carries whole', () => {
  const mtu = (value: number | undefined) => () => value;

  it('takes the MTU less the IPv4 and UDP headers, between the safe size and 16 KiB', () => {
    expect(dataDatagramBytes('192.168.1.5', 1, mtu(1500))).toBe(1472);
    expect(dataDatagramBytes('192.168.1.5', 1, mtu(9000))).toBe(8972);
    expect(dataDatagramBytes('127.0.0.1', 1, mtu(65536))).toBe(LARGEST_DATAGRAM_BYTES);
    expect(dataDatagramBytes('10.8.0.2', 1, mtu(1280))).toBe(1252);
    // Never below the size chosen for any network: as before the MTU was read.
    expect(dataDatagramBytes('10.8.0.2', 1, mtu(1100))).toBe(MAX_DATAGRAM_BYTES);
  });

  it('keeps to the safe size past the link (TTL above 1) and where the MTU is unknown', () => {
    expect(dataDatagramBytes('127.0.0.1', 2, mtu(65536))).toBe(MAX_DATAGRAM_BYTES);
    expect(dataDatagramBytes('192.168.1.5', 1, mtu(undefined))).toBe(MAX_DATAGRAM_BYTES);
  });

  it.runIf(process.platform === 'linux')("reads loopback's MTU on Linux, and nothing for an address no interface holds", () => {
    expect(interfaceMtu('127.0.0.1')).toBeGreaterThanOrEqual(1500);
    expect(interfaceMtu('203.0.113.77')).toBeUndefined();
  });
});

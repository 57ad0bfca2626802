import { describe, expect, it } from 'vitest';
import { DEFAULT_MULTICAST_RATE } from '../server/pacer.js';
import { serverConfigFrom } from './server.js';

const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

describe('chorus server --multicast-rate', () => {
  it('leaves the pace to the fan-out when none is given: the one for the interface (pacer.ts)', () => {
    expect(serverConfigFrom({}, flag).multicast.rate).toBeUndefined();
    expect(serverConfigFrom({ multicastRate: '12,2000' }, flag).multicast.rate).toEqual(DEFAULT_MULTICAST_RATE);
  });

  it('takes megabits and datagrams per second, or 0 for no pacing', () => {
    expect(serverConfigFrom({ multicastRate: '100,20000' }, flag).multicast.rate).toEqual({ bytesPerSecond: 12_500_000, datagramsPerSecond: 20_000 });
    expect(serverConfigFrom({ multicastRate: ' 1.5 , 300 ' }, flag).multicast.rate).toEqual({ bytesPerSecond: 187_500, datagramsPerSecond: 300 });
    expect(serverConfigFrom({ multicastRate: '0' }, flag).multicast.rate).toEqual({ bytesPerSecond: 0, datagramsPerSecond: 0 });
  });

  it.each(['12', 'fast', '0.01,100', '12,0', '-1,100', '12,2000,5'])('refuses %j, naming the flag', (value) => {
    expect(() => serverConfigFrom({ multicastRate: value }, flag)).toThrow(`invalid --multicast-rate "${value}": give megabits per second`);
  });
});

describe('chorus server --multicast-datagram-bytes', () => {
  it("is unset by default: the fan-out takes what the interface's MTU carries", () => {
    expect(serverConfigFrom({}, flag).multicast.datagramBytes).toBeUndefined();
  });

  it('takes a size from 1200 to 16384 bytes', () => {
    expect(serverConfigFrom({ multicastDatagramBytes: '1472' }, flag).multicast.datagramBytes).toBe(1472);
    expect(serverConfigFrom({ multicastDatagramBytes: ' 16384 ' }, flag).multicast.datagramBytes).toBe(16_384);
  });

  it.each(['1199', '16385', '1.5k', '', '-1300', '65507'])('refuses %j, naming the flag', (value) => {
    expect(() => serverConfigFrom({ multicastDatagramBytes: value }, flag)).toThrow(`invalid --multicast-datagram-bytes "${value}": give a whole number of bytes from 1200 to 16384`);
  });
});

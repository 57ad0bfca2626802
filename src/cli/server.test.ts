import { describe, expect, it } from 'vitest';
import { DEFAULT_MULTICAST_RATE } from '../server/pacer.js';
import { serverConfigFrom } from './server.js';

const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

describe('chorus server --multicast-rate', () => {
  it('defaults to the pace a 54 Mb/s Wi-Fi link and a busy receiver can take', () => {
    expect(serverConfigFrom({}, flag).multicast.rate).toEqual(DEFAULT_MULTICAST_RATE);
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

import { describe, expect, it } from 'vitest';
import { MAX_DATAGRAM_BYTES } from '../protocol/limits.js';
import { BURST_MS, DEFAULT_MULTICAST_RATE, LOOPBACK_MULTICAST_RATE, Pacer, burstBytes, defaultMulticastRate } from './pacer.js';

function fakeClock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Sends `size`-byte datagrams as the pacer allows over `ms` of fake time, 1 ms steps; returns when each went. */
function drive(pacer: Pacer, clock: ReturnType<typeof fakeClock>, size: number, ms: number): number[] {
  const sentAt: number[] = [];
  const end = clock.now() + ms;
  while (clock.now() < end) {
    while (pacer.delayFor(size) === 0) {
      pacer.spend(size);
      sentAt.push(clock.now());
    }
    clock.advance(1);
  }
  return sentAt;
}

describe('Pacer', () => {
  it('lets a burst of BURST_MS worth go at once, then holds the rest to the datagram rate', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 100_000_000, datagramsPerSecond: 1000 }, clock.now);
    const burst = (1000 * BURST_MS) / 1000;
    const sent = drive(pacer, clock, 100, 1000);
    expect(sent.filter((t) => t === 1000)).toHaveLength(burst);
    // Over one second: the burst plus one per millisecond after it, never more.
    expect(sent.length).toBeGreaterThanOrEqual(1000);
    expect(sent.length).toBeLessThanOrEqual(1000 + burst);
    for (let t = 1000; t < 2000; t += 100) {
      expect(sent.filter((s) => s >= t && s < t + 100).length).toBeLessThanOrEqual(100 + burst);
    }
  });

  it('holds to the byte rate when datagrams are large', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 120_000, datagramsPerSecond: 1_000_000 }, clock.now);
    const sent = drive(pacer, clock, 1200, 2000);
    // 100 datagrams of 1200 bytes a second, plus the first burst (20 ms of 120 kB/s = 2 datagrams).
    expect(sent.length).toBeGreaterThanOrEqual(199);
    expect(sent.length).toBeLessThanOrEqual(202);
  });

  it('says how long to wait, and the datagram may go once that much time has passed', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 1_000_000, datagramsPerSecond: 100 }, clock.now);
    pacer.spend(100);
    pacer.spend(100);
    const wait = pacer.delayFor(100);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(10);
    clock.advance(wait);
    expect(pacer.delayFor(100)).toBe(0);
  });

  it('always lets a full datagram through, however low the byte rate', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 1000, datagramsPerSecond: 1000 }, clock.now);
    expect(pacer.delayFor(MAX_DATAGRAM_BYTES)).toBe(0);
    pacer.spend(MAX_DATAGRAM_BYTES);
    // The bucket holds one datagram; refilling it takes 1.2 s at 1000 B/s.
    expect(pacer.delayFor(MAX_DATAGRAM_BYTES)).toBeCloseTo(1200, 0);
  });

  it('lets debt delay what follows, and does not save up past the burst', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 1_000_000, datagramsPerSecond: 100 }, clock.now);
    for (let i = 0; i < 5; i++) pacer.spend(100); // 2 allowed at once, 3 more in debt
    expect(pacer.delayFor(100)).toBeCloseTo(40, 5);
    clock.advance(60_000);
    expect(drive(pacer, clock, 100, 1).length).toBe(2);
  });

  it('never holds anything when pacing is off', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 0, datagramsPerSecond: 0 }, clock.now);
    expect(pacer.paced).toBe(false);
    for (let i = 0; i < 10_000; i++) pacer.spend(1200);
    expect(pacer.delayFor(1200)).toBe(0);
  });

  it('does not count a clock that goes backwards as time passing', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 1_000_000, datagramsPerSecond: 100 }, clock.now);
    pacer.spend(100);
    pacer.spend(100);
    clock.advance(-1000);
    expect(pacer.delayFor(100)).toBeGreaterThan(0);
  });

  it('a new rate holds from then on: a lower one spreads the datagrams further apart, and the burst shrinks with it', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ bytesPerSecond: 100_000_000, datagramsPerSecond: 1000 }, clock.now);
    expect(drive(pacer, clock, 100, 1000).length).toBeGreaterThanOrEqual(1000);
    pacer.setRate({ bytesPerSecond: 100_000_000, datagramsPerSecond: 250 });
    const slower = drive(pacer, clock, 100, 1000);
    expect(slower.length).toBeGreaterThanOrEqual(249);
    expect(slower.length).toBeLessThanOrEqual(251 + (1000 * BURST_MS) / 1000);
    clock.advance(10_000);
    // After a quiet spell, the burst is 20 ms of the new rate (5), not of the old one (20).
    expect(drive(pacer, clock, 100, 1).length).toBe(5);
    pacer.setRate({ bytesPerSecond: 100_000_000, datagramsPerSecond: 1000 });
    expect(drive(pacer, clock, 100, 1000).length).toBeGreaterThanOrEqual(999);
  });
});

describe('defaultMulticastRate', () => {
  it('paces for Wi-Fi on any interface but loopback', () => {
    for (const address of ['192.168.1.20', '10.0.0.5', '10.127.0.1', '172.16.0.1']) expect(defaultMulticastRate(address)).toEqual(DEFAULT_MULTICAST_RATE);
  });

  it('paces for loopback on 127.0.0.0/8: faster in bytes, the same in datagrams', () => {
    for (const address of ['127.0.0.1', '127.1.2.3']) expect(defaultMulticastRate(address)).toEqual(LOOPBACK_MULTICAST_RATE);
    expect(LOOPBACK_MULTICAST_RATE.bytesPerSecond).toBeGreaterThan(DEFAULT_MULTICAST_RATE.bytesPerSecond);
    expect(LOOPBACK_MULTICAST_RATE.datagramsPerSecond).toBe(DEFAULT_MULTICAST_RATE.datagramsPerSecond);
  });

  it("keeps loopback's burst within Linux's default 208 KiB receive buffer", () => {
    expect(burstBytes(LOOPBACK_MULTICAST_RATE)).toBeLessThanOrEqual(208 * 1024);
  });

  it('hands out a copy: a caller changing it changes no default', () => {
    const rate = defaultMulticastRate('127.0.0.1');
    rate.bytesPerSecond = 1;
    expect(LOOPBACK_MULTICAST_RATE.bytesPerSecond).toBe(8_000_000);
  });
});

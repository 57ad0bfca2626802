import { describe, expect, it } from 'vitest';
import { DEFAULT_PACE_POLICY, PaceControl } from './pace-control.js';

const RATE = { bytesPerSecond: 1_600_000, datagramsPerSecond: 2000 };

function setup(rate = RATE) {
  let now = 10_000;
  const clock = () => now;
  const control = new PaceControl(rate, DEFAULT_PACE_POLICY, clock);
  const receivers = [{}, {}, {}];
  return {
    control,
    receivers,
    advance: (ms: number) => (now += ms),
    /** One window: `messages` multicast, each receiver reporting its repairs, then the window ends. */
    second(messages: number, repairs: number[] = []) {
      control.multicast(messages);
      repairs.forEach((repaired, i) => control.reported(receivers[i]!, repaired));
      now += 1000;
    },
  };
}

describe('PaceControl', () => {
  it('keeps the configured rate while receivers repair nothing, or about nothing', () => {
    const { control, second } = setup();
    for (let i = 0; i < 10; i++) second(10_000, [0, 3, 40]); // 40 of 20,000 in two windows: 0.2%
    expect(control.current()).toEqual(RATE);
    expect(control.stats).toMatchObject({ reports: 30, decreases: 0, increases: 0 });
  });

  it('a receiver repairing more than 0.5% of what was multicast lowers the rate ×0.7 in each such window, down to 1/8', () => {
    const { control, second } = setup();
    second(10_000, [0, 0, 120]);
    expect(control.current().datagramsPerSecond).toBeCloseTo(1400);
    expect(control.current().bytesPerSecond).toBeCloseTo(1_120_000);
    second(10_000, [0, 200]);
    expect(control.share).toBeCloseTo(0.49);
    for (let i = 0; i < 20; i++) second(10_000, [500]);
    expect(control.share).toBe(1 / 8);
    expect(control.current().datagramsPerSecond).toBe(250);
  });

  it('more than the ceiling (100) in a window is congestion however much was multicast', () => {
    const { control, second } = setup();
    second(100_000, [101]);
    expect(control.share).toBeCloseTo(0.7);
  });

  it('a few repairs at light load are not congestion (at least 3 are needed)', () => {
    const { control, second } = setup();
    second(20, [3, 2, 1]);
    expect(control.share).toBe(1);
    second(20, [4]);
    expect(control.share).toBeCloseTo(0.7);
  });

  it("one receiver's reports in a window add up; the worst receiver counts, not the sum of all", () => {
    const { control, receivers, advance } = setup();
    control.multicast(10_000);
    control.reported(receivers[0]!, 30);
    control.reported(receivers[0]!, 30);
    control.reported(receivers[1]!, 40);
    advance(1000);
    expect(control.share).toBeCloseTo(0.7); // 60 > 50; 100 summed over receivers would say the same, 40 alone would not
    control.multicast(10_000);
    for (const r of receivers) control.reported(r, 40);
    advance(1000);
    expect(control.share).toBeCloseTo(0.7); // 40 < 0.5% of 20,000
  });

  it('messages the fan-out skipped are repaired by everyone and are no sign of congestion', () => {
    const { control, second } = setup();
    control.skippedMessages(1000);
    second(10_000, [1000, 1010]);
    expect(control.share).toBe(1);
    second(10_000, [1200]); // the skipped 1000 still counted (a report lags), 200 beyond them
    expect(control.share).toBeCloseTo(0.7);
  });

  it('comes back additively after 3 quiet seconds, 1/16 a second, and never above the configured rate', () => {
    const { control, second, advance } = setup();
    second(10_000, [500]);
    second(10_000, [500]);
    expect(control.share).toBeCloseTo(0.49);
    second(10_000); // 1 s quiet
    second(10_000); // 2 s
    expect(control.share).toBeCloseTo(0.49);
    second(10_000); // 3 s: the first increase
    expect(control.share).toBeCloseTo(0.49 + 1 / 16);
    second(10_000);
    expect(control.share).toBeCloseTo(0.49 + 2 / 16);
    // Idle from here (nothing multicast, no report): it climbs all the same, when read.
    advance(60_000);
    expect(control.current()).toEqual(RATE);
    expect(control.stats.increases).toBe(9);
  });

  it('a congested window in the middle of the climb lowers it again and restarts the quiet wait', () => {
    const { control, second } = setup();
    second(10_000, [500]);
    for (let i = 0; i < 4; i++) second(10_000);
    expect(control.share).toBeCloseTo(0.7 + 2 / 16);
    second(10_000, [500]);
    expect(control.share).toBeCloseTo((0.7 + 2 / 16) * 0.7);
    second(10_000);
    second(10_000);
    expect(control.share).toBeCloseTo((0.7 + 2 / 16) * 0.7);
  });

  it('unpaced (rate 0) stays unpaced whatever is reported', () => {
    const off = { bytesPerSecond: 0, datagramsPerSecond: 0 };
    const { control, second } = setup(off);
    for (let i = 0; i < 5; i++) second(10_000, [5000]);
    expect(control.current()).toEqual(off);
    expect(control.stats.decreases).toBe(0);
  });

  it('an idle server judges nothing: reading the rate after a long silence is cheap and leaves it as it was', () => {
    const { control, advance } = setup();
    advance(365 * 24 * 3600 * 1000);
    expect(control.current()).toEqual(RATE);
    expect(control.stats).toMatchObject({ decreases: 0, increases: 0 });
  });
});

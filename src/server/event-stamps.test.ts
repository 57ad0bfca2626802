import { describe, expect, it } from 'vitest';
import { EventStamps } from './event-stamps.js';

describe('EventStamps', () => {
  it('starts from the clock in microseconds and goes up by at least one each time, within a millisecond too', () => {
    const stamps = new EventStamps(() => 1_764_547_200_000);
    expect([stamps.next(), stamps.next(), stamps.next()]).toEqual([1_764_547_200_000_000, 1_764_547_200_000_001, 1_764_547_200_000_002]);
  });

  it('follows the clock when it moves on, and never goes back when it steps back', () => {
    let now = 1_000;
    const stamps = new EventStamps(() => now);
    const seen = [stamps.next()];
    now = 2_000;
    seen.push(stamps.next());
    now = 500; // the clock set back (NTP, an operator)
    seen.push(stamps.next(), stamps.next());
    expect(seen).toEqual([1_000_000, 2_000_000, 2_000_001, 2_000_002]);
  });

  it('a restarted server (a new counter, the clock moved on) starts above the last run', () => {
    let now = 1_764_547_200_000;
    const first = new EventStamps(() => now);
    let last = 0;
    for (let i = 0; i < 5000; i++) last = first.next();
    now += 1000;
    expect(new EventStamps(() => now).next()).toBeGreaterThan(last);
  });
});

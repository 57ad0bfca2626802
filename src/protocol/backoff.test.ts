import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

const waits = (backoff: Backoff, n: number) => Array.from({ length: n }, () => backoff.next());

describe('Backoff', () => {
  it('doubles from the first wait up to the ceiling, and stays there', () => {
    expect(waits(new Backoff({ firstMs: 100, maxMs: 5000 }), 9)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff({ firstMs: 500, maxMs: 10_000 });
    waits(backoff, 4);
    backoff.reset();
    expect(waits(backoff, 2)).toEqual([500, 1000]);
  });

  it('walks a list of steps and repeats the last', () => {
    expect(waits(new Backoff({ steps: [300, 600, 1000, 2000, 3000] }), 7)).toEqual([300, 600, 1000, 2000, 3000, 3000, 3000]);
  });

  it('peek tells the next wait without counting it', () => {
    const backoff = new Backoff({ firstMs: 100, maxMs: 1000 });
    expect(backoff.peek()).toBe(100);
    expect(backoff.next()).toBe(100);
    expect(backoff.peek()).toBe(200);
  });

  it('is the loop it replaces: wait = d; d = min(2d, max), from d = first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 1, max: 200 }), (firstMs, maxMs, n) => {
        const backoff = new Backoff({ firstMs, maxMs });
        let d = firstMs;
        for (let i = 0; i < n; i++) {
          expect(backoff.next()).toBe(d);
          d = Math.min(d * 2, maxMs);
        }
      }),
    );
  });

  it('refuses an empty list of steps', () => {
    expect(() => new Backoff({ steps: [] })).toThrow();
  });
});

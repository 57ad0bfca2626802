import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifyBudget } from './verify-budget.js';

describe('VerifyBudget', () => {
  it('allows a burst at once, then nothing until time passes', () => {
    const budget = new VerifyBudget({ perSecond: 100, burst: 5 }, 0);
    const taken = Array.from({ length: 8 }, () => budget.take(0));
    expect(taken).toEqual([true, true, true, true, true, false, false, false]);
  });

  it('refills at its rate: one check every 10 ms at 100 a second', () => {
    const budget = new VerifyBudget({ perSecond: 100, burst: 5 }, 0);
    for (let i = 0; i < 5; i++) budget.take(0);
    expect(budget.take(5)).toBe(false);
    expect(budget.take(10)).toBe(true);
    expect(budget.take(10)).toBe(false);
    expect(budget.take(30)).toBe(true);
    expect(budget.take(30)).toBe(true);
    expect(budget.take(30)).toBe(false);
  });

  it('never holds more than its burst, however long it was quiet', () => {
    const budget = new VerifyBudget({ perSecond: 100, burst: 3 }, 0);
    const later = 3_600_000;
    expect(Array.from({ length: 5 }, () => budget.take(later))).toEqual([true, true, true, false, false]);
  });

  it('takes a clock that goes back as no time passing', () => {
    const budget = new VerifyBudget({ perSecond: 1000, burst: 1 }, 1000);
    expect(budget.take(1000)).toBe(true);
    expect(budget.take(0)).toBe(false);
    expect(budget.take(1000)).toBe(false);
    expect(budget.take(1001)).toBe(true);
  });

  it('allows at most burst + rate × elapsed checks, whatever the arrivals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 2000 }), (perSecond, burst, gaps) => {
        const budget = new VerifyBudget({ perSecond, burst }, 0);
        let now = 0;
        let allowed = 0;
        for (const gap of gaps) {
          now += gap;
          if (budget.take(now)) allowed++;
        }
        expect(allowed).toBeLessThanOrEqual(burst + (perSecond * now) / 1000 + 1e-9);
      }),
    );
  });
});

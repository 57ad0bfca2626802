import { describe, expect, it } from 'vitest';
import { SendRateLimiter } from './send-rate.js';

function limiterAt(policy = { perSecond: 10, burst: 5 }) {
  const clock = { t: 1_000 };
  return { limiter: new SendRateLimiter(policy, () => clock.t), clock };
}

describe('SendRateLimiter', () => {
  it('allows a burst, then refuses with the wait until the next token', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 5; i++) expect(limiter.take(1)).toBe(0);
    expect(limiter.take(1)).toBe(100);
    // Another user has a bucket of their own.
    expect(limiter.take(2)).toBe(0);
  });

  it('refills at the sustained rate, never beyond the burst', () => {
    const { limiter, clock } = limiterAt();
    for (let i = 0; i < 5; i++) limiter.take(1);
    clock.t += 250; // 2.5 tokens
    expect(limiter.take(1)).toBe(0);
    expect(limiter.take(1)).toBe(0);
    expect(limiter.take(1)).toBe(50);
    clock.t += 60_000;
    let allowed = 0;
    while (limiter.take(1) === 0) allowed++;
    expect(allowed).toBe(5);
  });

  it('does not charge a refused send', () => {
    const { limiter, clock } = limiterAt();
    for (let i = 0; i < 5; i++) limiter.take(1);
    for (let i = 0; i < 100; i++) expect(limiter.take(1)).toBeGreaterThan(0);
    clock.t += 100;
    expect(limiter.take(1)).toBe(0);
  });

  it('holds a steady sender to the rate over a long run', () => {
    const { limiter, clock } = limiterAt({ perSecond: 50, burst: 20 });
    let allowed = 0;
    for (let ms = 0; ms < 10_000; ms++) {
      clock.t += 1;
      while (limiter.take(7) === 0) allowed++;
    }
    expect(allowed).toBeGreaterThanOrEqual(20 + 500 - 1);
    expect(allowed).toBeLessThanOrEqual(20 + 500 + 1);
  });

  it('is off with a rate of 0', () => {
    const { limiter } = limiterAt({ perSecond: 0, burst: 0 });
    for (let i = 0; i < 10_000; i++) expect(limiter.take(1)).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('forgets full buckets when many users are tracked', () => {
    const { limiter, clock } = limiterAt({ perSecond: 1, burst: 2 });
    for (let user = 0; user < 10_000; user++) limiter.take(user);
    expect(limiter.size).toBe(10_000);
    clock.t += 2_000; // every bucket is full again
    limiter.take(-1);
    expect(limiter.size).toBe(1);
    expect(limiter.take(-1)).toBe(0);
    expect(limiter.take(-1)).toBeGreaterThan(0);
  });
});

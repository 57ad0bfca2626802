import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

const WINDOW_MS = 60_000;

function throttleAt(start: number) {
  const clock = { t: start };
  const throttle = new LoginThrottle(
    { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: WINDOW_MS / 1000 },
    () => clock.t,
  );
  return { throttle, clock };
}

describe('LoginThrottle', () => {
  it('refuses an address that keeps failing on one account, and only for the rest of the window', () => {
    const { throttle, clock } = throttleAt(1_000_000);
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterSeconds('a@x.io', '10.0.0.1')).toBe(0);
      throttle.recordFailure('a@x.io', '10.0.0.1');
      clock.t += 1000;
    }
    const wait = throttle.retryAfterSeconds('a@x.io', '10.0.0.1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(throttle.retryAfterSeconds('b@x.io', '10.0.0.1')).toBe(0);
    clock.t += wait * 1000;
    expect(throttle.retryAfterSeconds('a@x.io', '10.0.0.1')).toBe(0);
  });

  it('refuses an address that fails across many accounts', () => {
    const { throttle } = throttleAt(0);
    for (let i = 0; i < 5; i++) throttle.recordFailure(`user${i}@x.io`, '10.0.0.1');
    expect(throttle.retryAfterSeconds('new@x.io', '10.0.0.1')).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('new@x.io', '10.0.0.2')).toBe(0);
  });

  it('never refuses the owner at an address that has not failed, however many others fail, for however long', () => {
    const { throttle, clock } = throttleAt(0);
    for (let i = 0; i < 2000; i++) {
      throttle.recordFailure('victim@x.io', `attacker-${i}`);
      throttle.recordFailure('victim@x.io', 'attacker-fixed');
      clock.t += 500;
      expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBe(0);
    }
    // The attackers, meanwhile, are refused.
    expect(throttle.retryAfterSeconds('victim@x.io', 'attacker-fixed')).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('victim@x.io', 'attacker-1999')).toBeGreaterThan(0);
  });

  it('gives each address one guess per window once an account is under attack from many', () => {
    const { throttle, clock } = throttleAt(0);
    throttle.recordFailure('a@x.io', 'm1');
    throttle.recordFailure('a@x.io', 'm2');
    // Below the account's limit, one failure is not enough to refuse an address.
    expect(throttle.retryAfterSeconds('a@x.io', 'm1')).toBe(0);
    throttle.recordFailure('a@x.io', 'm3');
    clock.t += 1000;
    for (const m of ['m1', 'm2', 'm3']) expect(throttle.retryAfterSeconds('a@x.io', m)).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('a@x.io', 'm4')).toBe(0);
    throttle.recordFailure('a@x.io', 'm4');
    expect(throttle.retryAfterSeconds('a@x.io', 'm4')).toBe(60);
    // Other accounts are untouched.
    expect(throttle.retryAfterSeconds('b@x.io', 'm1')).toBe(0);
  });

  it("ends the owner's own refusal one window after their last failure, while others keep failing", () => {
    const { throttle, clock } = throttleAt(0);
    for (let i = 0; i < 5; i++) throttle.recordFailure('victim@x.io', `attacker-${i}`);
    throttle.recordFailure('victim@x.io', 'victim-ip'); // a typo, while under attack
    const typoAt = clock.t;
    expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBe(60);
    let attacker = 5;
    while (clock.t < typoAt + WINDOW_MS) {
      expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBeGreaterThan(0);
      throttle.recordFailure('victim@x.io', `attacker-${attacker++}`);
      clock.t += 250;
    }
    expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBe(0);
  });

  it('keeps refusing a failing address while it goes on, but never beyond one window after it stops', () => {
    const { throttle, clock } = throttleAt(0);
    for (let i = 0; i < 20; i++) {
      throttle.recordFailure('victim@x.io', 'one-ip');
      clock.t += 10_000;
    }
    expect(throttle.retryAfterSeconds('victim@x.io', 'one-ip')).toBeGreaterThan(0);
    clock.t += WINDOW_MS;
    expect(throttle.retryAfterSeconds('victim@x.io', 'one-ip')).toBe(0);
  });

  it("forgets the owner's own failures after a successful login, but not a guesser's", () => {
    const { throttle } = throttleAt(0);
    throttle.recordFailure('a@x.io', 'home');
    throttle.recordFailure('a@x.io', 'home');
    throttle.recordSuccess('a@x.io', 'home');
    throttle.recordFailure('a@x.io', 'home');
    throttle.recordFailure('a@x.io', 'home');
    expect(throttle.retryAfterSeconds('a@x.io', 'home')).toBe(0);

    for (let i = 0; i < 3; i++) throttle.recordFailure('a@x.io', 'guesser');
    throttle.recordSuccess('a@x.io', 'home');
    expect(throttle.retryAfterSeconds('a@x.io', 'guesser')).toBeGreaterThan(0);
  });
});

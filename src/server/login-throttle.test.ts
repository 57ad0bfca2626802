import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

function throttleAt(start: number) {
  const clock = { t: start };
  const throttle = new LoginThrottle(
    { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 },
    () => clock.t,
  );
  return { throttle, clock };
}

describe('LoginThrottle', () => {
  it('refuses an account after its limit of failures, and only for the rest of the window', () => {
    const { throttle, clock } = throttleAt(1_000_000);
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterSeconds('a@x.io', '10.0.0.1')).toBe(0);
      throttle.recordFailure('a@x.io', `10.0.0.${i + 1}`);
      clock.t += 1000;
    }
    const wait = throttle.retryAfterSeconds('a@x.io', '10.0.0.9');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(throttle.retryAfterSeconds('b@x.io', '10.0.0.9')).toBe(0);
    clock.t += wait * 1000;
    expect(throttle.retryAfterSeconds('a@x.io', '10.0.0.9')).toBe(0);
  });

  it('refuses an address that fails across many accounts', () => {
    const { throttle } = throttleAt(0);
    for (let i = 0; i < 5; i++) throttle.recordFailure(`user${i}@x.io`, '10.0.0.1');
    expect(throttle.retryAfterSeconds('new@x.io', '10.0.0.1')).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('new@x.io', '10.0.0.2')).toBe(0);
  });

  it('forgets an account failures after a successful login', () => {
    const { throttle } = throttleAt(0);
    throttle.recordFailure('a@x.io', '1');
    throttle.recordFailure('a@x.io', '2');
    throttle.recordSuccess('a@x.io');
    throttle.recordFailure('a@x.io', '3');
    throttle.recordFailure('a@x.io', '4');
    expect(throttle.retryAfterSeconds('a@x.io', '5')).toBe(0);
  });

  it('keeps refusing while failures continue, but never beyond one window after they stop', () => {
    const { throttle, clock } = throttleAt(0);
    for (let i = 0; i < 20; i++) {
      throttle.recordFailure('victim@x.io', `attacker-${i}`);
      clock.t += 10_000;
    }
    expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBeGreaterThan(0);
    clock.t += 60_000;
    expect(throttle.retryAfterSeconds('victim@x.io', 'victim-ip')).toBe(0);
  });
});

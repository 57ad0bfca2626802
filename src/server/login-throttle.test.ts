import { describe, expect, it } from 'vitest';
import { LoginThrottle, type ThrottlePolicy } from './login-throttle.js';

const POLICY: ThrottlePolicy = {
  freeFailuresPerAddress: 3,
  freeFailuresPerAccount: 6,
  firstDelaySeconds: 1,
  maxAddressDelaySeconds: 60,
  maxAccountDelaySeconds: 8,
  maxUnknownEmailFailuresPerAddress: 5,
  windowSeconds: 15 * 60,
  knownAddressSeconds: 24 * 3600,
};

function throttleAt(start: number, policy = POLICY) {
  const clock = { t: start };
  return { throttle: new LoginThrottle(policy, () => clock.t), clock };
}

/** Waits as long as told, then fails once more; returns the waits. */
function guessAsAllowed(throttle: LoginThrottle, clock: { t: number }, email: string, address: string, guesses: number): number[] {
  const waits: number[] = [];
  for (let i = 0; i < guesses; i++) {
    const wait = throttle.retryAfterSeconds(email, address, true);
    waits.push(wait);
    clock.t += wait * 1000;
    throttle.recordFailure(email, address, true);
  }
  return waits;
}

describe('LoginThrottle', () => {
  it('makes one address guessing one account wait twice as long after each failure past its allowance, up to the cap, for that account only', () => {
    const { throttle, clock } = throttleAt(1_000_000);
    const waits = guessAsAllowed(throttle, clock, 'a@x.io', '10.0.0.1', 12);
    expect(waits).toEqual([0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    expect(throttle.retryAfterSeconds('b@x.io', '10.0.0.1', true)).toBe(0);
    expect(throttle.retryAfterSeconds('nobody@x.io', '10.0.0.1', false)).toBe(0);
  });

  it('does not lengthen a wait for attempts made while refused', () => {
    const { throttle, clock } = throttleAt(0);
    guessAsAllowed(throttle, clock, 'a@x.io', '10.0.0.1', 5);
    const wait = throttle.retryAfterSeconds('a@x.io', '10.0.0.1', true);
    expect(wait).toBe(4);
    for (let i = 0; i < 30; i++) {
      clock.t += 100;
      throttle.retryAfterSeconds('a@x.io', '10.0.0.1', true);
    }
    clock.t += wait * 1000 - 3000;
    expect(throttle.retryAfterSeconds('a@x.io', '10.0.0.1', true)).toBe(0);
  });

  it('limits guesses at one account from many addresses: each new address waits too, up to the account cap', () => {
    const { throttle, clock } = throttleAt(0);
    const start = clock.t;
    let checked = 0;
    for (let n = 0; n < 1000; n++) {
      const address = `127.1.${n >> 8}.${n & 255}`;
      if (throttle.retryAfterSeconds('victim@x.io', address, true) > 0) {
        clock.t += 50; // a refused attempt: the guesser goes on at once from another address
        continue;
      }
      checked++;
      throttle.recordFailure('victim@x.io', address, true);
    }
    const elapsedSeconds = (clock.t - start) / 1000;
    // The allowance, then at most one guess per cap (the waits before it reached the cap are shorter).
    expect(checked).toBeLessThanOrEqual(POLICY.freeFailuresPerAccount + 4 + Math.ceil(elapsedSeconds / POLICY.maxAccountDelaySeconds));
    expect(checked).toBeLessThan(20);
  });

  it('never makes the owner wait at an address they logged in from, however many addresses guess at the account', () => {
    const { throttle, clock } = throttleAt(0);
    throttle.recordSuccess('victim@x.io', '192.0.2.7');
    for (let i = 0; i < 2000; i++) {
      throttle.recordFailure('victim@x.io', `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, true);
      clock.t += 200;
      expect(throttle.retryAfterSeconds('victim@x.io', '192.0.2.7', true)).toBe(0);
    }
    // A new address waits, but never more than the account's cap.
    const wait = throttle.retryAfterSeconds('victim@x.io', '192.0.2.8', true);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(POLICY.maxAccountDelaySeconds);
  });

  it('counts IPv6 addresses by /64: new addresses in one /64 are one guesser', () => {
    const { throttle, clock } = throttleAt(0);
    for (let i = 1; i <= 3; i++) throttle.recordFailure('a@x.io', `2001:db8:1:2::${i.toString(16)}`, true);
    expect(throttle.retryAfterSeconds('a@x.io', '2001:db8:1:2:abcd::99', true)).toBe(1);
    expect(throttle.retryAfterSeconds('a@x.io', '2001:db8:1:3::1', true)).toBe(0);
    clock.t += 1000;
    expect(throttle.retryAfterSeconds('a@x.io', '2001:db8:1:2:abcd::99', true)).toBe(0);
  });

  it('refuses an address failing on unknown emails for unknown emails only: a real account there still gets in', () => {
    const { throttle } = throttleAt(0);
    for (let i = 0; i < 21; i++) throttle.recordFailure(`made-up-${i}@x.io`, '127.0.0.1', false);
    expect(throttle.retryAfterSeconds('another-made-up@x.io', '127.0.0.1', false)).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('owner@x.io', '127.0.0.1', true)).toBe(0);
    expect(throttle.retryAfterSeconds('another-made-up@x.io', '127.0.0.2', false)).toBe(0);
  });

  it('bounds every wait: once guessing stops, the owner waits at most the address cap, even at the guesser’s own address', () => {
    const { throttle, clock } = throttleAt(0);
    guessAsAllowed(throttle, clock, 'victim@x.io', '127.0.0.1', 40);
    const wait = throttle.retryAfterSeconds('victim@x.io', '127.0.0.1', true);
    expect(wait).toBeLessThanOrEqual(POLICY.maxAddressDelaySeconds);
    clock.t += wait * 1000;
    expect(throttle.retryAfterSeconds('victim@x.io', '127.0.0.1', true)).toBe(0);
  });

  it("forgets the owner's own failures at an address after a successful login there, but not another address's", () => {
    const { throttle, clock } = throttleAt(0);
    guessAsAllowed(throttle, clock, 'a@x.io', 'home', 3);
    guessAsAllowed(throttle, clock, 'a@x.io', 'guesser', 4);
    throttle.recordSuccess('a@x.io', 'home');
    expect(throttle.retryAfterSeconds('a@x.io', 'home', true)).toBe(0);
    expect(throttle.retryAfterSeconds('a@x.io', 'guesser', true)).toBeGreaterThan(0);
  });

  it('forgets failures older than the window', () => {
    const { throttle, clock } = throttleAt(0);
    guessAsAllowed(throttle, clock, 'a@x.io', '10.0.0.1', 8);
    clock.t += POLICY.windowSeconds * 1000;
    expect(guessAsAllowed(throttle, clock, 'a@x.io', '10.0.0.1', 3)).toEqual([0, 0, 0]);
  });
});

import { addressGroup } from './address-group.js';
import { FailureWindow } from './failure-window.js';

/**
 * Limits how many accounts one address (IPv6 by /64) may try to make over a sliding window:
 * each costs an Argon2 hash and a row, and a flood of them slowed everyone's logins. Counted
 * are registrations that reached the hash (a refused weak password or taken email does not
 * count); past the limit the address is refused with 429 and Retry-After until its oldest
 * counted registration leaves the window.
 */
export interface RegistrationPolicy {
  maxPerAddress: number;
  windowSeconds: number;
}

export const DEFAULT_REGISTRATION_THROTTLE: RegistrationPolicy = { maxPerAddress: 10, windowSeconds: 60 * 60 };

export class RegistrationThrottle {
  private readonly byAddress: FailureWindow;

  constructor(
    policy: RegistrationPolicy = DEFAULT_REGISTRATION_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    this.byAddress = new FailureWindow(policy.maxPerAddress, policy.windowSeconds * 1000);
  }

  /** Seconds this address must wait before registering again (0: go ahead). */
  retryAfterSeconds(address: string): number {
    return Math.ceil(this.byAddress.waitMs(addressGroup(address), this.now()) / 1000);
  }

  record(address: string): void {
    this.byAddress.record(addressGroup(address), this.now());
  }
}

import { FailureWindow } from './failure-window.js';

/**
 * Slows password guessing without handing an attacker a way to lock people out. Failed logins
 * are counted over a sliding window, and past a limit further attempts are refused (429):
 *
 * - per address, across all accounts (`maxFailuresPerAddress`): one machine guessing widely;
 * - per account and address (`maxFailuresPerAccount`): one machine guessing one password;
 * - per account, across addresses: once an account has `maxFailuresPerAccount` recent failures
 *   (guessing from many machines), every address that has itself failed on it recently is
 *   refused, so each further machine gets one guess per window.
 *
 * What an attempt may be refused for is therefore only failures from its own address. Another
 * machine's failures, however many and however long they go on, never refuse the account's
 * owner at an address that has not failed, and the owner's own refusal ends at most one window
 * after their address's last failure. Refused attempts are not counted, so retrying while
 * refused does not extend the wait.
 */
export interface ThrottlePolicy {
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 20,
  windowSeconds: 15 * 60,
};

export class LoginThrottle {
  private readonly byAccount: FailureWindow;
  private readonly byAccountAndAddress: FailureWindow;
  private readonly byAddress: FailureWindow;

  constructor(
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = policy.windowSeconds * 1000;
    this.byAccount = new FailureWindow(policy.maxFailuresPerAccount, windowMs);
    this.byAccountAndAddress = new FailureWindow(policy.maxFailuresPerAccount, windowMs);
    this.byAddress = new FailureWindow(policy.maxFailuresPerAddress, windowMs);
  }

  /** Seconds the caller must wait before trying again (0: go ahead). */
  retryAfterSeconds(email: string, address: string): number {
    const t = this.now();
    const pair = pairKey(email, address);
    const underAttack = this.byAccount.waitMs(email, t) > 0;
    const waitMs = Math.max(
      this.byAddress.waitMs(address, t),
      this.byAccountAndAddress.waitMs(pair, t),
      underAttack ? this.byAccountAndAddress.waitMs(pair, t, 1) : 0,
    );
    return Math.ceil(waitMs / 1000);
  }

  recordFailure(email: string, address: string): void {
    const t = this.now();
    this.byAccount.record(email, t);
    this.byAccountAndAddress.record(pairKey(email, address), t);
    this.byAddress.record(address, t);
  }

  /**
   * The owner's own mistakes from this address are forgotten, and the account is no longer
   * counted as under attack (its count held the owner's typos too). A guesser keeps its own
   * count per address, so a login by the owner gives guessers back at most the account's
   * limit, in total, before the account counts as under attack again.
   */
  recordSuccess(email: string, address: string): void {
    this.byAccountAndAddress.clear(pairKey(email, address));
    this.byAccount.clear(email);
  }
}

function pairKey(email: string, address: string): string {
  return `${address}\n${email}`;
}

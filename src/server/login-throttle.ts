import { addressGroup } from './address-group.js';
import { FailureWindow, MAX_TRACKED_KEYS } from './failure-window.js';

/**
 * Slows password guessing without handing anyone a way to lock the owner out. Failed logins are
 * counted over a sliding window, addresses by group (IPv4 alone, IPv6 by /64: address-group.ts),
 * and each count past its free allowance makes the next attempt wait, doubling with each further
 * failure up to a cap (429 with Retry-After meanwhile):
 *
 * - per account and address: one address guessing one account waits up to
 *   `maxAddressDelaySeconds` between guesses;
 * - per account, across addresses: once an account has `freeFailuresPerAccount` recent failures
 *   (guessing from many addresses), an attempt on it from an address where its owner has not
 *   logged in recently waits up to `maxAccountDelaySeconds` after the account's latest failure.
 *   Addresses the owner has logged in from are spared this, so an attack from elsewhere never
 *   refuses the owner there;
 * - unknown emails, per address: past `maxUnknownEmailFailuresPerAddress` in a window, that
 *   address is refused for unknown emails only. Failing on made-up emails never refuses a real
 *   account, so whoever shares the owner's address cannot lock them out that way.
 *
 * Every wait is bounded, so no refusal outlasts its cap after the failures stop. Refused attempts
 * are not counted. docs/security.md gives the numbers and what they cost a guesser.
 */
export interface ThrottlePolicy {
  /** Failures one address may make on one account before each further attempt there waits. */
  freeFailuresPerAddress: number;
  /** Failures on one account, all addresses together, before attempts from new addresses wait. */
  freeFailuresPerAccount: number;
  /** The first wait; each further failure doubles it. */
  firstDelaySeconds: number;
  /** The longest wait for one address on one account. */
  maxAddressDelaySeconds: number;
  /** The longest wait for an account guessed at from many addresses. */
  maxAccountDelaySeconds: number;
  /** Failed logins for unknown emails one address may make in a window. */
  maxUnknownEmailFailuresPerAddress: number;
  /** Failures older than this are forgotten. */
  windowSeconds: number;
  /** How long an address the owner logged in from stays spared the account's wait. */
  knownAddressSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailuresPerAddress: 5,
  freeFailuresPerAccount: 10,
  firstDelaySeconds: 1,
  maxAddressDelaySeconds: 60,
  maxAccountDelaySeconds: 15,
  maxUnknownEmailFailuresPerAddress: 20,
  windowSeconds: 15 * 60,
  knownAddressSeconds: 30 * 24 * 3600,
};

/** Addresses one account is remembered to have logged in from. */
const KNOWN_ADDRESSES_PER_ACCOUNT = 8;

interface Growth {
  free: number;
  firstMs: number;
  maxMs: number;
}

export class LoginThrottle {
  private readonly byAccountAndAddress: FailureWindow;
  private readonly byAccount: FailureWindow;
  private readonly unknownByAddress: FailureWindow;
  private readonly addressGrowth: Growth;
  private readonly accountGrowth: Growth;
  /** email → address group → when its owner last logged in from it. */
  private readonly knownAddresses = new Map<string, Map<string, number>>();

  constructor(
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = policy.windowSeconds * 1000;
    const firstMs = policy.firstDelaySeconds * 1000;
    this.addressGrowth = { free: policy.freeFailuresPerAddress, firstMs, maxMs: policy.maxAddressDelaySeconds * 1000 };
    this.accountGrowth = { free: policy.freeFailuresPerAccount, firstMs, maxMs: policy.maxAccountDelaySeconds * 1000 };
    this.byAccountAndAddress = new FailureWindow(timestampsToReachCap(this.addressGrowth), windowMs);
    this.byAccount = new FailureWindow(timestampsToReachCap(this.accountGrowth), windowMs);
    this.unknownByAddress = new FailureWindow(policy.maxUnknownEmailFailuresPerAddress, windowMs);
  }

  /** Seconds the caller must wait before trying again (0: go ahead). */
  retryAfterSeconds(email: string, address: string, accountExists: boolean): number {
    const t = this.now();
    const group = addressGroup(address);
    const waitMs = accountExists
      ? Math.max(
          this.byAccountAndAddress.growingWaitMs(pairKey(email, group), t, this.addressGrowth),
          this.isKnownAddress(email, group, t) ? 0 : this.byAccount.growingWaitMs(email, t, this.accountGrowth),
        )
      : this.unknownByAddress.waitMs(group, t);
    return Math.ceil(waitMs / 1000);
  }

  recordFailure(email: string, address: string, accountExists: boolean): void {
    const t = this.now();
    const group = addressGroup(address);
    if (!accountExists) {
      this.unknownByAddress.record(group, t);
      return;
    }
    this.byAccountAndAddress.record(pairKey(email, group), t);
    this.byAccount.record(email, t);
  }

  /**
   * The owner's own mistakes from this address are forgotten, and the address is remembered as
   * theirs. The account's count is kept: it holds any guesser's failures too, and clearing it
   * would hand guessers elsewhere a fresh allowance at every login of the owner.
   */
  recordSuccess(email: string, address: string): void {
    const t = this.now();
    const group = addressGroup(address);
    this.byAccountAndAddress.clear(pairKey(email, group));
    const known = this.knownAddresses.get(email) ?? new Map<string, number>();
    known.delete(group);
    known.set(group, t);
    if (known.size > KNOWN_ADDRESSES_PER_ACCOUNT) known.delete(known.keys().next().value as string);
    this.knownAddresses.delete(email);
    if (this.knownAddresses.size >= MAX_TRACKED_KEYS) this.knownAddresses.delete(this.knownAddresses.keys().next().value as string);
    this.knownAddresses.set(email, known);
  }

  private isKnownAddress(email: string, group: string, now: number): boolean {
    const since = this.knownAddresses.get(email)?.get(group);
    return since !== undefined && now - since < this.policy.knownAddressSeconds * 1000;
  }
}

function pairKey(email: string, group: string): string {
  return `${group}\n${email}`;
}

/** How many failures a window must keep for the wait to reach its cap. */
function timestampsToReachCap(growth: Growth): number {
  const doublings = growth.firstMs > 0 && growth.maxMs > growth.firstMs ? Math.ceil(Math.log2(growth.maxMs / growth.firstMs)) : 0;
  return growth.free + doublings + 1;
}

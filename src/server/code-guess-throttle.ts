import { ChorusError } from '../protocol/errors.js';
import { FailureWindow } from './failure-window.js';

/**
 * Slows the guessing of chat codes. A code is what lets someone join a chat, and anyone may
 * register, so codes must not be found by trying them. A request that names a chat by a code
 * that does not exist is a failure, counted over a sliding window per user and per address:
 * a join, and any other chat request or TCP send too, since each of those tells an unknown
 * code (CHAT_NOT_FOUND) from an existing chat one is not in (NOT_A_MEMBER). Past either limit:
 *
 * - every join is refused (429 TOO_MANY_REQUESTS, with Retry-After), even for a code that exists;
 * - every other request about a chat the caller is not a member of, or that does not exist, is
 *   refused the same way, so that neither answer tells the two apart any more.
 *
 * A caller's own chats keep working: a refusal comes only where the answer would have been
 * 403 or 404. Successful joins do not count, and refused attempts are not counted either, so
 * retrying while refused does not extend the wait, which ends one window after the failures.
 */
export interface CodeGuessPolicy {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

// Codes are 50 random bits: ten misses in ten minutes leave guessing hopeless, and a person
// mistyping a code or two is never refused. An address may hold several people (a shared
// machine, a NAT), hence its larger allowance.
export const DEFAULT_CODE_GUESS_THROTTLE: CodeGuessPolicy = {
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 20,
  windowSeconds: 10 * 60,
};

/** Who is asking about a chat by its code: the user and the address the request came from. */
export interface Caller {
  user: { id: number };
  address: string;
}

export class CodeGuessThrottle {
  private readonly byUser: FailureWindow;
  private readonly byAddress: FailureWindow;

  constructor(
    policy: CodeGuessPolicy = DEFAULT_CODE_GUESS_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = policy.windowSeconds * 1000;
    this.byUser = new FailureWindow(policy.maxFailuresPerUser, windowMs);
    this.byAddress = new FailureWindow(policy.maxFailuresPerAddress, windowMs);
  }

  /** Seconds the caller must wait before naming chats it is not in again (0: go ahead). */
  retryAfterSeconds(caller: Caller): number {
    const t = this.now();
    return Math.ceil(Math.max(this.byUser.waitMs(String(caller.user.id), t), this.byAddress.waitMs(caller.address, t)) / 1000);
  }

  recordFailure(caller: Caller): void {
    const t = this.now();
    this.byUser.record(String(caller.user.id), t);
    this.byAddress.record(caller.address, t);
  }

  /** Throws TOO_MANY_REQUESTS while the caller is refused: a join asks this first, whatever the code. */
  refuseWhileThrottled(caller: Caller): void {
    const wait = this.retryAfterSeconds(caller);
    if (wait > 0) throw tooManyGuesses(wait);
  }

  /**
   * Runs a request about a chat named by code. An unknown code counts as a failure; while the
   * caller is refused, an unknown code and a chat they are not in both answer TOO_MANY_REQUESTS
   * instead of telling which it was. Everything else passes through untouched.
   */
  async guard<T>(caller: Caller, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof ChorusError) || (error.code !== 'CHAT_NOT_FOUND' && error.code !== 'NOT_A_MEMBER')) throw error;
      this.refuseWhileThrottled(caller);
      if (error.code === 'CHAT_NOT_FOUND') this.recordFailure(caller);
      throw error;
    }
  }
}

function tooManyGuesses(retryAfterSeconds: number): ChorusError {
  return new ChorusError(
    'TOO_MANY_REQUESTS',
    `Too many attempts with chat codes that do not exist; try again in ${retryAfterSeconds} s`,
    undefined,
    retryAfterSeconds,
  );
}

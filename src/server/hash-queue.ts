import { availableParallelism } from 'node:os';
import { ChorusError } from '../protocol/errors.js';

/**
 * Bounds the Argon2 work running at once (each hash or check takes ~19 MiB and tens of
 * milliseconds of a core), so that a burst of registrations cannot make logins wait behind it
 * or run the server out of memory. Work past `maxConcurrent` waits in a queue; logins go ahead
 * of registrations, and registrations may only fill a small part of the queue. Past the queue's
 * limit the request is refused at once (429 with Retry-After) rather than left waiting.
 */
export interface HashingPolicy {
  /** Argon2 operations running at once. */
  maxConcurrent: number;
  /** Logins that may wait for a turn. */
  maxWaitingLogins: number;
  /** Registrations that may wait for a turn. */
  maxWaitingRegistrations: number;
}

export const DEFAULT_HASHING: HashingPolicy = {
  // libuv runs Argon2 on its 4 threads; more at once would only queue there, unbounded.
  maxConcurrent: Math.max(1, Math.min(4, availableParallelism())),
  maxWaitingLogins: 64,
  maxWaitingRegistrations: 16,
};

export type HashWork = 'login' | 'registration';

/** The wait a refused request is told to take: a hash's worth, rounded up. */
const BUSY_RETRY_AFTER_SECONDS = 1;

export class HashQueue {
  private running = 0;
  private readonly waiting: Record<HashWork, Array<() => void>> = { login: [], registration: [] };

  constructor(private readonly policy: HashingPolicy = DEFAULT_HASHING) {}

  /** Runs `work` when a slot is free; TOO_MANY_REQUESTS at once if too many already wait. */
  async run<T>(kind: HashWork, work: () => Promise<T>): Promise<T> {
    if (this.running >= this.policy.maxConcurrent) await this.waitForTurn(kind);
    else this.running++;
    try {
      return await work();
    } finally {
      this.handOver();
    }
  }

  private waitForTurn(kind: HashWork): Promise<void> {
    const queue = this.waiting[kind];
    const limit = kind === 'login' ? this.policy.maxWaitingLogins : this.policy.maxWaitingRegistrations;
    if (queue.length >= limit) {
      const what = kind === 'login' ? 'logins' : 'registrations';
      throw new ChorusError('TOO_MANY_REQUESTS', `The server is busy with other ${what}; try again in ${BUSY_RETRY_AFTER_SECONDS} s`, undefined, BUSY_RETRY_AFTER_SECONDS);
    }
    return new Promise((resolve) => queue.push(resolve));
  }

  /** The slot passes straight to the next waiter (a login first), or is freed. */
  private handOver(): void {
    const next = this.waiting.login.shift() ?? this.waiting.registration.shift();
    if (next) next();
    else this.running--;
  }
}

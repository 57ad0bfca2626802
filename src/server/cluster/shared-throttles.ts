import { type Caller, type CodeGuessPolicy, CodeGuessThrottle } from '../code-guess-throttle.js';
import { LoginThrottle, type ThrottlePolicy } from '../login-throttle.js';
import { type RegistrationPolicy, RegistrationThrottle } from '../registration-throttle.js';

/** What one server's throttles record, told to the others. */
export type ThrottleEvent =
  | { kind: 'login-failure'; email: string; address: string; accountExists: boolean }
  | { kind: 'login-success'; email: string; address: string }
  | { kind: 'registration'; address: string }
  | { kind: 'code-guess'; userId: number; address: string };

export interface ThrottleChannel {
  publish(event: ThrottleEvent): void;
  /** Events of the other servers (never this one's own). */
  subscribe(apply: (event: ThrottleEvent) => void): void;
}

/**
 * The abuse throttles of a server in a cluster: each records as on a single server and tells
 * the other servers, which record the same, so that guessing passwords or chat codes, or
 * registering accounts, across several servers counts once, not once per server. (The message
 * rate stays per server: a sender's own server holds its token bucket.)
 */
export function sharedThrottles(
  policies: { login: ThrottlePolicy; registration: RegistrationPolicy; codeGuess: CodeGuessPolicy },
  channel: ThrottleChannel,
): { logins: LoginThrottle; registrations: RegistrationThrottle; guesses: CodeGuessThrottle } {
  const logins = new SharedLoginThrottle(policies.login, channel);
  const registrations = new SharedRegistrationThrottle(policies.registration, channel);
  const guesses = new SharedCodeGuessThrottle(policies.codeGuess, channel);
  channel.subscribe((event) => {
    if (event.kind === 'login-failure') logins.recordHere(event);
    else if (event.kind === 'login-success') logins.recordSuccessHere(event.email, event.address);
    else if (event.kind === 'registration') registrations.recordHere(event.address);
    else if (event.kind === 'code-guess') guesses.recordHere({ user: { id: event.userId }, address: event.address });
  });
  return { logins, registrations, guesses };
}

class SharedLoginThrottle extends LoginThrottle {
  constructor(
    policy: ThrottlePolicy,
    private readonly channel: ThrottleChannel,
  ) {
    super(policy);
  }

  override recordFailure(email: string, address: string, accountExists: boolean): void {
    super.recordFailure(email, address, accountExists);
    this.channel.publish({ kind: 'login-failure', email, address, accountExists });
  }

  override recordSuccess(email: string, address: string): void {
    super.recordSuccess(email, address);
    this.channel.publish({ kind: 'login-success', email, address });
  }

  recordHere(event: { email: string; address: string; accountExists: boolean }): void {
    super.recordFailure(event.email, event.address, event.accountExists);
  }

  recordSuccessHere(email: string, address: string): void {
    super.recordSuccess(email, address);
  }
}

class SharedRegistrationThrottle extends RegistrationThrottle {
  constructor(
    policy: RegistrationPolicy,
    private readonly channel: ThrottleChannel,
  ) {
    super(policy);
  }

  override record(address: string): void {
    super.record(address);
    this.channel.publish({ kind: 'registration', address });
  }

  recordHere(address: string): void {
    super.record(address);
  }
}

class SharedCodeGuessThrottle extends CodeGuessThrottle {
  constructor(
    policy: CodeGuessPolicy,
    private readonly channel: ThrottleChannel,
  ) {
    super(policy);
  }

  override recordFailure(caller: Caller): void {
    super.recordFailure(caller);
    this.channel.publish({ kind: 'code-guess', userId: caller.user.id, address: caller.address });
  }

  recordHere(caller: Caller): void {
    super.recordFailure(caller);
  }
}

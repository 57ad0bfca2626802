import { createHash, randomBytes } from 'node:crypto';
import { ChorusError, chorusError, errorMessage } from '../protocol/errors.js';
import type { Session, User } from '../protocol/resources.js';
import type { HashQueue } from './hash-queue.js';
import type { LoginThrottle } from './login-throttle.js';
import { burnVerifyTime, hashPassword, verifyPassword } from './passwords.js';
import type { RegistrationThrottle } from './registration-throttle.js';
import { isUniqueViolation } from './store/database.js';
import type { Store } from './store/store.js';
import type { UserRow } from './store/users.js';
import * as validate from './validation.js';

export type { Session, User };

export function toUser(row: UserRow): User {
  return { id: row.id, name: row.name, email: row.email, createdAt: new Date(row.created_at).toISOString() };
}

/** Tokens are 256 random bits; only their hash is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What keeps password guessing and hashing floods in check; see each module. */
export interface AccountGuards {
  logins: LoginThrottle;
  registrations: RegistrationThrottle;
  /** Every Argon2 hash and check goes through it. */
  hashing: HashQueue;
}

/** Registration, login, logout, and turning a bearer token back into its user. */
export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly guards: AccountGuards,
    private readonly sessionTtlSeconds: number,
  ) {}

  /** `address` is the client's IP, for throttling. */
  async register(input: { name: string; email: string; password: string }, address: string): Promise<User> {
    const retryAfter = this.guards.registrations.retryAfterSeconds(address);
    if (retryAfter > 0) {
      throw new ChorusError('TOO_MANY_REQUESTS', `Too many accounts made from this address; try again in ${retryAfter} s`, undefined, retryAfter);
    }
    const name = validate.userName(input.name);
    const email = validate.email(input.email);
    const password = validate.newPassword(input.password, { name, email });
    if (await this.store.users.findByEmail(email)) throw emailTaken();
    this.guards.registrations.record(address);
    const passwordHash = await this.guards.hashing.run('registration', () => hashPassword(password));
    try {
      const row = await this.store.users.insert({ name, email, passwordHash, createdAt: Date.now() });
      return toUser(row);
    } catch (error) {
      // Two registrations racing for one email: the database decides.
      if (isUniqueViolation(error)) throw emailTaken();
      throw error;
    }
  }

  /** `address` is the client's IP, for throttling. */
  async login(input: { email: string; password: string }, address: string): Promise<Session> {
    const email = validate.loginEmail(input.email);
    const row = await this.store.users.findByEmail(email);
    const { logins, hashing } = this.guards;
    const retryAfter = logins.retryAfterSeconds(email, address, row !== undefined);
    if (retryAfter > 0) {
      throw new ChorusError('TOO_MANY_REQUESTS', `Too many failed logins; try again in ${retryAfter} s`, undefined, retryAfter);
    }
    const ok = await hashing.run('login', () =>
      row ? verifyPassword(row.password_hash, input.password) : burnVerifyTime(input.password).then(() => false),
    );
    if (!row || !ok) {
      logins.recordFailure(email, address, row !== undefined);
      throw chorusError('WRONG_CREDENTIALS');
    }
    logins.recordSuccess(email, address);
    return this.openSession(row);
  }

  async logout(token: string): Promise<void> {
    await this.store.sessions.delete(hashToken(token));
  }

  /** The user a bearer token belongs to; UNAUTHENTICATED if it is unknown, expired or revoked. */
  async authenticate(token: string | undefined): Promise<User> {
    if (!token) throw new ChorusError('UNAUTHENTICATED', 'Log in first: no session token was given');
    const row = await this.store.sessions.findUser(hashToken(token), Date.now());
    if (!row) throw new ChorusError('UNAUTHENTICATED', 'Session expired or logged out; log in again');
    return toUser(row);
  }

  /**
   * The user of a live session and when it expires (ms since the epoch), for a connection that
   * outlives the request that opened it; UNAUTHENTICATED as `authenticate`.
   */
  async session(token: string): Promise<{ user: User; expiresAt: number }> {
    const row = await this.store.sessions.findUser(hashToken(token), Date.now());
    if (!row) throw new ChorusError('UNAUTHENTICATED', 'Session expired or logged out; log in again');
    const { expires_at: expiresAt, ...user } = row;
    return { user: toUser(user), expiresAt: Number(expiresAt) };
  }

  async removeExpiredSessions(): Promise<void> {
    await this.store.sessions.deleteExpired(Date.now());
  }

  private async openSession(row: UserRow): Promise<Session> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const expiresAt = now + this.sessionTtlSeconds * 1000;
    await this.store.sessions.insert({ tokenHash: hashToken(token), userId: row.id, createdAt: now, expiresAt });
    return { token, expiresAt: new Date(expiresAt).toISOString(), user: toUser(row) };
  }
}

function emailTaken(): ChorusError {
  return new ChorusError('EMAIL_TAKEN', errorMessage('EMAIL_TAKEN'), 'email');
}

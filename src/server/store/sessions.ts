import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { UserRow } from './users.js';

export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(session: { tokenHash: string; userId: number; createdAt: number; expiresAt: number }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        token_hash: session.tokenHash,
        user_id: session.userId,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  /** The user behind a live (unexpired) session, if any, with the session's expiry. */
  async findUser(tokenHash: string, now: number): Promise<(UserRow & { expires_at: number }) | undefined> {
    return this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .select('sessions.expires_at')
      .where('sessions.token_hash', '=', tokenHash)
      .where('sessions.expires_at', '>', now)
      .executeTakeFirst();
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }

  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }
}

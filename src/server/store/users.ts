import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from './schema.js';

export type UserRow = Selectable<UsersTable>;

export class UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Throws the engine's unique-violation error when the email is taken. */
  async insert(user: { name: string; email: string; passwordHash: string; createdAt: number }): Promise<UserRow> {
    return this.db
      .insertInto('users')
      .values({ name: user.name, email: user.email, password_hash: user.passwordHash, created_at: user.createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async findByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async findById(id: number): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }
}

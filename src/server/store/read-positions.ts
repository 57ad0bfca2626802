import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface ReadPositionRow {
  chatCode: string;
  userId: number;
  seq: number;
}

/** A chat's member as the member list shows them: with their read position and whether they share it. */
export interface MemberReadRow {
  id: number;
  name: string;
  joined_at: number;
  share_receipts: number;
  read_seq: number | null;
}

/**
 * Read positions (one per member and chat) and the per-account receipts setting. Writes only
 * ever move a position forward: the upsert keeps the higher of the stored and the new seq, so a
 * late or repeated write can never move it back.
 */
export class ReadPositionStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Writes the positions in one transaction; a row whose stored seq is already higher is left as it is. */
  async upsertMany(rows: readonly ReadPositionRow[], at: number): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const row of rows) {
        await tx
          .insertInto('read_positions')
          .values({ chat_code: row.chatCode, user_id: row.userId, seq: row.seq, updated_at: at })
          .onConflict((oc) =>
            oc
              .columns(['chat_code', 'user_id'])
              .doUpdateSet((eb) => ({ seq: eb.ref('excluded.seq'), updated_at: eb.ref('excluded.updated_at') }))
              .where('read_positions.seq', '<', (eb) => eb.ref('excluded.seq')),
          )
          .execute();
      }
    });
  }

  async get(chatCode: string, userId: number): Promise<number> {
    const row = await this.db.selectFrom('read_positions').select('seq').where('chat_code', '=', chatCode).where('user_id', '=', userId).executeTakeFirst();
    return row?.seq ?? 0;
  }

  /** The chat's members with their receipts setting and stored position (null: none yet). */
  async members(chatCode: string): Promise<MemberReadRow[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .leftJoin('read_positions', (join) => join.onRef('read_positions.chat_code', '=', 'memberships.chat_code').onRef('read_positions.user_id', '=', 'memberships.user_id'))
      .select(['users.id', 'users.name', 'memberships.joined_at', 'users.share_receipts', 'read_positions.seq as read_seq'])
      .where('memberships.chat_code', '=', chatCode)
      .orderBy('memberships.joined_at')
      .orderBy('users.id')
      .execute();
  }

  async sharesReceipts(userId: number): Promise<boolean> {
    const row = await this.db.selectFrom('users').select('share_receipts').where('id', '=', userId).executeTakeFirst();
    return row ? Number(row.share_receipts) !== 0 : false;
  }

  async setSharesReceipts(userId: number, on: boolean): Promise<void> {
    await this.db.updateTable('users').set({ share_receipts: on ? 1 : 0 }).where('id', '=', userId).execute();
  }
}

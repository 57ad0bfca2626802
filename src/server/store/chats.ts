import { type Kysely, type Selectable, sql } from 'kysely';
import type { ChatsTable, Database } from './schema.js';

export type ChatRow = Selectable<ChatsTable>;
/** What a new chat is made of: the counters and the cluster's lease start at their defaults. */
export type NewChat = Omit<ChatRow, 'last_seq' | 'key_epoch' | 'lease_owner' | 'lease_epoch' | 'membership_version'>;
export type ChatWithCount = ChatRow & { member_count: number };
/** A chat as one member sees it: their stored read position (0: none) and how many messages others sent after it. */
export type MemberChatRow = ChatWithCount & { read_seq: number; unread_count: number };
export interface MemberRow {
  id: number;
  name: string;
  joined_at: number;
}

export class ChatStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Creates the chat and makes its creator a member, atomically. Throws the engine's
   * unique-violation error if the code, the stream id, or the multicast group and port are taken.
   */
  async insertWithCreator(chat: NewChat): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('chats').values({ ...chat, last_seq: 0, key_epoch: 0 }).execute();
      await tx
        .insertInto('memberships')
        .values({ chat_code: chat.code, user_id: chat.created_by, joined_at: chat.created_at })
        .execute();
    });
  }

  /** Where the chat is multicast: fixed when it is created, so a process may keep it. */
  async multicastAddress(code: string): Promise<{ group: string; port: number; stream: string } | undefined> {
    const row = await this.db.selectFrom('chats').select(['multicast_group', 'multicast_port', 'stream_id']).where('code', '=', code).executeTakeFirst();
    return row && { group: row.multicast_group, port: row.multicast_port, stream: row.stream_id };
  }

  async find(code: string): Promise<ChatWithCount | undefined> {
    return this.withMemberCount().where('chats.code', '=', code).executeTakeFirst();
  }

  /**
   * The user's chats, each with the user's stored read position and how many messages others
   * sent after it, in one query. The count walks the messages' primary key (chat_code, seq) from
   * the position on: it costs what is unread, never the whole log.
   */
  async listForUser(userId: number): Promise<MemberChatRow[]> {
    const readSeq = sql<number>`coalesce(read_positions.seq, 0)`;
    return this.withMemberCount()
      .leftJoin('read_positions', (join) => join.onRef('read_positions.chat_code', '=', 'chats.code').on('read_positions.user_id', '=', userId))
      .select(readSeq.as('read_seq'))
      .select((eb) =>
        eb
          .selectFrom('messages')
          .select(sql<number>`cast(count(*) as integer)`.as('n'))
          .whereRef('messages.chat_code', '=', 'chats.code')
          .where('messages.seq', '>', readSeq)
          .where('messages.sender_id', '<>', userId)
          .as('unread_count'),
      )
      .$narrowType<{ unread_count: number }>()
      .where('chats.code', 'in', (q) => q.selectFrom('memberships').select('chat_code').where('user_id', '=', userId))
      .orderBy('chats.created_at')
      .orderBy('chats.code')
      .execute();
  }

  /** The codes of the user's chats, and nothing else about them (presence events go to each). */
  async codesForUser(userId: number): Promise<string[]> {
    const rows = await this.db.selectFrom('memberships').select('chat_code').where('user_id', '=', userId).execute();
    return rows.map((row) => row.chat_code);
  }

  /** How many chats this user has created. */
  async countCreatedBy(userId: number): Promise<number> {
    const row = await this.db
      .selectFrom('chats')
      .select(sql<number>`cast(count(*) as integer)`.as('n'))
      .where('created_by', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Adds the member; adding an existing one is a no-op, and answers false (nothing changed). */
  async addMember(code: string, userId: number, joinedAt: number): Promise<boolean> {
    const result = await this.db
      .insertInto('memberships')
      .values({ chat_code: code, user_id: userId, joined_at: joinedAt })
      .onConflict((oc) => oc.columns(['chat_code', 'user_id']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async removeMember(code: string, userId: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('memberships').where('chat_code', '=', code).where('user_id', '=', userId).execute();
      await bumpMembershipVersion(tx, code);
    });
  }

  /** Removes the member and records the ban, together: the removed user may not join again. */
  async removeAndBan(code: string, userId: number, ban: { bannedBy: number; bannedAt: number }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('memberships').where('chat_code', '=', code).where('user_id', '=', userId).execute();
      await bumpMembershipVersion(tx, code);
      await tx
        .insertInto('chat_bans')
        .values({ chat_code: code, user_id: userId, banned_at: ban.bannedAt, banned_by: ban.bannedBy })
        .onConflict((oc) => oc.columns(['chat_code', 'user_id']).doUpdateSet({ banned_at: ban.bannedAt, banned_by: ban.bannedBy }))
        .execute();
    });
  }

  async isBanned(code: string, userId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('chat_bans')
      .select('user_id')
      .where('chat_code', '=', code)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Lifts a ban; false if there was none. */
  async liftBan(code: string, userId: number): Promise<boolean> {
    const result = await this.db.deleteFrom('chat_bans').where('chat_code', '=', code).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async isMember(code: string, userId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('memberships')
      .select('user_id')
      .where('chat_code', '=', code)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Starts a new key epoch for the chat and returns its number. */
  async bumpKeyEpoch(code: string): Promise<number> {
    const row = await this.db
      .updateTable('chats')
      .set((eb) => ({ key_epoch: eb('key_epoch', '+', 1) }))
      .where('code', '=', code)
      .returning('key_epoch')
      .executeTakeFirstOrThrow();
    return row.key_epoch;
  }

  async listMembers(code: string): Promise<MemberRow[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.id', 'users.name', 'memberships.joined_at'])
      .where('memberships.chat_code', '=', code)
      .orderBy('memberships.joined_at')
      .orderBy('users.id')
      .execute();
  }

  private withMemberCount() {
    return this.db
      .selectFrom('chats')
      .selectAll('chats')
      .select((eb) =>
        eb
          .selectFrom('memberships')
          .select(sql<number>`cast(count(*) as integer)`.as('n'))
          .whereRef('memberships.chat_code', '=', 'chats.code')
          .as('member_count'),
      )
      .$narrowType<{ member_count: number }>();
  }
}

/** A removal moves the chat's membership version: the other servers of a cluster see it (cluster/site-feed.ts). */
async function bumpMembershipVersion(db: Kysely<Database>, code: string): Promise<void> {
  await db.updateTable('chats').set((eb) => ({ membership_version: eb('membership_version', '+', 1) })).where('code', '=', code).execute();
}

import type BetterSqlite3 from 'better-sqlite3';
import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from './schema.js';

/**
 * A message of a chat's log, as the server handles it between the store and the wire: what a
 * commit produced, what fan-out multicasts, what push and history pages carry (each mapped to its
 * wire shape once, at its edge). The store maps its rows to it here, and nowhere else.
 */
export interface CommittedMessage {
  chatCode: string;
  seq: number;
  senderId: number;
  senderName: string;
  clientMsgId: string;
  text: string;
  /** Milliseconds since the epoch. */
  sentAt: number;
}

/** A batch's messages by chat, each chat's in the batch's order. */
export function groupByChat(batch: readonly CommittedMessage[]): Map<string, CommittedMessage[]> {
  const byChat = new Map<string, CommittedMessage[]>();
  for (const m of batch) {
    const list = byChat.get(m.chatCode);
    if (list) list.push(m);
    else byChat.set(m.chatCode, [m]);
  }
  return byChat;
}

export type Page = { after: number; limit: number } | { before: number; limit: number } | { latest: true; limit: number };

export class MessageStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** One page of a chat's history, always in ascending sequence order. */
  async page(code: string, page: Page): Promise<CommittedMessage[]> {
    let query = this.db
      .selectFrom('messages')
      .innerJoin('users', 'users.id', 'messages.sender_id')
      .select([
        'messages.chat_code as chatCode',
        'messages.seq',
        'messages.sender_id as senderId',
        'users.name as senderName',
        'messages.text',
        'messages.sent_at as sentAt',
        'messages.client_msg_id as clientMsgId',
      ])
      .where('messages.chat_code', '=', code)
      .limit(page.limit);
    if ('after' in page) {
      return query.where('messages.seq', '>', page.after).orderBy('messages.seq', 'asc').execute();
    }
    if ('before' in page) query = query.where('messages.seq', '<', page.before);
    const newestFirst = await query.orderBy('messages.seq', 'desc').execute();
    return newestFirst.reverse();
  }

  /** How many of the chat's messages after `afterSeq` others sent: the user's unread count (ChatStore.listForUser counts the same). */
  async countUnread(code: string, userId: number, afterSeq: number): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select(sql<number>`cast(count(*) as integer)`.as('n'))
      .where('chat_code', '=', code)
      .where('seq', '>', afterSeq)
      .where('sender_id', '<>', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export interface NewMessage {
  chatCode: string;
  senderId: number;
  clientMsgId: string;
  text: string;
  sentAt: number;
}

/**
 * What a commit assigned to a message; `duplicate` when the client id had been used already
 * (the first answer is given back), and then `reused` when it had been used for another text:
 * not a retry but a client reusing an id, which is refused (CLIENT_ID_REUSED).
 */
export interface Committed {
  seq: number;
  sentAt: number;
  duplicate: boolean;
  reused?: true;
}

// Client ids per lookup statement: keeps the bound parameters well under SQLite's limit.
const LOOKUP_CHUNK = 500;

/** The answer a stored message got: what a retry of it is told again. */
interface Stored {
  seq: number;
  sentAt: number;
  text: string;
}

/**
 * The hot path of every send, per engine: finding which of a commit's client ids are already
 * stored, claiming each chat's sequence numbers, and writing its new rows, inside its
 * transaction. Each engine gets the cheapest form it has instead of what Kysely would build per
 * commit (a multi-row INSERT with six parameters per row, a SELECT with hundreds of IN
 * parameters, an UPDATE compiled and prepared again each time), which was most of the store's time.
 */
export interface MessageRows {
  /** The batch's (chat, sender, client id) that are stored, by `identity`, with their answers. */
  existing(tx: Transaction<Database>, batch: readonly NewMessage[]): Promise<Map<string, Stored>>;
  /**
   * Moves the chat's last_seq on by `count` and returns the new last_seq; undefined when no row
   * matched: no such chat, or with a `lease`, one no longer held by that owner at that epoch.
   */
  claim(tx: Transaction<Database>, code: string, count: number, lease: Lease | undefined): Promise<number | undefined>;
  write(tx: Transaction<Database>, rows: readonly MessagesTableRow[]): Promise<void>;
}

/**
 * SQLite: prepared statements, run per row on SQLite's own handle (a point lookup in the unique
 * index, the chat's last_seq moved on, an insert). Kysely's SQLite driver has a single
 * connection, and the transaction it began is the one these join.
 */
export function sqliteMessageRows(sqlite: BetterSqlite3.Database): MessageRows {
  const insert = sqlite.prepare('INSERT INTO messages (chat_code, seq, sender_id, text, sent_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?)');
  const lookup = sqlite.prepare<[string, number, string], { seq: number; sent_at: number; text: string }>(
    'SELECT seq, sent_at, text FROM messages WHERE chat_code = ? AND sender_id = ? AND client_msg_id = ?',
  );
  const claim = sqlite.prepare<[number, string], { last_seq: number }>('UPDATE chats SET last_seq = last_seq + ? WHERE code = ? RETURNING last_seq');
  const claimFenced = sqlite.prepare<[number, string, string, number], { last_seq: number }>(
    'UPDATE chats SET last_seq = last_seq + ? WHERE code = ? AND lease_owner = ? AND lease_epoch = ? RETURNING last_seq',
  );
  return {
    async existing(_tx, batch) {
      const found = new Map<string, Stored>();
      for (const m of batch) {
        const key = identity(m.chatCode, m.senderId, m.clientMsgId);
        if (found.has(key)) continue;
        const row = lookup.get(m.chatCode, m.senderId, m.clientMsgId);
        if (row) found.set(key, { seq: row.seq, sentAt: row.sent_at, text: row.text });
      }
      return found;
    },
    async claim(_tx, code, count, lease) {
      return (lease ? claimFenced.get(count, code, lease.owner, lease.epoch) : claim.get(count, code))?.last_seq;
    },
    async write(_tx, rows) {
      for (const r of rows) insert.run(r.chat_code, r.seq, r.sender_id, r.text, r.sent_at, r.client_msg_id);
    },
  };
}

/** PostgreSQL: one round trip each, whatever the batch (a lookup in chunks of ids; the insert's columns as six arrays, unnest). */
export const postgresMessageRows: MessageRows = {
  async existing(tx, batch) {
    const chatCodes = [...new Set(batch.map((m) => m.chatCode))];
    const ids = [...new Set(batch.map((m) => m.clientMsgId))];
    // All three columns of the unique index are constrained, so the lookup is a few index seeks.
    // Without sender_id it would walk the chat's whole history on every commit.
    const senders = [...new Set(batch.map((m) => m.senderId))];
    const found = new Map<string, Stored>();
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const rows = await tx
        .selectFrom('messages')
        .select(['chat_code', 'sender_id', 'client_msg_id', 'seq', 'sent_at', 'text'])
        .where('chat_code', 'in', chatCodes)
        .where('sender_id', 'in', senders)
        .where('client_msg_id', 'in', ids.slice(i, i + LOOKUP_CHUNK))
        .execute();
      for (const r of rows) found.set(identity(r.chat_code, r.sender_id, r.client_msg_id), { seq: r.seq, sentAt: r.sent_at, text: r.text });
    }
    return found;
  },
  async claim(tx, code, count, lease) {
    let update = tx
      .updateTable('chats')
      .set((eb) => ({ last_seq: eb('last_seq', '+', count) }))
      .where('code', '=', code);
    if (lease) update = update.where('lease_owner', '=', lease.owner).where('lease_epoch', '=', lease.epoch);
    return (await update.returning('last_seq').executeTakeFirst())?.last_seq;
  },
  async write(tx, rows) {
    if (rows.length === 0) return;
    await sql`INSERT INTO messages (chat_code, seq, sender_id, text, sent_at, client_msg_id)
      SELECT * FROM unnest(${rows.map((r) => r.chat_code)}::text[], ${rows.map((r) => r.seq)}::bigint[], ${rows.map((r) => r.sender_id)}::integer[],
        ${rows.map((r) => r.text)}::text[], ${rows.map((r) => r.sent_at)}::bigint[], ${rows.map((r) => r.client_msg_id)}::text[])`.execute(tx);
  },
};

/**
 * Cluster mode: the leases a commit relies on. A chat's rows are written only while `owner`
 * still holds its lease at `epochs.get(chat)`; the check and the claim of its sequence numbers
 * are one UPDATE, so a takeover (which bumps the epoch on the same row) either happened before
 * and the commit is refused, or waits for it.
 */
export interface Fence {
  owner: string;
  epochs: ReadonlyMap<string, number>;
}

/** One chat's lease as a commit expects to find it on the chat's row. */
interface Lease {
  owner: string;
  epoch: number;
}

/** A fenced commit found chats whose lease it no longer holds: nothing of the transaction was stored. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';

  constructor(readonly chatCodes: readonly string[]) {
    super(`the lease of ${chatCodes.length} chat(s) was taken over; nothing was stored`);
  }
}

export class MessageLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly rows: MessageRows,
  ) {}

  /**
   * Commits a batch of messages in one transaction and returns, in input order, the sequence
   * number each one got. Sequence numbers are assigned here, inside the transaction, by moving
   * the chat's last_seq forward by the count of new messages (one UPDATE … RETURNING per chat,
   * in code order so that two transactions never wait on each other crosswise), so every chat's
   * log stays 1, 2, 3 … without holes: a rolled back transaction gives its numbers back. A
   * message whose (chat, sender, client id) is already stored — a client retrying after a lost
   * ack — gets its first answer back and nothing new is stored. With a fence (cluster mode),
   * throws LeaseLostError when a chat's lease moved on.
   */
  async append(batch: readonly NewMessage[], fence?: Fence): Promise<Committed[]> {
    if (batch.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const known = await this.rows.existing(tx, batch);

      // Which messages are new (a client id repeated within the batch is new once), per chat.
      const fresh = new Map<string, number>();
      const isNew = batch.map((m) => {
        const key = identity(m.chatCode, m.senderId, m.clientMsgId);
        if (known.has(key)) return false;
        known.set(key, { seq: 0, sentAt: m.sentAt, text: m.text });
        fresh.set(m.chatCode, (fresh.get(m.chatCode) ?? 0) + 1);
        return true;
      });
      const nextSeq = await this.claimSeqs(tx, fresh, fence);

      const results: Committed[] = [];
      const rows: MessagesTableRow[] = [];
      batch.forEach((m, i) => {
        const key = identity(m.chatCode, m.senderId, m.clientMsgId);
        if (isNew[i]) {
          const seq = nextSeq.get(m.chatCode)!;
          nextSeq.set(m.chatCode, seq + 1);
          known.set(key, { seq, sentAt: m.sentAt, text: m.text });
          rows.push({ chat_code: m.chatCode, seq, sender_id: m.senderId, text: m.text, sent_at: m.sentAt, client_msg_id: m.clientMsgId });
          results.push({ seq, sentAt: m.sentAt, duplicate: false });
          return;
        }
        const { seq, sentAt, text } = known.get(key)!;
        results.push(text === m.text ? { seq, sentAt, duplicate: true } : { seq, sentAt, duplicate: true, reused: true });
      });
      await this.rows.write(tx, rows);
      return results;
    });
  }

  /** Moves each chat's last_seq on by its count of new messages; the first new seq of each. */
  private async claimSeqs(tx: Transaction<Database>, counts: ReadonlyMap<string, number>, fence: Fence | undefined): Promise<Map<string, number>> {
    const first = new Map<string, number>();
    const lost: string[] = [];
    for (const code of [...counts.keys()].sort()) {
      const n = counts.get(code)!;
      // A chat the fence holds no epoch for matches no row: its commit is refused.
      const lastSeq = await this.rows.claim(tx, code, n, fence && { owner: fence.owner, epoch: fence.epochs.get(code) ?? -1 });
      if (lastSeq !== undefined) first.set(code, lastSeq - n + 1);
      else if (fence) lost.push(code);
      else throw new Error(`chat ${code} does not exist`);
    }
    if (lost.length > 0) throw new LeaseLostError(lost);
    return first;
  }

}

type MessagesTableRow = Database['messages'];

function identity(chat: string, sender: number, clientMsgId: string): string {
  return `${chat}\u0000${sender}\u0000${clientMsgId}`;
}

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

/**
 * Writes a commit's new rows inside its transaction: the hot path of every send, so each engine
 * gets the cheapest form it has instead of a multi-row INSERT that Kysely would build, with six
 * parameters per row, for every commit.
 */
export type RowWriter = (tx: Transaction<Database>, rows: readonly MessagesTableRow[]) => Promise<void>;

/**
 * SQLite: one prepared statement, run per row on SQLite's own handle. Kysely's SQLite driver has
 * a single connection, and the transaction it began is the one these rows join.
 */
export function sqliteRowWriter(sqlite: BetterSqlite3.Database): RowWriter {
  const insert = sqlite.prepare('INSERT INTO messages (chat_code, seq, sender_id, text, sent_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?)');
  return async (_tx, rows) => {
    for (const r of rows) insert.run(r.chat_code, r.seq, r.sender_id, r.text, r.sent_at, r.client_msg_id);
  };
}

/** PostgreSQL: one statement whatever the batch, its columns as six arrays (unnest). */
export const postgresRowWriter: RowWriter = async (tx, rows) => {
  if (rows.length === 0) return;
  await sql`INSERT INTO messages (chat_code, seq, sender_id, text, sent_at, client_msg_id)
    SELECT * FROM unnest(${rows.map((r) => r.chat_code)}::text[], ${rows.map((r) => r.seq)}::bigint[], ${rows.map((r) => r.sender_id)}::integer[],
      ${rows.map((r) => r.text)}::text[], ${rows.map((r) => r.sent_at)}::bigint[], ${rows.map((r) => r.client_msg_id)}::text[])`.execute(tx);
};

export class MessageLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly writeRows: RowWriter,
  ) {}

  /**
   * Commits a batch of messages in one transaction and returns, in input order, the sequence
   * number each one got. Sequence numbers are assigned here, inside the transaction, from the
   * chat's last_seq, so every chat's log stays 1, 2, 3 … without holes. A message whose
   * (chat, sender, client id) is already stored — a client retrying after a lost ack — gets its
   * first answer back and nothing new is stored.
   */
  async append(batch: readonly NewMessage[]): Promise<Committed[]> {
    if (batch.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const chatCodes = [...new Set(batch.map((m) => m.chatCode))];
      const chats = await tx.selectFrom('chats').select(['code', 'last_seq']).where('code', 'in', chatCodes).execute();
      const lastSeq = new Map(chats.map((c) => [c.code, c.last_seq]));
      const known = await this.existing(tx, batch, chatCodes);

      const results: Committed[] = [];
      const rows: MessagesTableRow[] = [];
      for (const m of batch) {
        const key = identity(m.chatCode, m.senderId, m.clientMsgId);
        const previous = known.get(key);
        if (previous) {
          const { seq, sentAt, text } = previous;
          results.push(text === m.text ? { seq, sentAt, duplicate: true } : { seq, sentAt, duplicate: true, reused: true });
          continue;
        }
        const last = lastSeq.get(m.chatCode);
        if (last === undefined) throw new Error(`chat ${m.chatCode} does not exist`);
        const seq = last + 1;
        lastSeq.set(m.chatCode, seq);
        known.set(key, { seq, sentAt: m.sentAt, text: m.text });
        rows.push({ chat_code: m.chatCode, seq, sender_id: m.senderId, text: m.text, sent_at: m.sentAt, client_msg_id: m.clientMsgId });
        results.push({ seq, sentAt: m.sentAt, duplicate: false });
      }
      await this.writeRows(tx, rows);
      for (const code of new Set(rows.map((r) => r.chat_code))) {
        await tx.updateTable('chats').set({ last_seq: lastSeq.get(code) ?? 0 }).where('code', '=', code).execute();
      }
      return results;
    });
  }

  private async existing(tx: Transaction<Database>, batch: readonly NewMessage[], chatCodes: string[]) {
    const ids = [...new Set(batch.map((m) => m.clientMsgId))];
    // All three columns of the unique index are constrained, so the lookup is a few index seeks.
    // Without sender_id it would walk the chat's whole history on every commit.
    const senders = [...new Set(batch.map((m) => m.senderId))];
    const found = new Map<string, { seq: number; sentAt: number; text: string }>();
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
  }
}

type MessagesTableRow = Database['messages'];

function identity(chat: string, sender: number, clientMsgId: string): string {
  return `${chat}\u0000${sender}\u0000${clientMsgId}`;
}

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface MessageRow {
  chat_code: string;
  seq: number;
  sender_id: number;
  sender_name: string;
  text: string;
  sent_at: number;
  client_msg_id: string;
}

export type Page = { after: number; limit: number } | { before: number; limit: number } | { latest: true; limit: number };

export class MessageStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** One page of a chat's history, always in ascending sequence order. */
  async page(code: string, page: Page): Promise<MessageRow[]> {
    let query = this.db
      .selectFrom('messages')
      .innerJoin('users', 'users.id', 'messages.sender_id')
      .select([
        'messages.chat_code',
        'messages.seq',
        'messages.sender_id',
        'users.name as sender_name',
        'messages.text',
        'messages.sent_at',
        'messages.client_msg_id',
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

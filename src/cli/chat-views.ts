import type { Chat } from '../client/api.js';
import { table } from './table.js';

/** What `chorus chats` prints: pure, so that unit tests read it exactly. */

/** The column that gives way when the table is wider than the terminal: names may be long. */
const NAME_COLUMN = 1;

/**
 * One row per chat: its code, its name, how many members, messages so far, and how many of
 * them others sent after the user's read position (the server counts them: `unreadCount`).
 * Within `columns` (the terminal's width), names too long are cut with "…".
 */
export function chatsTable(chats: readonly Chat[], columns?: number): string[] {
  const rows = chats.map((chat) => [chat.code, chat.name, String(chat.memberCount), String(chat.latestSeq), String(chat.unreadCount)]);
  return table(['CODE', 'NAME', 'MEMBERS', 'MESSAGES', 'UNREAD'], rows, columns === undefined ? undefined : { columns, shrink: NAME_COLUMN });
}

import type { ChatMessage } from '../protocol/message.js';

/**
 * A history page is capped by bytes as well as by count: a small request must not make the
 * server build (and a slow reader hold) a response many megabytes long. Messages are counted in
 * their JSON form, as they go out. A page always keeps one message, so paging goes on; it keeps
 * the messages nearest where the request started: the first ones of an `after` page (the client
 * continues after the last one it got), the last ones of a `before` or latest page (it continues
 * before the first one it got). Either way a client that pages already copes: it is a page
 * shorter than it asked for.
 */
export function fitPageToBytes(messages: ChatMessage[], maxBytes: number, keep: 'first' | 'last'): ChatMessage[] {
  const ordered = keep === 'first' ? messages : [...messages].reverse();
  let bytes = 0;
  let count = 0;
  for (const message of ordered) {
    bytes += Buffer.byteLength(JSON.stringify(message), 'utf8') + 1;
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  if (count === messages.length) return messages;
  return keep === 'first' ? messages.slice(0, count) : messages.slice(messages.length - count);
}

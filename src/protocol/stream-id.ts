import { randomBytes } from 'node:crypto';

/**
 * A chat's stream id: 10 random bytes, written as 20 lowercase hex characters, that name the
 * chat in every multicast datagram header. It is not the chat's code and says nothing about it:
 * the header is in clear for everyone on the network to read, and the code is what lets someone
 * join. Only members learn which stream is which chat (GET /api/chats/{code}).
 */
export const STREAM_ID_BYTES = 10;

const STREAM_ID = /^[0-9a-f]{20}$/;

export function newStreamId(): string {
  return randomBytes(STREAM_ID_BYTES).toString('hex');
}

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID.test(value);
}

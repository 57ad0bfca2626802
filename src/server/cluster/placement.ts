import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing: the server that should try for a chat's lease is
 * the one whose hash with the chat's code is highest. Every server computes the same answer from
 * the same list, and a server joining or leaving moves only the chats it wins or held.
 */
export function placementOf(chatCode: string, serverIds: readonly string[]): string | undefined {
  let best: { id: string; weight: Buffer } | undefined;
  for (const id of serverIds) {
    const weight = createHash('sha256').update(chatCode).update('\u0000').update(id).digest();
    if (!best || Buffer.compare(weight, best.weight) > 0) best = { id, weight };
  }
  return best?.id;
}

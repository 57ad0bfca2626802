import type { ChatMessage } from '../../src/protocol/message.js';
import type { UiMember } from '../../src/agent/ui-protocol.js';
import { SenderLabels } from '../../src/protocol/name-skeleton.js';

/**
 * Read receipts under one's own messages: who of the others has read at least that far. Only
 * members who share receipts carry a read position (the server leaves it out for the others),
 * and the reader is never counted: one's own reading is no receipt.
 */

export interface Receipt {
  /** Names of the others who have seen the message, in the member list's order. */
  readers: string[];
  /** How many others are in the chat (those in private mode included: they could have read it). */
  others: number;
}

/** Up to this many readers are named; beyond, the line says how many ("Seen by 7 of 9"). */
export const NAMED_READERS = 3;

/** Readers are named as the messages and the member list name them: look-alikes with their number ("Luis #7"). */
export function receiptFor(seq: number, members: readonly UiMember[], selfId: number, labels = SenderLabels.knowing(members)): Receipt {
  const others = members.filter((m) => m.id !== selfId);
  return { readers: others.filter((m) => m.readSeq !== undefined && m.readSeq >= seq).map((m) => labels.label(m)), others: others.length };
}

/** "Seen by Ben, Cleo" / "Seen by 7 of 9"; undefined when nobody has seen it yet. */
export function receiptText({ readers, others }: Receipt): string | undefined {
  if (readers.length === 0) return undefined;
  if (readers.length <= NAMED_READERS) return `Seen by ${readers.join(', ')}`;
  return `Seen by ${readers.length} of ${others}`;
}

/**
 * Which of one's own messages carry a receipt line: the newest one anyone has read, and an older
 * one only where more people have read it than the next own message below it (so a run of
 * messages everyone has read shows one line, not one each). By seq.
 */
export function receiptsToShow(messages: readonly ChatMessage[], members: readonly UiMember[], selfId: number): Map<number, Receipt> {
  const shown = new Map<number, Receipt>();
  const labels = SenderLabels.knowing(members); // once, not per message
  let below = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.sender.id !== selfId) continue;
    const receipt = receiptFor(message.seq, members, selfId, labels);
    if (receipt.readers.length > below) shown.set(message.seq, receipt);
    below = receipt.readers.length;
  }
  return shown;
}

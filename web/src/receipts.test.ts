import type { ChatMessage } from '../../src/protocol/message.js';
import { describe, expect, it } from 'vitest';
import type { UiMember } from '../../src/agent/ui-protocol.js';
import { receiptFor, receiptText, receiptsToShow } from './receipts.js';
import { initialState, reduce, withEvent } from './state.js';

const member = (id: number, name: string, readSeq?: number): UiMember => ({
  id,
  name,
  joinedAt: '2024-01-01T00:00:00Z',
  creator: id === 1,
  presence: 'online',
  lastSeenAt: null,
  ...(readSeq === undefined ? {} : { readSeq }),
});
const message = (seq: number, senderId: number): ChatMessage => ({ chat: 'AAAAA-11111', seq, sender: { id: senderId, name: `user ${senderId}` }, text: `m${seq}`, sentAt: '2024-01-01T12:00:00Z', clientMsgId: `c${seq}` });

describe('read receipts under one\'s own messages', () => {
  it('names up to three readers, then says how many of how many', () => {
    expect(receiptText({ readers: [], others: 2 })).toBeUndefined();
    expect(receiptText({ readers: ['Ben'], others: 2 })).toBe('Seen by Ben');
    expect(receiptText({ readers: ['Ben', 'Cleo'], others: 2 })).toBe('Seen by Ben, Cleo');
    expect(receiptText({ readers: ['A', 'B', 'C', 'D', 'E', 'F', 'G'], others: 9 })).toBe('Seen by 7 of 9');
  });

  it('names members whose names look alike with their number, as the messages do', () => {
    const members = [member(1, 'Ana', 10), member(7, 'Luis', 5), member(9, 'Luis', 2)];
    expect(receiptFor(5, members, 1)).toEqual({ readers: ['Luis #7'], others: 2 });
  });

  it('never counts the reader themself, nor a member whose receipts are off (no readSeq)', () => {
    const members = [member(1, 'Ana', 10), member(2, 'Ben', 5), member(3, 'Cleo')];
    expect(receiptFor(5, members, 1)).toEqual({ readers: ['Ben'], others: 2 });
    expect(receiptFor(6, members, 1)).toEqual({ readers: [], others: 2 });
  });

  it('shows a line under the newest own message read, and under older ones only where more have read them', () => {
    const members = [member(1, 'Ana', 9), member(2, 'Ben', 4), member(3, 'Cleo', 2)];
    const messages = [message(1, 1), message(2, 1), message(3, 2), message(4, 1), message(5, 1)];
    const shown = receiptsToShow(messages, members, 1);
    // 5: nobody; 4: Ben; 2: Ben and Cleo; 1: the same two as 2, so no line of its own.
    expect([...shown.keys()].sort()).toEqual([2, 4]);
    expect(shown.get(4)!.readers).toEqual(['Ben']);
    expect(shown.get(2)!.readers).toEqual(['Ben', 'Cleo']);
  });
});

describe('events in the UI state', () => {
  const code = 'AAAAA-11111';
  const withMembers = reduce(initialState, { type: 'members', code, members: [member(1, 'Ana', 3), member(2, 'Ben', 1)] });

  it('moves a member\'s read position forward only', () => {
    const moved = withEvent(withMembers, code, { kind: 'read', userId: 2, name: 'Ben', seq: 4 }, 'now');
    expect(moved.members[code]!.find((m) => m.id === 2)!.readSeq).toBe(4);
    expect(withEvent(moved, code, { kind: 'read', userId: 2, name: 'Ben', seq: 2 }, 'now')).toBe(moved);
  });

  it('changes a person\'s presence in every chat listed, seen now', () => {
    const two = reduce(withMembers, { type: 'members', code: 'BBBBB-22222', members: [member(2, 'Ben')] });
    const away = withEvent(two, code, { kind: 'presence', userId: 2, name: 'Ben', state: 'offline' }, '2024-05-01T10:00:00Z');
    for (const list of Object.values(away.members)) expect(list.find((m) => m.id === 2)).toMatchObject({ presence: 'offline', lastSeenAt: '2024-05-01T10:00:00Z' });
  });

  it('keeps who is typing per chat, and forgets a chat where nobody is', () => {
    const typing = reduce(initialState, { type: 'push', push: { type: 'typing', chat: code, names: ['Ben'] } });
    expect(typing.typing[code]).toEqual(['Ben']);
    expect(reduce(typing, { type: 'push', push: { type: 'typing', chat: code, names: [] } }).typing).toEqual({});
  });
});

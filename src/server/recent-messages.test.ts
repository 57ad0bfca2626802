import { describe, expect, it } from 'vitest';
import { RecentMessages } from './recent-messages.js';
import type { CommittedMessage } from './sequencer.js';

const message = (chatCode: string, seq: number, text = `m${seq}`): CommittedMessage => ({
  chatCode,
  seq,
  senderId: 1,
  senderName: 'Ada',
  clientMsgId: `c${seq}`,
  text,
  sentAt: 1_700_000_000_000 + seq,
});
const range = (chatCode: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => message(chatCode, from + i));
const seqs = (rows: { seq: number }[] | undefined) => rows?.map((r) => r.seq);

describe('RecentMessages', () => {
  it('answers pages after any sequence number the window reaches, and says when it cannot', () => {
    const recent = new RecentMessages({ messagesPerChat: 100, bytesPerChat: 1 << 20, chats: 10 });
    expect(recent.after('AAAAAAAAAA', 0, 10)).toBeUndefined();
    recent.add(range('AAAAAAAAAA', 1, 5));
    expect(seqs(recent.after('AAAAAAAAAA', 0, 10))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(recent.after('AAAAAAAAAA', 2, 2))).toEqual([3, 4]);
    expect(seqs(recent.after('AAAAAAAAAA', 5, 10))).toEqual([]);
    expect(recent.latest('AAAAAAAAAA')).toBe(5);
    expect(recent.after('BBBBBBBBBB', 0, 10)).toBeUndefined();
    expect(recent.after('AAAAAAAAAA', 1, 1)?.[0]).toEqual({
      chatCode: 'AAAAAAAAAA', seq: 2, senderId: 1, senderName: 'Ada', text: 'm2', sentAt: 1_700_000_000_002, clientMsgId: 'c2',
    });
  });

  it('keeps at most the configured messages, and older pages go to the store', () => {
    const recent = new RecentMessages({ messagesPerChat: 3, bytesPerChat: 1 << 20, chats: 10 });
    recent.add(range('AAAAAAAAAA', 1, 10));
    expect(seqs(recent.after('AAAAAAAAAA', 7, 10))).toEqual([8, 9, 10]);
    expect(recent.after('AAAAAAAAAA', 6, 10)).toBeUndefined();
  });

  it('keeps at most the configured bytes of text, but always the latest message', () => {
    const recent = new RecentMessages({ messagesPerChat: 100, bytesPerChat: 10, chats: 10 });
    recent.add([message('AAAAAAAAAA', 1, 'x'.repeat(6)), message('AAAAAAAAAA', 2, 'y'.repeat(6))]);
    expect(seqs(recent.after('AAAAAAAAAA', 1, 10))).toEqual([2]);
    expect(recent.after('AAAAAAAAAA', 0, 10)).toBeUndefined();
    recent.add([message('AAAAAAAAAA', 3, 'z'.repeat(50))]);
    expect(seqs(recent.after('AAAAAAAAAA', 2, 10))).toEqual([3]);
  });

  it('starts a new window when sequence numbers jump, so a window never has a hole', () => {
    const recent = new RecentMessages();
    recent.add(range('AAAAAAAAAA', 1, 3));
    recent.add(range('AAAAAAAAAA', 7, 8));
    expect(recent.after('AAAAAAAAAA', 3, 10)).toBeUndefined();
    expect(seqs(recent.after('AAAAAAAAAA', 6, 10))).toEqual([7, 8]);
  });

  it('keeps the window exact while it slides over many messages', () => {
    const recent = new RecentMessages({ messagesPerChat: 7, bytesPerChat: 1 << 20, chats: 10 });
    for (let seq = 1; seq <= 1000; seq++) {
      recent.add([message('AAAAAAAAAA', seq)]);
      const first = Math.max(1, seq - 6);
      expect(seqs(recent.after('AAAAAAAAAA', first - 1, 100))).toEqual(Array.from({ length: seq - first + 1 }, (_, i) => first + i));
      if (first > 1) expect(recent.after('AAAAAAAAAA', first - 2, 100)).toBeUndefined();
    }
  });

  it('forgets the chat written to least recently when over the chat limit', () => {
    const recent = new RecentMessages({ messagesPerChat: 10, bytesPerChat: 1 << 20, chats: 2 });
    recent.add(range('AAAAAAAAAA', 1, 1));
    recent.add(range('BBBBBBBBBB', 1, 1));
    recent.add(range('AAAAAAAAAA', 2, 2));
    recent.add(range('CCCCCCCCCC', 1, 1));
    expect(recent.latest('BBBBBBBBBB')).toBeUndefined();
    expect(recent.latest('AAAAAAAAAA')).toBe(2);
    expect(recent.latest('CCCCCCCCCC')).toBe(1);
  });
});

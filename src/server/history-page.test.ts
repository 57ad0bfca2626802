import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../protocol/message.js';
import { fitPageToBytes } from './history-page.js';

const message = (seq: number, text: string): ChatMessage => ({
  chat: 'ABCDE-12345',
  seq,
  sender: { id: 1, name: 'Ada' },
  text,
  sentAt: new Date(0).toISOString(),
  clientMsgId: `m${seq}`,
});
const bytes = (messages: ChatMessage[]) => Buffer.byteLength(JSON.stringify(messages));

describe('fitPageToBytes', () => {
  const page = Array.from({ length: 50 }, (_, i) => message(i + 1, 'x'.repeat(1000)));

  it('keeps a page under the limit whole', () => {
    expect(fitPageToBytes(page, 10 * 1024 * 1024, 'first')).toBe(page);
  });

  it('an `after` page keeps its first messages, a `before` or latest page its last ones, within the limit', () => {
    const first = fitPageToBytes(page, 10_000, 'first');
    expect(first.length).toBeGreaterThan(1);
    expect(first.length).toBeLessThan(page.length);
    expect(first.map((m) => m.seq)).toEqual(page.slice(0, first.length).map((m) => m.seq));
    expect(bytes(first)).toBeLessThanOrEqual(10_000);

    const last = fitPageToBytes(page, 10_000, 'last');
    expect(last.map((m) => m.seq)).toEqual(page.slice(page.length - last.length).map((m) => m.seq));
    expect(bytes(last)).toBeLessThanOrEqual(10_000);
  });

  it('always keeps one message, however large, so paging goes on', () => {
    expect(fitPageToBytes(page, 10, 'first').map((m) => m.seq)).toEqual([1]);
    expect(fitPageToBytes(page, 10, 'last').map((m) => m.seq)).toEqual([50]);
    expect(fitPageToBytes([], 10, 'first')).toEqual([]);
  });
});

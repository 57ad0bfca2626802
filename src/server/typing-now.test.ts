import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../protocol/events.js';
import { TYPING_EXPIRY_MS } from '../protocol/limits.js';
import { TypingNow } from './typing-now.js';

const typing = (userId: number, on: boolean): ChatEvent => ({ kind: 'typing', userId, name: `U${userId}`, on });

function setUp() {
  let clock = 1_000_000;
  const now = new TypingNow(() => clock);
  return { now, advance: (ms: number) => (clock += ms) };
}

describe('TypingNow', () => {
  it("holds each typer's on until their off, per chat, in the order they started; other events are not typing", () => {
    const { now } = setUp();
    now.record('A', [typing(1, true), { kind: 'read', userId: 3, name: 'U3', seq: 4 }]);
    now.record('A', [typing(2, true)]);
    now.record('B', [typing(3, true)]);
    now.record('A', [typing(1, true)]); // a refresh keeps its place
    expect(now.in('A')).toEqual([typing(1, true), typing(2, true)]);
    now.record('A', [typing(1, false)]);
    expect(now.in('A')).toEqual([typing(2, true)]);
    expect(now.in('B')).toEqual([typing(3, true)]);
    expect(now.in('C')).toEqual([]);
  });

  it('forgets an on TYPING_EXPIRY_MS after it was last heard, as clients do; a refresh holds it longer', () => {
    const { now, advance } = setUp();
    now.record('A', [typing(1, true), typing(2, true)]);
    advance(TYPING_EXPIRY_MS - 1000);
    now.record('A', [typing(2, true)]);
    advance(1000);
    expect(now.in('A')).toEqual([typing(2, true)]);
    advance(TYPING_EXPIRY_MS);
    expect(now.in('A')).toEqual([]);
    expect(now.chats).toBe(0);
  });

  it('sweeps chats nobody asks about, so a crashed client leaves nothing held', () => {
    const { now, advance } = setUp();
    for (let chat = 0; chat < 50; chat++) now.record(`C${chat}`, [typing(1, true)]);
    expect(now.chats).toBe(50);
    advance(TYPING_EXPIRY_MS);
    now.record('other', [typing(2, true)]);
    expect(now.chats).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../protocol/events.js';
import { TYPING_EXPIRY_MS, TYPING_IDLE_MS, TYPING_REFRESH_MS } from '../protocol/limits.js';
import { FakeClock } from './clock.fake.js';
import { TypingSignal, TypingWatch } from './typing.js';

/** The typing policy with a fake clock: what is sent when, and what receivers show for how long. */

function signal() {
  const clock = new FakeClock();
  const sent: [number, boolean][] = [];
  const start = clock.now();
  const typing = new TypingSignal({ clock, send: (on) => sent.push([clock.now() - start, on]) });
  return { clock, sent, typing };
}

describe('TypingSignal: the sending side', () => {
  it('says on at the first keystroke only, and off after the idle time without one', () => {
    const { clock, sent, typing } = signal();
    typing.keystroke();
    clock.advance(1000);
    typing.keystroke();
    typing.keystroke();
    expect(sent).toEqual([[0, true]]);
    clock.advance(TYPING_IDLE_MS - 1);
    expect(sent).toEqual([[0, true]]);
    clock.advance(1);
    expect(sent).toEqual([
      [0, true],
      [1000 + TYPING_IDLE_MS, false],
    ]);
    expect(typing.typing).toBe(false);
  });

  it('refreshes on every TYPING_REFRESH_MS while typing goes on, well before receivers let it expire', () => {
    expect(TYPING_REFRESH_MS).toBeLessThan(TYPING_EXPIRY_MS);
    const { clock, sent, typing } = signal();
    // A keystroke a second for 25 s.
    for (let i = 0; i < 25; i++) {
      typing.keystroke();
      clock.advance(1000);
    }
    expect(sent).toEqual([
      [0, true],
      [TYPING_REFRESH_MS, true],
      [2 * TYPING_REFRESH_MS, true],
    ]);
    clock.advance(TYPING_IDLE_MS);
    expect(sent.at(-1)).toEqual([24_000 + TYPING_IDLE_MS, false]);
    clock.advance(60_000);
    expect(sent).toHaveLength(4);
  });

  it('stop() (the message sent) says off at once, once; typing again starts over', () => {
    const { clock, sent, typing } = signal();
    typing.keystroke();
    clock.advance(500);
    typing.stop();
    typing.stop();
    expect(sent).toEqual([
      [0, true],
      [500, false],
    ]);
    clock.advance(TYPING_IDLE_MS * 2);
    expect(sent).toHaveLength(2);
    typing.keystroke();
    expect(sent.at(-1)).toEqual([500 + TYPING_IDLE_MS * 2, true]);
  });

  it('stop() without typing says nothing', () => {
    const { sent, typing } = signal();
    typing.stop();
    expect(sent).toEqual([]);
  });
});

const CHAT = 'ABCDE-12345';
const on = (userId: number, name: string): ChatEvent => ({ kind: 'typing', userId, name, on: true });
const off = (userId: number, name: string): ChatEvent => ({ kind: 'typing', userId, name, on: false });

function watch() {
  const clock = new FakeClock();
  const changes: string[][] = [];
  const typing = new TypingWatch({ selfId: 1, clock, changed: (_chat, names) => changes.push(names) });
  return { clock, changes, typing };
}

describe('TypingWatch: the receiving side', () => {
  it('lists those typing in the order they started, and drops each at their off', () => {
    const { typing, changes } = watch();
    typing.events(CHAT, [on(2, 'Ben')]);
    expect(typing.sentence(CHAT)).toBe('Ben is typing…');
    typing.events(CHAT, [on(3, 'Cleo'), on(2, 'Ben')]);
    expect(typing.sentence(CHAT)).toBe('Ben and Cleo are typing…');
    typing.events(CHAT, [on(4, 'Dan')]);
    expect(typing.sentence(CHAT)).toBe('Several people are typing…');
    typing.events(CHAT, [off(2, 'Ben'), off(4, 'Dan')]);
    expect(typing.names(CHAT)).toEqual(['Cleo']);
    // A refresh of someone already typing is no change.
    expect(changes).toEqual([['Ben'], ['Ben', 'Cleo'], ['Ben', 'Cleo', 'Dan'], ['Cleo', 'Dan'], ['Cleo']]);
  });

  it('never includes oneself (another device of the same user)', () => {
    const { typing, changes } = watch();
    typing.events(CHAT, [on(1, 'Me')]);
    expect(typing.sentence(CHAT)).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('forgets someone TYPING_EXPIRY_MS after their last on: a lost off leaves no ghost', () => {
    const { typing, clock, changes } = watch();
    typing.events(CHAT, [on(2, 'Ben')]);
    clock.advance(10_000);
    typing.events(CHAT, [on(2, 'Ben')]); // refreshed: the expiry starts again
    clock.advance(TYPING_EXPIRY_MS - 1);
    expect(typing.names(CHAT)).toEqual(['Ben']);
    clock.advance(1);
    expect(typing.names(CHAT)).toEqual([]);
    expect(changes).toEqual([['Ben'], []]);
  });

  it('a message from someone typing ends their entry at once; chats are kept apart', () => {
    const { typing } = watch();
    typing.events(CHAT, [on(2, 'Ben')]);
    typing.events('ZZZZZ-99999', [on(2, 'Ben')]);
    typing.messageFrom(CHAT, 2);
    expect(typing.names(CHAT)).toEqual([]);
    expect(typing.names('ZZZZZ-99999')).toEqual(['Ben']);
  });

  it('ignores events that are not typing, and an off for someone not typing', () => {
    const { typing, changes } = watch();
    typing.events(CHAT, [{ kind: 'read', userId: 2, name: 'Ben', seq: 4 }, { kind: 'presence', userId: 2, name: 'Ben', state: 'away' }, off(3, 'Cleo')]);
    expect(changes).toEqual([]);
  });
});

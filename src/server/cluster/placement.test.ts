import { describe, expect, it } from 'vitest';
import { placementOf } from './placement.js';

const chats = Array.from({ length: 600 }, (_, i) => `CHAT${String(i).padStart(6, '0')}`);

describe('placementOf', () => {
  it('gives the same server whatever the order of the list, and nothing for an empty one', () => {
    for (const chat of chats.slice(0, 50)) expect(placementOf(chat, ['a', 'b', 'c'])).toBe(placementOf(chat, ['c', 'a', 'b']));
    expect(placementOf('X', [])).toBeUndefined();
  });

  it('spreads chats over the servers', () => {
    const counts = new Map<string, number>();
    for (const chat of chats) counts.set(placementOf(chat, ['a', 'b', 'c'])!, (counts.get(placementOf(chat, ['a', 'b', 'c'])!) ?? 0) + 1);
    for (const id of ['a', 'b', 'c']) expect(counts.get(id)).toBeGreaterThan(120);
  });

  it('moves only the chats of a server that leaves', () => {
    for (const chat of chats) {
      const before = placementOf(chat, ['a', 'b', 'c'])!;
      const after = placementOf(chat, ['a', 'c'])!;
      if (before !== 'b') expect(after).toBe(before);
    }
  });
});

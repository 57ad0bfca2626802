import { describe, expect, it } from 'vitest';
import { busSizedParts } from './bus.js';

describe('busSizedParts', () => {
  it('keeps the order, fits parts to a bus message, and sends an oversized item alone', () => {
    const kib = (n: number) => 'x'.repeat(n * 1024);
    const items = [kib(100), kib(100), kib(100), kib(300), 'small', 'small'];
    const parts = busSizedParts(items, (t) => t);
    expect(parts.map((p) => p.map((t) => t.length))).toEqual([[102400, 102400], [102400], [307200], [5, 5]]);
    expect(parts.flat()).toEqual(items);
    expect(busSizedParts([], (t: string) => t)).toEqual([]);
  });
});

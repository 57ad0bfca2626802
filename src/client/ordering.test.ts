import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChatOrdering } from './ordering.js';

const msg = (seq: number) => ({ seq, text: `m${seq}` });

describe('ChatOrdering', () => {
  it('delivers in order across reordering and duplicates', () => {
    const out: number[] = [];
    const o = new ChatOrdering(0, (m) => out.push(m.seq));
    o.offer([msg(2), msg(3)]);
    expect(out).toEqual([]);
    expect(o.missing()).toEqual({ after: 0, upTo: 3 });
    o.offer([msg(1), msg(2)]);
    expect(out).toEqual([1, 2, 3]);
    expect(o.counts.duplicates).toBe(1);
    expect(o.missing()).toBeUndefined();
  });

  it('reports a tail gap learnt from a heartbeat', () => {
    const o = new ChatOrdering(5, () => {});
    o.noteLatest(4);
    expect(o.missing()).toBeUndefined();
    o.noteLatest(7);
    expect(o.missing()).toEqual({ after: 5, upTo: 7 });
  });

  it('names the first hole only, ending before the first message waiting, at most maxLength long', () => {
    const o = new ChatOrdering(0, () => {});
    expect(o.firstHole(500)).toBeUndefined();
    o.offer([4, 5, 9].map(msg));
    expect(o.firstHole(500)).toEqual({ after: 0, upTo: 3 });
    expect(o.firstHole(2)).toEqual({ after: 0, upTo: 2 });
    o.offer([1, 2, 3].map(msg));
    expect(o.firstHole(500)).toEqual({ after: 5, upTo: 8 });
    o.noteLatest(1000);
    o.offer([6, 7, 8].map(msg));
    expect(o.firstHole(500)).toEqual({ after: 9, upTo: 509 });
    o.offer([msg(11)]);
    expect(o.firstHole(500)).toEqual({ after: 9, upTo: 10 });
  });

  it('keeps at most the buffer limit and still completes from a later fetch', () => {
    const out: number[] = [];
    const o = new ChatOrdering(0, (m) => out.push(m.seq), 3);
    o.offer([5, 4, 3, 2].map(msg));
    expect(o.counts.overflowed).toBe(1);
    o.offer([1, 2, 3, 4, 5].map(msg));
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers every message exactly once in order, whatever the arrival order and repeats', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 20 }),
        (n, noise, limit) => {
          const out: number[] = [];
          const o = new ChatOrdering(0, (m) => out.push(m.seq), limit);
          o.offer(noise.filter((s) => s <= n).map(msg));
          // Repair: fetch what is missing until nothing is.
          for (let gap = o.missing() ?? (o.lastDelivered < n ? { after: o.lastDelivered, upTo: n } : undefined); gap; gap = o.missing()) {
            o.offer(Array.from({ length: Math.min(7, gap.upTo - gap.after) }, (_, i) => msg(gap!.after + 1 + i)));
          }
          if (o.lastDelivered < n) o.offer(Array.from({ length: n - o.lastDelivered }, (_, i) => msg(o.lastDelivered + 1 + i)));
          expect(out).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        },
      ),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { Fifo } from './fifo.js';

describe('Fifo', () => {
  it('gives items back in the order they went in, across the compactions of a long queue', () => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < 5000; i++) fifo.push(i);
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) out.push(fifo.shift()!);
    for (let i = 5000; i < 6000; i++) fifo.push(i);
    expect(fifo.length).toBe(3000);
    let next: number | undefined;
    while ((next = fifo.shift()) !== undefined) out.push(next);
    expect(out).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
  });

  it('puts unshifted items ahead of the rest, in their own order, and iterates oldest first', () => {
    const fifo = new Fifo<string>();
    for (const item of ['c', 'd', 'e']) fifo.push(item);
    expect(fifo.shift()).toBe('c');
    fifo.unshiftAll(['a', 'b']);
    expect([...fifo]).toEqual(['a', 'b', 'd', 'e']);
    expect(fifo.length).toBe(4);
    fifo.clear();
    expect([...fifo]).toEqual([]);
    expect(fifo.length).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { SenderLabels, nameSkeleton } from './name-skeleton.js';

describe('nameSkeleton', () => {
  it('makes look-alikes equal: other scripts, accents, case, spacing, rn for m', () => {
    const alice = nameSkeleton('Alice');
    for (const lookalike of ['Аlice', 'ALICE', 'Alíce', 'Al1ce', 'A l i c e'.replace(/ /g, ''), 'Alice ', 'ΑΙice'.toLowerCase()]) {
      expect(nameSkeleton(lookalike), lookalike).toBe(alice);
    }
    expect(nameSkeleton('Kim')).toBe(nameSkeleton('Kirn'));
    expect(nameSkeleton('Bob')).not.toBe(alice);
    expect(nameSkeleton('Ana María')).toBe(nameSkeleton('ana  maria'));
  });
});

describe('SenderLabels', () => {
  it('shows a name alone until a look-alike of another sender appears, then both with their number', () => {
    const labels = new SenderLabels();
    expect(labels.label({ id: 1, name: 'Alice' })).toBe('Alice');
    expect(labels.label({ id: 2, name: 'Bob' })).toBe('Bob');
    expect(labels.label({ id: 3, name: 'Аlice' })).toBe('Аlice #3');
    expect(labels.label({ id: 1, name: 'Alice' })).toBe('Alice #1');
    expect(labels.label({ id: 2, name: 'Bob' })).toBe('Bob');
  });

  it('labels a whole page alike when it knows its senders first', () => {
    const labels = SenderLabels.knowing([{ id: 1, name: 'Alice' }, { id: 3, name: 'Аlice' }]);
    expect(labels.label({ id: 1, name: 'Alice' })).toBe('Alice #1');
  });
});

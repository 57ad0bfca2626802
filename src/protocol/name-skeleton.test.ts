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

  it('folds the Latin, Greek and Armenian letters TR39 lists as ASCII look-alikes', () => {
    const alice = nameSkeleton('alice');
    for (const lookalike of ['ɑlice', 'alıce', 'ɑlıce', 'alɪce', 'aliᴄe']) expect(nameSkeleton(lookalike), lookalike).toBe(alice);
    expect(nameSkeleton('\u0585')).toBe(nameSkeleton('o')); // Armenian oh
    expect(nameSkeleton('Bօb')).toBe(nameSkeleton('Bob'));
    expect(nameSkeleton('հօւ')).not.toBe(nameSkeleton('hou')); // ւ is no u: only the look-alikes fold
    expect(nameSkeleton('ոռ')).toBe(nameSkeleton('nn'));
    expect(nameSkeleton('Ѵеrа')).toBe(nameSkeleton('Vera'));
    expect(nameSkeleton('Ϳoe')).toBe(nameSkeleton('Joe')); // Greek capital yot
  });

  it('folds Greek capitals that look like Latin ones though their small letters do not', () => {
    expect(nameSkeleton('Ηelen')).toBe(nameSkeleton('Helen')); // Η, whose small letter η looks like n
    expect(nameSkeleton('ΝΙΝΑ')).toBe(nameSkeleton('Nina'));
    expect(nameSkeleton('Ζoe')).toBe(nameSkeleton('Zoe'));
    expect(nameSkeleton('ηelen')).not.toBe(nameSkeleton('Helen'));
  });

  it('drops invisible characters, so names stored before the rule refused them still match', () => {
    const alice = nameSkeleton('alice');
    for (const legacy of ['alice\u2065', 'ali\u200bce', '\u3164alice', 'alice\uffa0', 'al\u2800ice', 'alice\u00ad', '\u202aalice\u202c']) {
      expect(nameSkeleton(legacy), JSON.stringify(legacy)).toBe(alice);
    }
    expect(nameSkeleton('\u3164')).toBe(nameSkeleton(''));
    expect(nameSkeleton('❤\ufe0f')).toBe(nameSkeleton('❤'));
    expect(nameSkeleton('👩\u200d💻')).toBe(nameSkeleton('👩💻'));
  });

  it('keeps different names of other scripts apart', () => {
    expect(nameSkeleton('김민준')).not.toBe(nameSkeleton('김민주'));
    expect(nameSkeleton('مريم')).not.toBe(nameSkeleton('مروة'));
    expect(nameSkeleton('Σοφία')).not.toBe(nameSkeleton('Sofia'));
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

  it('numbers a sender whose name differs from another only by invisible characters', () => {
    const labels = SenderLabels.knowing([{ id: 1, name: 'alice' }, { id: 7, name: 'alice\u2065' }]);
    expect(labels.label({ id: 1, name: 'alice' })).toBe('alice #1');
    expect(labels.label({ id: 7, name: 'alice\u2065' })).toBe('alice\u2065 #7');
  });

  it('labels a whole page alike when it knows its senders first', () => {
    const labels = SenderLabels.knowing([{ id: 1, name: 'Alice' }, { id: 3, name: 'Аlice' }]);
    expect(labels.label({ id: 1, name: 'Alice' })).toBe('Alice #1');
  });
});

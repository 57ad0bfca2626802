import { describe, expect, it } from 'vitest';
import { VouchedDigests } from './vouched-digests.js';

const digest = (n: number) => Buffer.alloc(32, n);

describe('VouchedDigests', () => {
  it('knows what was vouched for, until it is too old', () => {
    let now = 0;
    const vouched = new VouchedDigests(() => now, 100, 1000);
    vouched.add([digest(1), digest(2)]);
    expect(vouched.has(digest(1))).toBe(true);
    expect(vouched.has(digest(3))).toBe(false);
    now = 1000;
    expect(vouched.has(digest(2))).toBe(true);
    now = 1001;
    expect(vouched.has(digest(2))).toBe(false);
    // Old ones go at the next add.
    vouched.add([digest(3)]);
    expect(vouched.size).toBe(1);
  });

  it('keeps at most its limit, oldest out first; a digest vouched for again counts as new', () => {
    const vouched = new VouchedDigests(() => 0, 3, 1000);
    vouched.add([digest(1), digest(2), digest(3)]);
    vouched.add([digest(1)]);
    vouched.add([digest(4)]);
    expect([1, 2, 3, 4].map((n) => vouched.has(digest(n)))).toEqual([true, false, true, true]);
    expect(vouched.size).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { READ_FLUSH_MS } from '../protocol/limits.js';
import { FakeClock } from './clock.fake.js';
import { ReadPosition } from './read-position.js';

/** Read positions as the CLI's chat advances them: forward only, and coalesced. */

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function setup(options: { fail?: () => boolean } = {}) {
  const clock = new FakeClock();
  const writes: number[] = [];
  const failures: unknown[] = [];
  const position = new ReadPosition({
    clock,
    write: async (seq) => {
      writes.push(seq);
      if (options.fail?.()) throw new Error('server away');
    },
    failed: (error) => failures.push(error),
  });
  return { clock, writes, failures, position };
}

describe('ReadPosition', () => {
  it('writes the first position at once, then at most one per READ_FLUSH_MS, always the highest seen', async () => {
    const { clock, writes, position } = setup();
    position.shown(1);
    await settle();
    for (let seq = 2; seq <= 100; seq++) position.shown(seq);
    await settle();
    expect(writes).toEqual([1]);
    clock.advance(READ_FLUSH_MS - 1);
    await settle();
    expect(writes).toEqual([1]);
    clock.advance(1);
    await settle();
    expect(writes).toEqual([1, 100]);
    clock.advance(READ_FLUSH_MS * 5);
    await settle();
    expect(writes).toEqual([1, 100]);
  });

  it('only moves forward, and not below where the server already has it', async () => {
    const { writes, position, clock } = setup();
    position.startAt(10);
    position.shown(7);
    position.shown(10);
    await settle();
    expect(writes).toEqual([]);
    position.shown(12);
    await settle();
    clock.advance(READ_FLUSH_MS);
    position.shown(11);
    await settle();
    expect(writes).toEqual([12]);
  });

  it('flush() writes what is left at once; nothing after it', async () => {
    const { writes, position } = setup();
    position.shown(1);
    position.shown(5);
    await position.flush();
    expect(writes).toEqual([1, 5]);
    position.shown(6);
    await settle();
    expect(writes).toEqual([1, 5]);
  });

  it('a failed write is reported, and tried again with the next message shown, not in a loop', async () => {
    let failing = true;
    const { writes, failures, position, clock } = setup({ fail: () => failing });
    position.shown(3);
    await settle();
    clock.advance(READ_FLUSH_MS * 10);
    await settle();
    expect(writes).toEqual([3]);
    expect(failures).toHaveLength(1);
    failing = false;
    position.shown(4);
    await settle();
    expect(writes).toEqual([3, 4]);
  });
});

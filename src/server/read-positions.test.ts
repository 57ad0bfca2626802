import { describe, expect, it } from 'vitest';
import { type MovedPosition, ReadPositions } from './read-positions.js';
import type { ReadPositionRow } from './store/read-positions.js';

/** A store in memory that records each write: how many rows each flush cost. */
function spyStore(shares: (userId: number) => boolean = () => true) {
  const stored = new Map<string, number>();
  const writes: ReadPositionRow[][] = [];
  let failNext = false;
  return {
    writes,
    stored,
    failOnce: () => {
      failNext = true;
    },
    store: {
      async upsertMany(rows: readonly ReadPositionRow[]) {
        if (failNext) {
          failNext = false;
          throw new Error('database away');
        }
        writes.push([...rows]);
        for (const r of rows) stored.set(`${r.chatCode}/${r.userId}`, Math.max(stored.get(`${r.chatCode}/${r.userId}`) ?? 0, r.seq));
      },
      async get(chatCode: string, userId: number) {
        return stored.get(`${chatCode}/${userId}`) ?? 0;
      },
      async sharesReceipts(userId: number) {
        return shares(userId);
      },
    },
  };
}

const BEN = { id: 2, name: 'Ben' };
const CLEO = { id: 3, name: 'Cleo' };
const silent = { error: () => {} };

describe('ReadPositions', () => {
  it('coalesces: ten moves before a flush are one row written, of the last position', async () => {
    const spy = spyStore();
    const reads = new ReadPositions({ store: spy.store, logger: silent, flushMs: 60_000 });
    for (let seq = 1; seq <= 10; seq++) expect(await reads.set('CHAT', BEN, seq)).toBe(seq);
    expect(spy.writes).toEqual([]);
    expect(await reads.get('CHAT', BEN.id)).toBe(10);
    await reads.flush();
    expect(spy.writes).toEqual([[{ chatCode: 'CHAT', userId: BEN.id, seq: 10, name: 'Ben' }]]);
    expect(reads.stats).toMatchObject({ rowsWritten: 1, flushes: 1, updates: 10 });
    await reads.close();
  });

  it('counts a position while its flush is being written: a read then neither misses it nor goes back', async () => {
    const spy = spyStore();
    let release: (() => void) | undefined;
    let slow = false;
    const slowStore = {
      ...spy.store,
      async upsertMany(rows: readonly ReadPositionRow[]) {
        if (slow) await new Promise<void>((resolve) => (release = resolve));
        await spy.store.upsertMany(rows);
      },
    };
    const reads = new ReadPositions({ store: slowStore, logger: silent, flushMs: 60_000 });
    await reads.set('CHAT', BEN, 2);
    await reads.flush();
    slow = true;
    await reads.set('CHAT', BEN, 3);
    const flushing = reads.flush();
    // The write of 3 is under way, not committed: 3 is still what every read says.
    await new Promise((resolve) => setImmediate(resolve));
    expect(spy.stored.get('CHAT/2')).toBe(2);
    expect(await reads.get('CHAT', BEN.id)).toBe(3);
    expect(await reads.set('CHAT', BEN, 1)).toBe(3);
    expect(reads.unwrittenOf(BEN.id).get('CHAT')).toBe(3);
    expect(reads.pendingOf('CHAT').get(BEN.id)).toBe(3);
    release!();
    await flushing;
    expect(reads.unwrittenOf(BEN.id).size).toBe(0);
    expect(spy.stored.get('CHAT/2')).toBe(3);
    expect(await reads.get('CHAT', BEN.id)).toBe(3);
    await reads.close();
  });

  it('moves only forward, pending or stored', async () => {
    const spy = spyStore();
    const reads = new ReadPositions({ store: spy.store, logger: silent, flushMs: 60_000 });
    await reads.set('CHAT', BEN, 7);
    expect(await reads.set('CHAT', BEN, 3)).toBe(7);
    await reads.flush();
    expect(await reads.set('CHAT', BEN, 5)).toBe(7);
    await reads.flush();
    expect(spy.writes).toHaveLength(1);
    expect(await reads.get('CHAT', BEN.id)).toBe(7);
    await reads.close();
  });

  it('flushes on its own after flushMs, and on close', async () => {
    const spy = spyStore();
    const reads = new ReadPositions({ store: spy.store, logger: silent, flushMs: 50 });
    await reads.set('CHAT', BEN, 1);
    // Polled, not slept: the timer fires on its own, however busy the machine.
    for (let waited = 0; spy.writes.length === 0 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    expect(spy.writes).toHaveLength(1);
    await reads.set('CHAT', BEN, 2);
    await reads.close();
    expect(spy.stored.get(`CHAT/${BEN.id}`)).toBe(2);
  });

  it('keeps what a failed write held, and writes it the next time', async () => {
    const spy = spyStore();
    const reads = new ReadPositions({ store: spy.store, logger: silent, flushMs: 60_000 });
    await reads.set('CHAT', BEN, 4);
    spy.failOnce();
    await reads.flush();
    expect(spy.writes).toEqual([]);
    expect(await reads.get('CHAT', BEN.id)).toBe(4);
    await reads.close();
    expect(spy.stored.get(`CHAT/${BEN.id}`)).toBe(4);
  });

  it("reports each flush's moves with whether the member shares receipts", async () => {
    const spy = spyStore((userId) => userId !== CLEO.id);
    const moved: MovedPosition[][] = [];
    const reads = new ReadPositions({ store: spy.store, logger: silent, flushMs: 60_000, onFlushed: (m) => moved.push(m) });
    await reads.set('CHAT', BEN, 2);
    await reads.set('CHAT', CLEO, 3);
    await reads.flush();
    expect(moved).toEqual([
      [
        { chatCode: 'CHAT', userId: BEN.id, name: 'Ben', seq: 2, shared: true },
        { chatCode: 'CHAT', userId: CLEO.id, name: 'Cleo', seq: 3, shared: false },
      ],
    ]);
    await reads.close();
  });
});

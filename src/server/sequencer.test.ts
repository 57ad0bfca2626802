import { describe, expect, it } from 'vitest';
import { ChorusError } from '../protocol/errors.js';
import { type CommittedMessage, Sequencer, type SequencerOptions, type Submission } from './sequencer.js';
import { type Committed, type Fence, LeaseLostError, type NewMessage } from './store/messages.js';
import type { Store } from './store/store.js';

/**
 * A message log in memory with the store's contract (sequence numbers per chat, duplicates by
 * client id answered with their first result), and seams: a text it refuses like a constraint
 * would, and a connection it can lose (before or after the commit took effect).
 */
class FakeLog {
  readonly rows = new Map<string, Committed>();
  private lastSeq = 0;
  transactions = 0;
  /** Each call to append takes the next: 'ok', 'lost-before' (nothing stored), 'lost-after' (stored, answer lost). */
  script: ('ok' | 'lost-before' | 'lost-after')[] = [];

  /** Chats whose lease another server took: a fenced append touching one is refused whole. */
  readonly takenOver = new Set<string>();
  readonly fences: Fence[] = [];

  async append(batch: readonly NewMessage[], fence?: Fence): Promise<Committed[]> {
    this.transactions++;
    if (fence) {
      this.fences.push(fence);
      const lost = [...new Set(batch.map((m) => m.chatCode))].filter((c) => this.takenOver.has(c));
      if (lost.length > 0) throw new LeaseLostError(lost);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
    const step = this.script.shift() ?? 'ok';
    if (step === 'lost-before') throw Object.assign(new Error('Connection terminated unexpectedly'), {});
    if (batch.some((m) => m.text === 'BAD')) throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
    const results = batch.map((m) => {
      const previous = this.rows.get(m.clientMsgId);
      if (previous) return { ...previous, duplicate: true };
      const committed = { seq: ++this.lastSeq, sentAt: m.sentAt, duplicate: false };
      this.rows.set(m.clientMsgId, committed);
      return committed;
    });
    if (step === 'lost-after') throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    return results;
  }
}

function setUp(holdMs = 10_000, cluster: Pick<SequencerOptions, 'fence' | 'onLeaseLost'> = {}) {
  const log = new FakeLog();
  const sequencer = new Sequencer({ log } as unknown as Store, { holdMs, ...cluster });
  const published: CommittedMessage[] = [];
  sequencer.onCommitted((batch) => published.push(...batch));
  return { log, sequencer, published };
}

const message = (id: string, text = `text of ${id}`, sentAt = 1000): Submission => ({ chatCode: 'C', senderId: 1, senderName: 'Ann', clientMsgId: id, text, sentAt });

describe('Sequencer', () => {
  it('fails only the message the store refuses: the rest of its batch is committed, in order', async () => {
    const { log, sequencer, published } = setUp();
    const ids = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const results = await Promise.allSettled(ids.map((id, i) => sequencer.submit(message(id, i === 17 ? 'BAD' : `text ${i}`))));
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['22021']);
    expect(results[17]!.status).toBe('rejected');
    const seqs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []));
    expect(seqs).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
    expect(published.map((m) => m.clientMsgId)).toEqual(ids.filter((_, i) => i !== 17));
    expect(log.rows.size).toBe(39);
    expect(sequencer.stats.committed).toBe(39);
  });

  it('commits the sends of one turn of the event loop together, and what comes during a commit in the next', async () => {
    const { log, sequencer } = setUp();
    const alone = await Promise.all(['a', 'b', 'c'].map((id) => sequencer.submit(message(id))));
    expect(alone.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(log.transactions).toBe(1);
    const firstTurn = ['d', 'e'].map((id) => sequencer.submit(message(id)));
    await new Promise((resolve) => setImmediate(resolve));
    // That commit is under way (the fake store takes a millisecond): these wait for the next.
    const secondTurn = ['f', 'g'].map((id) => sequencer.submit(message(id)));
    const seqs = (await Promise.all([...firstTurn, ...secondTurn])).map((r) => r.seq);
    expect(seqs).toEqual([4, 5, 6, 7]);
    expect(log.transactions).toBe(3);
    expect(sequencer.stats.transactions).toBe(3);
  });

  it('tries a batch again when the connection is lost, and fans out once a commit whose answer was lost', async () => {
    const { log, sequencer, published } = setUp();
    log.script = ['lost-after', 'lost-before', 'ok'];
    const results = await Promise.all(['a', 'b', 'c'].map((id) => sequencer.submit(message(id))));
    expect(results.map((r) => r.seq)).toEqual([1, 2, 3]);
    // Committed once, published once, though the store saw the batch three times.
    expect(log.rows.size).toBe(3);
    expect(published.map((m) => [m.clientMsgId, m.seq])).toEqual([['a', 1], ['b', 2], ['c', 3]]);
    expect(sequencer.stats.retriedTransactions).toBe(2);
  });

  it("does not fan out again a client's retry of a message committed before, even in a retried batch", async () => {
    const { log, sequencer, published } = setUp();
    await sequencer.submit(message('old', 'first', 500));
    log.script = ['lost-before', 'ok'];
    const [again, fresh] = await Promise.all([sequencer.submit(message('old', 'first', 900)), sequencer.submit(message('new', 'second', 900))]);
    expect(again).toEqual({ seq: 1, sentAt: 500, duplicate: true });
    expect(fresh.seq).toBe(2);
    expect(published.map((m) => m.clientMsgId)).toEqual(['old', 'new']);
  });

  it('refuses UNAVAILABLE, with a wait, the batch and all queued behind it when the database stays away; then serves again', async () => {
    const { log, sequencer } = setUp(30);
    log.script = Array.from({ length: 1000 }, () => 'lost-before' as const);
    const first = sequencer.submit(message('a'));
    const queued = sequencer.submit(message('b'));
    for (const pending of [first, queued]) {
      await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 1 });
      await expect(pending).rejects.toBeInstanceOf(ChorusError);
    }
    // Back already, but what was sent during the wait asked of the refused is refused too, so
    // that it cannot overtake them; after the wait, sends are taken again.
    log.script = [];
    await expect(sequencer.submit(message('b2'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await sequencer.submit(message('c'))).seq).toBe(1);
  });

  it('answers every message of a batch split for a bad one when the database is lost meanwhile', async () => {
    const { log, sequencer } = setUp(30);
    // The whole batch is refused (a bad text), then its first half meets a database gone away.
    // The first send keeps the sequencer busy, so that the next four make one batch.
    log.script = ['ok', 'ok', ...Array.from({ length: 1000 }, () => 'lost-before' as const)];
    const first = sequencer.submit(message('w'));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = ['a', 'b', 'c', 'd'].map((id) => sequencer.submit(message(id, id === 'd' ? 'BAD' : id)));
    const results = await Promise.allSettled([first, ...rest]);
    expect(results.map((r) => (r.status === 'rejected' ? r.reason.code : r.status))).toEqual(['fulfilled', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
  });

  it('refuses the sends of a chat whose lease was taken over and commits the rest of the batch', async () => {
    const lost: string[][] = [];
    const { log, sequencer, published } = setUp(10_000, {
      fence: (codes) => ({ owner: 'me', epochs: new Map(codes.map((c) => [c, 7])) }),
      onLeaseLost: (codes) => lost.push([...codes]),
    });
    log.takenOver.add('GONE');
    const inChat = (chatCode: string, id: string): Submission => ({ ...message(id), chatCode });
    // The first keeps the sequencer busy, so that the next four make one batch.
    const results = await Promise.allSettled([inChat('C', 'w'), inChat('C', 'a'), inChat('GONE', 'b'), inChat('C', 'c'), inChat('GONE', 'd')].map((m) => sequencer.submit(m)));
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : r.value.seq))).toEqual([1, 2, 'LeaseLostError', 3, 'LeaseLostError']);
    expect(published.map((m) => m.clientMsgId)).toEqual(['w', 'a', 'c']);
    expect(lost).toEqual([['GONE']]);
    expect(sequencer.stats.fencedTransactions).toBe(1);
    expect(log.fences.at(-1)).toEqual({ owner: 'me', epochs: new Map([['C', 7]]) });
  });
});

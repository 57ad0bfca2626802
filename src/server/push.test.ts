import { describe, expect, it } from 'vitest';
import { ChorusError } from '../protocol/errors.js';
import { type MessagesFrame, type RefusalFrame, encodeFrame } from '../protocol/frames.js';
import { MAX_FRAME_BYTES, MAX_TEXT_JSON_BYTES, MAX_WATCHED_PER_CONNECTION, PUSH_FRAME_TARGET_BYTES, PUSH_HIGH_WATER_BYTES } from '../protocol/limits.js';
import { CATCH_UP_PAGE, PushHub, type PushTarget } from './push.js';
import type { CommittedMessage } from './store/messages.js';

/**
 * The push hub alone: a store that is an array (whose reads can be held back to let commits
 * race them) and connections that record what is written to them and how much is unsent.
 */

const CHAT = 'PUSHCHAT01';
const FORMATTED = 'PUSHC-HAT01';

class FakeConnection implements PushTarget {
  readonly frames: (MessagesFrame | RefusalFrame)[] = [];
  unsentBytes = 0;
  /** The most unsent bytes ever. */
  peakUnsent = 0;
  writable = true;
  /** When set, each frame written adds its size to unsentBytes, as a socket nobody reads. */
  accumulate = false;
  constructor(readonly userId = 1) {}

  writePush(frame: MessagesFrame | RefusalFrame): void {
    const bytes = encodeFrame(frame).length; // throws past MAX_FRAME_BYTES
    this.frames.push(frame);
    if (this.accumulate) this.unsentBytes += bytes;
    this.peakUnsent = Math.max(this.peakUnsent, this.unsentBytes);
  }

  get seqs(): number[] {
    return this.frames.flatMap((f) => (f.t === 'messages' ? f.messages.map((m) => m.seq) : []));
  }
}

/** A chat log, the hub over it, and a way to commit (store first, then publish, as the sequencer does). */
function setUp(options: { members?: Set<number> } = {}) {
  const log: CommittedMessage[] = [];
  const members = options.members ?? new Set([1]);
  let hold: Promise<void> | undefined;
  let reads = 0;
  const hub = new PushHub({
    readAfter: async (code, after, limit) => {
      reads++;
      // The read sees the log as it is when it starts, and answers once released.
      const rows = log.filter((r) => r.chatCode === code && r.seq > after).slice(0, limit);
      if (hold) await hold;
      return rows;
    },
    isMemberNow: (_code, userId) => members.has(userId),
    isMember: async (_code, userId) => members.has(userId),
    logger: { error: () => {} },
  });
  const row = (seq: number, text = `m${seq}`): CommittedMessage => ({ chatCode: CHAT, seq, senderId: 2, senderName: 'Bo', text, sentAt: 1_700_000_000_000 + seq, clientMsgId: `c${seq}` });
  return {
    hub,
    log,
    members,
    get reads() {
      return reads;
    },
    /** Stores messages without publishing them (a commit whose listener has not run yet). */
    store(from: number, count: number, text?: (seq: number) => string): CommittedMessage[] {
      const rows = Array.from({ length: count }, (_, i) => row(from + i, text?.(from + i)));
      log.push(...rows);
      return rows;
    },
    publish(rows: CommittedMessage[]) {
      hub.publish(rows);
    },
    commit(from: number, count: number, text?: (seq: number) => string) {
      this.publish(this.store(from, count, text));
    },
    /** Holds store reads back until the returned function is called. */
    holdReads(): () => void {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('catch-up, then live', () => {
  it('sends the stored messages after `after`, then each commit as it comes, in order, once', async () => {
    const t = setUp();
    t.commit(1, 5);
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 2);
    await settle();
    expect(c.seqs).toEqual([3, 4, 5]);
    t.commit(6, 2);
    t.commit(8, 1);
    expect(c.seqs).toEqual(range(3, 8));
    expect(c.frames.every((f) => f.chat === FORMATTED)).toBe(true);
    expect(c.frames[0]).toEqual({ t: 'messages', chat: FORMATTED, messages: [3, 4, 5].map((seq) => ({ seq, sender: { id: 2, name: 'Bo' }, text: `m${seq}`, sentAt: new Date(1_700_000_000_000 + seq).toISOString(), clientMsgId: `c${seq}` })) });
    expect(t.hub.stats.pushed).toBe(6);
  });

  it('has no gap when commits land while the store is being read: it reads again before going live', async () => {
    const t = setUp();
    t.commit(1, 3);
    const c = new FakeConnection();
    const release = t.holdReads();
    t.hub.watch(c, CHAT, 0);
    await settle();
    // The read saw 1..3; 4 and 5 are committed (and published) before it answers.
    t.commit(4, 2);
    release();
    await settle();
    await settle();
    t.commit(6, 1);
    expect(c.seqs).toEqual(range(1, 6));
    expect(t.reads).toBe(2);
  });

  it('has no duplicate when the store read sees commits whose publication comes after it', async () => {
    const t = setUp();
    t.commit(1, 3);
    const late = t.store(4, 2); // committed, not yet published
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    expect(c.seqs).toEqual(range(1, 5));
    t.publish(late);
    t.commit(6, 1);
    expect(c.seqs).toEqual(range(1, 6));
  });

  it('catches up a log longer than a store page, page by page', async () => {
    const t = setUp();
    t.commit(1, CATCH_UP_PAGE * 2 + 10);
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    for (let i = 0; i < 10; i++) await settle();
    expect(c.seqs).toEqual(range(1, CATCH_UP_PAGE * 2 + 10));
  });

  it('catches up from the store when a batch starts beyond what was sent (a commit it did not see)', async () => {
    const t = setUp();
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    t.commit(1, 1);
    t.store(2, 2); // never published
    t.commit(4, 1);
    await settle();
    await settle();
    expect(c.seqs).toEqual(range(1, 4));
  });
});

describe('frames', () => {
  it('packs consecutive messages up to about PUSH_FRAME_TARGET_BYTES, every frame under MAX_FRAME_BYTES', async () => {
    const t = setUp();
    t.commit(1, 40, (seq) => `${seq}`.padEnd(5000, '.'));
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    expect(c.seqs).toEqual(range(1, 40));
    expect(c.frames.length).toBeGreaterThan(1);
    expect(c.frames.length).toBeLessThan(10);
    for (const f of c.frames) expect(Buffer.byteLength(JSON.stringify(f))).toBeLessThanOrEqual(PUSH_FRAME_TARGET_BYTES);
  });

  it('sends a message heavier than the target alone, in a frame that fits', async () => {
    const t = setUp();
    // The heaviest text in JSON: control characters, six bytes each.
    const heavy = '\u0001'.repeat(MAX_TEXT_JSON_BYTES / 6);
    t.commit(1, 3, () => heavy);
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    expect(c.frames.map((f) => (f.t === 'messages' ? f.messages.length : 0))).toEqual([1, 1, 1]);
    for (const f of c.frames) expect(encodeFrame(f).length).toBeLessThan(MAX_FRAME_BYTES);
  });
});

describe('backpressure', () => {
  it('writes nothing to a connection with PUSH_HIGH_WATER_BYTES unsent; once drained it catches up from the store', async () => {
    const t = setUp();
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    c.unsentBytes = PUSH_HIGH_WATER_BYTES;
    t.commit(1, 3);
    expect(c.frames).toEqual([]);
    t.commit(4, 2);
    c.unsentBytes = 0;
    t.hub.drained(c);
    await settle();
    expect(c.seqs).toEqual(range(1, 5));
    t.commit(6, 1);
    expect(c.seqs).toEqual(range(1, 6));
  });

  it('keeps what a reader that does not read holds under PUSH_HIGH_WATER_BYTES plus a frame, and delivers everything once it drains', async () => {
    const t = setUp();
    const c = new FakeConnection();
    c.accumulate = true;
    t.hub.watch(c, CHAT, 0);
    await settle();
    let seq = 1;
    for (let i = 0; i < 200; i++, seq += 10) t.commit(seq, 10, () => 'y'.repeat(1000));
    const total = seq - 1;
    expect(c.seqs.length).toBeLessThan(total);
    expect(c.peakUnsent).toBeLessThan(PUSH_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
    // The reader reads, a socketful at a time: each drain brings more, never past the bound.
    for (let i = 0; i < 100 && c.seqs.length < total; i++) {
      c.unsentBytes = 0;
      t.hub.drained(c);
      await settle();
    }
    expect(c.seqs).toEqual(range(1, total));
    expect(c.peakUnsent).toBeLessThan(PUSH_HIGH_WATER_BYTES + MAX_FRAME_BYTES);
  });
});

describe('authorization and bookkeeping', () => {
  it('drops the watch with a NOT_A_MEMBER refusal once the user is no longer a member, and sends nothing more', async () => {
    const t = setUp();
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    t.commit(1, 2);
    t.members.delete(1);
    t.commit(3, 2);
    t.members.add(1); // even back in: the watch is gone
    t.commit(5, 1);
    expect(c.seqs).toEqual([1, 2]);
    expect(c.frames.at(-1)).toMatchObject({ t: 'refusal', about: 'watch', chat: FORMATTED, code: 'NOT_A_MEMBER' });
    expect(t.hub.watchCount).toBe(0);
  });

  it("refuses the removed user's watches of the chat at the removal, without waiting for a message", async () => {
    const t = setUp({ members: new Set([1, 2]) });
    const removed = new FakeConnection(1);
    const other = new FakeConnection(2);
    t.hub.watch(removed, CHAT, 0);
    t.hub.watch(removed, 'OTHERCHAT1', 0);
    t.hub.watch(other, CHAT, 0);
    await settle();
    t.hub.memberRemoved(CHAT, 1); // still a member (a leave and a join crossed): nothing ends
    expect(t.hub.watchCount).toBe(3);
    t.members.delete(1);
    t.hub.memberRemoved(CHAT, 1);
    expect(removed.frames).toMatchObject([{ t: 'refusal', about: 'watch', chat: FORMATTED, code: 'NOT_A_MEMBER' }]);
    expect(other.frames).toEqual([]);
    expect(t.hub.watchCount).toBe(2);
  });

  it('checks membership after a store read too, before writing what it read', async () => {
    const t = setUp();
    t.commit(1, 3);
    const c = new FakeConnection();
    const release = t.holdReads();
    t.hub.watch(c, CHAT, 0);
    await settle();
    t.members.delete(1);
    release();
    await settle();
    await settle();
    expect(c.seqs).toEqual([]);
    expect(c.frames).toMatchObject([{ t: 'refusal', code: 'NOT_A_MEMBER' }]);
  });

  it('unwatch stops the pushing; unwatching a chat not watched is a no-op; closing drops every watch', async () => {
    const t = setUp();
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    t.hub.watch(c, 'OTHERCHAT1', 0);
    await settle();
    expect(t.hub.targetCount).toBe(1);
    expect(t.hub.watchCount).toBe(2);
    t.commit(1, 1);
    t.hub.unwatch(c, CHAT);
    t.hub.unwatch(c, CHAT);
    t.hub.unwatch(c, 'NEVERWATCH');
    t.commit(2, 1);
    expect(c.seqs).toEqual([1]);
    expect(t.hub.watchCount).toBe(1);
    t.hub.closed(c);
    expect(t.hub.targetCount).toBe(0);
    expect(t.hub.watchCount).toBe(0);
  });

  it('watching a chat already watched restarts it from the new `after`', async () => {
    const t = setUp();
    t.commit(1, 5);
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 3);
    await settle();
    t.hub.watch(c, CHAT, 1);
    await settle();
    expect(c.seqs).toEqual([4, 5, 2, 3, 4, 5]);
    expect(t.hub.watchCount).toBe(1);
  });

  it(`refuses a watch past ${MAX_WATCHED_PER_CONNECTION} chats on one connection with TOO_MANY_REQUESTS`, () => {
    const t = setUp();
    const c = new FakeConnection();
    for (let i = 0; i < MAX_WATCHED_PER_CONNECTION; i++) t.hub.watch(c, `CHAT${String(i).padStart(6, '0')}`, 0);
    expect(() => t.hub.watch(c, 'ONEMORE001', 0)).toThrow(ChorusError);
    expect(() => t.hub.watch(c, 'ONEMORE001', 0)).toThrow(/At most/);
    // Watching one already watched again is not one more.
    expect(() => t.hub.watch(c, 'CHAT000000', 0)).not.toThrow();
    expect(t.hub.watchCount).toBe(MAX_WATCHED_PER_CONNECTION);
  });

  it('ends a catch-up for a connection that is closing, instead of reading the log for ever', async () => {
    // The bug: nothing could be written, so nothing was sent, so the catch-up never got as far
    // as the hub had seen committed, and read the in-memory log again in a loop of resolved
    // promises that starved the event loop (the server hung, at 100% CPU, until killed).
    const t = setUp();
    t.commit(1, 5);
    const c = new FakeConnection();
    c.writable = false;
    t.hub.watch(c, CHAT, 0);
    for (let turn = 0; turn < 100; turn++) await Promise.resolve();
    expect(t.reads).toBeLessThanOrEqual(1);
    expect(c.frames).toEqual([]);
  });

  it('goes live when the log has nothing after what was sent, even if the hub saw later commits', async () => {
    // A chat whose messages are gone from the store (deleted with the chat) must not be read in a loop.
    const t = setUp();
    t.commit(1, 3);
    t.log.length = 0;
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    for (let turn = 0; turn < 100; turn++) await Promise.resolve();
    expect(t.reads).toBeLessThanOrEqual(1);
  });

  it('writes nothing to a connection that is closing', async () => {
    const t = setUp();
    const c = new FakeConnection();
    t.hub.watch(c, CHAT, 0);
    await settle();
    c.writable = false;
    t.commit(1, 2);
    expect(c.frames).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { CommittedMessage } from '../store/messages.js';
import { SiteFeed } from './site-feed.js';

const message = (chatCode: string, seq: number): CommittedMessage => ({ chatCode, seq, senderId: 1, senderName: 'Ann', clientMsgId: `${chatCode}-${seq}`, text: `m${seq}`, sentAt: seq });

/** A database holding each chat's whole log and membership version, and a site recording what it was handed. */
function setUp() {
  const log = new Map<string, CommittedMessage[]>();
  const versions = new Map<string, number>();
  const delivered: CommittedMessage[] = [];
  const moved: string[] = [];
  const commit = (code: string, count: number) => {
    const list = log.get(code) ?? [];
    const batch = Array.from({ length: count }, (_, i) => message(code, list.length + i + 1));
    list.push(...batch);
    log.set(code, list);
    return batch;
  };
  const feed = new SiteFeed({
    deliver: (batch) => delivered.push(...batch),
    readAfter: async (code, after, limit) => (log.get(code) ?? []).filter((m) => m.seq > after).slice(0, limit),
    progress: async (codes) => codes.map((code) => ({ code, lastSeq: log.get(code)?.length ?? 0, membershipVersion: versions.get(code) ?? 0 })),
    watchedChats: () => [],
    membershipMoved: (code) => moved.push(code),
    logger: { warn: () => {} },
  });
  const seqs = (code: string) => delivered.filter((m) => m.chatCode === code).map((m) => m.seq);
  return { feed, commit, versions, delivered, moved, seqs };
}

describe('SiteFeed', () => {
  it('hands each chat on in order, once, reading a run lost on the bus from the database', async () => {
    const { feed, commit, seqs } = setUp();
    feed.offer(commit('A', 3));
    const lost = commit('A', 600); // never arrives
    void lost;
    feed.offer([...commit('A', 2), ...commit('B', 1)]);
    feed.offer(commit('A', 1).concat()); // in order after the repair
    await feed.settled();
    expect(seqs('A')).toEqual(Array.from({ length: 606 }, (_, i) => i + 1));
    expect(seqs('B')).toEqual([1]);
    expect(feed.stats.repaired).toBe(600);
  });

  it('drops a batch already delivered (a retry on the bus, or a repair that overtook it)', async () => {
    const { feed, commit, seqs } = setUp();
    const first = commit('A', 2);
    feed.offer(first);
    feed.offer(first);
    await feed.settled();
    expect(seqs('A')).toEqual([1, 2]);
  });

  it('repairs a chat whose last batches were lost at the second sweep, or at once after the bus came back', async () => {
    const { feed, commit, seqs } = setUp();
    feed.offer(commit('A', 1));
    feed.offer(commit('B', 1));
    commit('A', 4); // lost
    commit('B', 2); // lost
    await feed.sweep();
    await feed.settled();
    expect(seqs('A')).toEqual([1]); // maybe still in flight: not yet
    await feed.sweep();
    await feed.settled();
    expect(seqs('A')).toEqual([1, 2, 3, 4, 5]);
    commit('B', 1);
    await feed.sweep(true);
    await feed.settled();
    expect(seqs('B')).toEqual([1, 2, 3, 4]);
  });

  it("acts on another server's removal seen in the database, not on one it acted on already", async () => {
    const { feed, commit, versions, moved } = setUp();
    feed.offer(commit('A', 1));
    await feed.sweep();
    versions.set('A', 1);
    feed.removalSeen('A');
    await feed.sweep();
    expect(moved).toEqual([]);
    versions.set('A', 3);
    feed.removalSeen('A');
    await feed.sweep();
    expect(moved).toEqual(['A']);
  });
});

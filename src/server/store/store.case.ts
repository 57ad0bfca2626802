import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newStreamId } from '../../protocol/stream-id.js';
import { type DatabaseTarget, openDatabase } from './database.js';
import { migrateTo } from './migrations.js';
import { Store } from './store.js';

/** An empty database of its own, and how to throw it away once closed. */
export type NewDatabase = () => Promise<{ target: DatabaseTarget; dispose(): Promise<void> }>;

/**
 * The one behaviour suite every storage engine must pass (run by store.sqlite.test.ts and
 * store.postgres.test.ts). An engine is done when this passes on it.
 */
export function storeContract(engineName: string, newDatabase: NewDatabase) {
  describe(`Store on ${engineName}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let alice: number;
    let bob: number;

    beforeAll(async () => {
      const database = await newDatabase();
      store = await Store.open(database.target);
      dispose = async () => {
        await store.close();
        await database.dispose();
      };
      alice = (await store.users.insert({ name: 'Alice', email: 'alice@x.io', passwordHash: 'h', createdAt: 1 })).id;
      bob = (await store.users.insert({ name: 'Bób ☃', email: 'bob@x.io', passwordHash: 'h', createdAt: 2 })).id;
    });
    afterAll(async () => dispose?.());

    const chat = (code: string, port: number, stream_id = newStreamId()) => ({
      code,
      name: `chat ${code}`,
      created_by: alice,
      created_at: 10,
      multicast_group: '239.255.0.1',
      multicast_port: port,
      stream_id,
    });

    it('rejects a second user with the same email', async () => {
      await expect(store.users.insert({ name: 'A2', email: 'alice@x.io', passwordHash: 'h', createdAt: 3 })).rejects.toThrow();
    });

    it('finds live sessions only', async () => {
      await store.sessions.insert({ tokenHash: 'live', userId: alice, createdAt: 0, expiresAt: 1000 });
      await store.sessions.insert({ tokenHash: 'old', userId: alice, createdAt: 0, expiresAt: 10 });
      expect((await store.sessions.findUser('live', 500))?.id).toBe(alice);
      expect(await store.sessions.findUser('old', 500)).toBeUndefined();
      await store.sessions.deleteExpired(500);
      await store.sessions.delete('live');
      expect(await store.sessions.findUser('live', 500)).toBeUndefined();
    });

    it('creates a chat with its creator as member, and refuses a taken group and port', async () => {
      await store.chats.insertWithCreator(chat('AAAAAAAAAA', 40001));
      await expect(store.chats.insertWithCreator(chat('BBBBBBBBBB', 40001))).rejects.toThrow();
      expect(await store.chats.find('BBBBBBBBBB')).toBeUndefined();
      const found = await store.chats.find('AAAAAAAAAA');
      expect(found).toMatchObject({ name: 'chat AAAAAAAAAA', last_seq: 0, member_count: 1, key_epoch: 0 });
      expect(await store.chats.isMember('AAAAAAAAAA', alice)).toBe(true);
      expect(await store.chats.isMember('AAAAAAAAAA', bob)).toBe(false);
    });

    it('keeps each chat its stream id, and refuses one already taken', async () => {
      const stream = newStreamId();
      await store.chats.insertWithCreator(chat('SSSSSSSSSS', 40010, stream));
      expect((await store.chats.find('SSSSSSSSSS'))?.stream_id).toBe(stream);
      await expect(store.chats.insertWithCreator(chat('TTTTTTTTTT', 40011, stream))).rejects.toThrow();
      expect(await store.chats.find('TTTTTTTTTT')).toBeUndefined();
    });

    it('records a ban with the removal, at once, and lifts it', async () => {
      await store.chats.insertWithCreator(chat('BANBANBANB', 40012));
      await store.chats.addMember('BANBANBANB', bob, 20);
      expect(await store.chats.isBanned('BANBANBANB', bob)).toBe(false);
      await store.chats.removeAndBan('BANBANBANB', bob, { bannedBy: alice, bannedAt: 30 });
      expect(await store.chats.isMember('BANBANBANB', bob)).toBe(false);
      expect(await store.chats.isBanned('BANBANBANB', bob)).toBe(true);
      // A ban is per chat and per user.
      expect(await store.chats.isBanned('BANBANBANB', alice)).toBe(false);
      expect(await store.chats.isBanned('AAAAAAAAAA', bob)).toBe(false);
      // Banned again (after a lift and a rejoin, say): one row, the latest.
      await store.chats.removeAndBan('BANBANBANB', bob, { bannedBy: alice, bannedAt: 40 });
      const rows = await store.db.selectFrom('chat_bans').selectAll().where('chat_code', '=', 'BANBANBANB').execute();
      expect(rows).toEqual([{ chat_code: 'BANBANBANB', user_id: bob, banned_at: 40, banned_by: alice }]);
      expect(await store.chats.liftBan('BANBANBANB', bob)).toBe(true);
      expect(await store.chats.liftBan('BANBANBANB', bob)).toBe(false);
      expect(await store.chats.isBanned('BANBANBANB', bob)).toBe(false);
    });

    it('adds members idempotently (saying whether anything changed), lists and removes them', async () => {
      expect(await store.chats.addMember('AAAAAAAAAA', bob, 20)).toBe(true);
      expect(await store.chats.addMember('AAAAAAAAAA', bob, 30)).toBe(false);
      expect((await store.chats.listMembers('AAAAAAAAAA')).map((m) => m.name)).toEqual(['Alice', 'Bób ☃']);
      expect((await store.chats.listForUser(bob)).map((c) => [c.code, c.member_count])).toEqual([['AAAAAAAAAA', 2]]);
      await store.chats.removeMember('AAAAAAAAAA', bob);
      expect(await store.chats.listForUser(bob)).toEqual([]);
    });

    it('assigns consecutive sequence numbers per chat and answers a retried client id with the first result', async () => {
      await store.chats.insertWithCreator(chat('CCCCCCCCCC', 40002));
      const first = await store.log.append([
        { chatCode: 'AAAAAAAAAA', senderId: alice, clientMsgId: 'm1', text: "'); drop table users; --", sentAt: 100 },
        { chatCode: 'CCCCCCCCCC', senderId: alice, clientMsgId: 'm1', text: 'other chat', sentAt: 101 },
        { chatCode: 'AAAAAAAAAA', senderId: alice, clientMsgId: 'm2', text: 'ünïcødé 🎉', sentAt: 102 },
        { chatCode: 'AAAAAAAAAA', senderId: alice, clientMsgId: 'm2', text: 'ünïcødé 🎉', sentAt: 103 },
      ]);
      expect(first.map((r) => [r.seq, r.duplicate])).toEqual([[1, false], [1, false], [2, false], [2, true]]);
      const retried = await store.log.append([
        { chatCode: 'AAAAAAAAAA', senderId: alice, clientMsgId: 'm1', text: "'); drop table users; --", sentAt: 200 },
        { chatCode: 'AAAAAAAAAA', senderId: bob, clientMsgId: 'm1', text: 'same id, other sender', sentAt: 201 },
      ]);
      expect(retried).toEqual([
        { seq: 1, sentAt: 100, duplicate: true },
        { seq: 3, sentAt: 201, duplicate: false },
      ]);
      expect((await store.chats.find('AAAAAAAAAA'))?.last_seq).toBe(3);
      const page = await store.messages.page('AAAAAAAAAA', { after: 0, limit: 10 });
      expect(page.map((m) => [m.seq, m.text, m.senderName])).toEqual([
        [1, "'); drop table users; --", 'Alice'],
        [2, 'ünïcødé 🎉', 'Alice'],
        [3, 'same id, other sender', 'Bób ☃'],
      ]);
    });

    it("gives a chat's multicast address, and nothing for a chat that does not exist", async () => {
      await store.chats.insertWithCreator(chat('MMMMMMMMMM', 40078, '0123456789abcdef0123'));
      expect(await store.chats.multicastAddress('MMMMMMMMMM')).toEqual({ group: '239.255.0.1', port: 40078, stream: '0123456789abcdef0123' });
      expect(await store.chats.multicastAddress('NNNNNNNNNN')).toBeUndefined();
    });

    it('tells a client id reused for another text (in the log or in the same batch) from a retry', async () => {
      await store.chats.insertWithCreator(chat('RRRRRRRRRR', 40077));
      const first = await store.log.append([
        { chatCode: 'RRRRRRRRRR', senderId: alice, clientMsgId: 'r1', text: 'original', sentAt: 100 },
        { chatCode: 'RRRRRRRRRR', senderId: alice, clientMsgId: 'r1', text: 'other text, same batch', sentAt: 101 },
      ]);
      expect(first).toEqual([
        { seq: 1, sentAt: 100, duplicate: false },
        { seq: 1, sentAt: 100, duplicate: true, reused: true },
      ]);
      const later = await store.log.append([
        { chatCode: 'RRRRRRRRRR', senderId: alice, clientMsgId: 'r1', text: 'original', sentAt: 200 },
        { chatCode: 'RRRRRRRRRR', senderId: alice, clientMsgId: 'r1', text: 'other text, later', sentAt: 201 },
      ]);
      expect(later).toEqual([
        { seq: 1, sentAt: 100, duplicate: true },
        { seq: 1, sentAt: 100, duplicate: true, reused: true },
      ]);
      expect((await store.chats.find('RRRRRRRRRR'))?.last_seq).toBe(1);
    });

    it('pages history after, before and latest, always ascending', async () => {
      const batch = Array.from({ length: 20 }, (_, i) => ({
        chatCode: 'CCCCCCCCCC',
        senderId: alice,
        clientMsgId: `p${i}`,
        text: `n${i + 2}`,
        sentAt: 1000 + i,
      }));
      await store.log.append(batch);
      const seqs = async (p: Parameters<Store['messages']['page']>[1]) =>
        (await store.messages.page('CCCCCCCCCC', p)).map((m) => m.seq);
      expect(await seqs({ after: 5, limit: 3 })).toEqual([6, 7, 8]);
      expect(await seqs({ before: 5, limit: 3 })).toEqual([2, 3, 4]);
      expect(await seqs({ latest: true, limit: 3 })).toEqual([19, 20, 21]);
      expect(await seqs({ after: 21, limit: 3 })).toEqual([]);
    });

    it('commits a large batch in one call', async () => {
      const big = Array.from({ length: 1200 }, (_, i) => ({
        chatCode: 'AAAAAAAAAA',
        senderId: bob,
        clientMsgId: `big-${i}`,
        text: `big ${i}`,
        sentAt: 5000,
      }));
      const results = await store.log.append(big);
      expect(results[0]?.seq).toBe(4);
      expect(results.at(-1)?.seq).toBe(1203);
      expect((await store.chats.find('AAAAAAAAAA'))?.last_seq).toBe(1203);
    });
    it('leases a chat to one live server at a time, bumping the epoch at every takeover', async () => {
      await store.chats.insertWithCreator(chat('LEASELEASE', 43200));
      await store.cluster.heartbeat({ id: 'server-a', site: 'a' }, 60_000);
      await store.cluster.heartbeat({ id: 'server-b', site: 'b' }, 60_000);
      expect((await store.cluster.liveServers()).map((s) => s.id)).toEqual(['server-a', 'server-b']);
      expect(await store.cluster.holder('LEASELEASE')).toEqual({ owner: null, epoch: 0, ownerAlive: false });

      expect(await store.cluster.acquire('LEASELEASE', 'server-a')).toBe(1);
      // B cannot take it while A is alive.
      expect(await store.cluster.acquire('LEASELEASE', 'server-b')).toBeUndefined();
      expect(await store.cluster.holder('LEASELEASE')).toEqual({ owner: 'server-a', epoch: 1, ownerAlive: true });

      // A's row expires (a heartbeat with no time left): B takes over at a new epoch.
      await store.cluster.heartbeat({ id: 'server-a', site: 'a' }, -1);
      expect((await store.cluster.liveServers()).map((s) => s.id)).toEqual(['server-b']);
      expect(await store.cluster.holder('LEASELEASE')).toMatchObject({ owner: 'server-a', ownerAlive: false });
      expect(await store.cluster.acquire('LEASELEASE', 'server-b')).toBe(2);
      // A server leaving cleanly frees its leases at once.
      await store.cluster.leave('server-b');
      expect(await store.cluster.acquire('LEASELEASE', 'server-a')).toBe(3);
      expect(await store.cluster.acquire('NOSUCHCHAT', 'server-a')).toBeUndefined();
      const identity = await store.cluster.identity();
      expect(identity.id).toMatch(/^[0-9a-f]{16}$/);
      expect(identity.secret).toHaveLength(32);
    });

    it('refuses a fenced commit whose epoch was taken over, storing nothing of its transaction', async () => {
      await store.chats.insertWithCreator(chat('FENCEFENCE', 43201));
      await store.chats.insertWithCreator(chat('FENCEOTHER', 43202));
      await store.cluster.heartbeat({ id: 'server-c', site: 'c' }, 60_000);
      const epoch = (await store.cluster.acquire('FENCEFENCE', 'server-c'))!;
      const other = (await store.cluster.acquire('FENCEOTHER', 'server-c'))!;
      const fence = { owner: 'server-c', epochs: new Map([['FENCEFENCE', epoch], ['FENCEOTHER', other]]) };
      const send = (code: string, id: string) => ({ chatCode: code, senderId: alice, clientMsgId: id, text: id, sentAt: 5 });
      expect((await store.log.append([send('FENCEFENCE', 'f1'), send('FENCEOTHER', 'o1')], fence)).map((r) => r.seq)).toEqual([1, 1]);

      // Server D takes FENCEFENCE over (C's row expired): C's next commit touching it fails whole.
      await store.cluster.heartbeat({ id: 'server-c', site: 'c' }, -1);
      await store.cluster.heartbeat({ id: 'server-d', site: 'd' }, 60_000);
      expect(await store.cluster.acquire('FENCEFENCE', 'server-d')).toBe(epoch + 1);
      const refused = store.log.append([send('FENCEOTHER', 'o2'), send('FENCEFENCE', 'f2')], fence);
      await expect(refused).rejects.toMatchObject({ name: 'LeaseLostError', chatCodes: ['FENCEFENCE'] });
      expect((await store.messages.page('FENCEOTHER', { after: 0, limit: 10 })).map((m) => m.clientMsgId)).toEqual(['o1']);

      // The new holder continues the log without a hole.
      const dFence = { owner: 'server-d', epochs: new Map([['FENCEFENCE', epoch + 1]]) };
      expect((await store.log.append([send('FENCEFENCE', 'f2')], dFence)).map((r) => r.seq)).toEqual([2]);
      expect((await store.cluster.progress(['FENCEFENCE', 'FENCEOTHER'])).sort((a, b) => a.code.localeCompare(b.code))).toEqual([
        { code: 'FENCEFENCE', lastSeq: 2, membershipVersion: 0 },
        { code: 'FENCEOTHER', lastSeq: 1, membershipVersion: 0 },
      ]);
    });

    it('moves the membership version at every removal, not at a join', async () => {
      await store.chats.insertWithCreator(chat('VERSIONVER', 43203));
      await store.chats.addMember('VERSIONVER', bob, 11);
      expect((await store.cluster.progress(['VERSIONVER']))[0]!.membershipVersion).toBe(0);
      await store.chats.removeMember('VERSIONVER', bob);
      await store.chats.addMember('VERSIONVER', bob, 12);
      await store.chats.removeAndBan('VERSIONVER', bob, { bannedBy: alice, bannedAt: 13 });
      expect((await store.cluster.progress(['VERSIONVER']))[0]!.membershipVersion).toBe(2);
    });

    it('keep one read position per member and chat, moving only forward', async () => {
      await store.chats.insertWithCreator(chat('READREADRE', 43100));
      await store.reads.upsertMany([{ chatCode: 'READREADRE', userId: alice, seq: 5 }], 1);
      await store.reads.upsertMany([{ chatCode: 'READREADRE', userId: alice, seq: 3 }], 2);
      expect(await store.reads.get('READREADRE', alice)).toBe(5);
      await store.reads.upsertMany([{ chatCode: 'READREADRE', userId: alice, seq: 9 }], 3);
      expect(await store.reads.get('READREADRE', alice)).toBe(9);
      expect((await store.chats.listForUser(alice)).find((c) => c.code === 'READREADRE')?.read_seq).toBe(9);
      expect(await store.db.selectFrom('read_positions').selectAll().where('chat_code', '=', 'READREADRE').execute()).toHaveLength(1);
      expect(await store.reads.sharesReceipts(bob)).toBe(true);
      await store.reads.setSharesReceipts(bob, false);
      expect(await store.reads.sharesReceipts(bob)).toBe(false);
      await store.reads.setSharesReceipts(bob, true);
    });

    it("lists the user's chats with their read position and how many messages others sent after it", async () => {
      await store.chats.insertWithCreator(chat('UNREADUNRE', 43300));
      await store.chats.insertWithCreator(chat('UNREADNONE', 43301));
      await store.chats.addMember('UNREADUNRE', bob, 11);
      await store.chats.addMember('UNREADNONE', bob, 11);
      const from = (senderId: number, clientMsgId: string) => ({ chatCode: 'UNREADUNRE', senderId, clientMsgId, text: clientMsgId, sentAt: 50 });
      // #1 Alice, #2 Bob, #3 Alice, #4 Bob, #5 Alice.
      await store.log.append([from(alice, 'u1'), from(bob, 'u2'), from(alice, 'u3'), from(bob, 'u4'), from(alice, 'u5')]);
      const unread = async (userId: number) =>
        Object.fromEntries((await store.chats.listForUser(userId)).filter((c) => c.code.startsWith('UNREAD')).map((c) => [c.code, [c.read_seq, c.unread_count]]));
      // No position yet: every message of the others is unread, none of one's own.
      expect(await unread(bob)).toEqual({ UNREADUNRE: [0, 3], UNREADNONE: [0, 0] });
      expect(await unread(alice)).toEqual({ UNREADUNRE: [0, 2], UNREADNONE: [0, 0] });
      // After the position, only others' messages: Bob's own #4 is not unread, Alice's #5 is.
      await store.reads.upsertMany([{ chatCode: 'UNREADUNRE', userId: bob, seq: 3 }], 60);
      expect(await unread(bob)).toEqual({ UNREADUNRE: [3, 1], UNREADNONE: [0, 0] });
      expect(await unread(alice)).toEqual({ UNREADUNRE: [0, 2], UNREADNONE: [0, 0] });
      await store.reads.upsertMany([{ chatCode: 'UNREADUNRE', userId: bob, seq: 5 }], 61);
      expect(await unread(bob)).toEqual({ UNREADUNRE: [5, 0], UNREADNONE: [0, 0] });
      // The count for one chat, from any position (a position not written yet, say), agrees.
      expect(await Promise.all([0, 1, 3, 4, 5].map((after) => store.messages.countUnread('UNREADUNRE', bob, after)))).toEqual([3, 2, 1, 1, 0]);
      expect(await store.messages.countUnread('UNREADNONE', bob, 0)).toBe(0);
    });
  });

  describe(`Migrations on ${engineName}`, () => {
    it('give chats made before stream ids one each: random, distinct, unrelated to the code', async () => {
      const database = await newDatabase();
      const { db, engine } = openDatabase(database.target);
      let store: Store | undefined;
      try {
        await migrateTo(db, engine, '0001_core');
        await sql`insert into users (name, email, password_hash, created_at) values ('Old', 'old@x.io', 'h', 1)`.execute(db);
        const codes = Array.from({ length: 20 }, (_, i) => `OLD${String(i).padStart(7, '0')}`);
        for (const [i, code] of codes.entries()) {
          await sql`insert into chats (code, name, created_by, created_at, multicast_group, multicast_port)
                    values (${code}, 'old', 1, 1, '239.255.0.9', ${41000 + i})`.execute(db);
        }
        await db.destroy();

        store = await Store.open(database.target);
        const rows = await store.db.selectFrom('chats').select(['code', 'stream_id']).orderBy('code').execute();
        expect(rows.map((r) => r.code)).toEqual(codes);
        for (const { code, stream_id } of rows) {
          expect(stream_id).toMatch(/^[0-9a-f]{20}$/);
          expect(stream_id).not.toContain(Buffer.from(code, 'latin1').toString('hex'));
        }
        expect(new Set(rows.map((r) => r.stream_id)).size).toBe(codes.length);
        // Unique from now on: a new chat cannot take a stream id already given out.
        await expect(
          store.db
            .insertInto('chats')
            .values({ code: 'NEWNEWNEWN', name: 'n', created_by: 1, created_at: 2, multicast_group: '239.255.0.9', multicast_port: 42000, last_seq: 0, key_epoch: 0, stream_id: rows[0]!.stream_id })
            .execute(),
        ).rejects.toThrow();
        // And the chat_bans table exists, empty.
        expect(await store.db.selectFrom('chat_bans').selectAll().execute()).toEqual([]);
        // Accounts from before receipts share them (the default), and have no read positions yet.
        expect(await store.reads.sharesReceipts(1)).toBe(true);
        expect(await store.db.selectFrom('read_positions').selectAll().execute()).toEqual([]);
      } finally {
        if (store) await store.close();
        else await db.destroy().catch(() => {});
        await database.dispose();
      }
    });
  });
}

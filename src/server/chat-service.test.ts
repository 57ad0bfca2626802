import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type User, toUser } from './accounts.js';
import { ChatKeys } from './chat-keys.js';
import { type ChatCaller, Chats } from './chat-service.js';
import { defaultServerConfig } from './config.js';
import { MembershipCache } from './membership-cache.js';
import { MulticastAllocator } from './multicast-allocator.js';
import { Presence } from './presence.js';
import { ReadPositions } from './read-positions.js';
import { RecentMessages } from './recent-messages.js';
import { Store } from './store/store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Chats', () => {
  let dir: string;
  let store: Store;
  let chats: Chats;
  let creator: User;
  let member: User;
  const from = (user: User): ChatCaller => ({ user, address: '127.0.0.1' });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chorus-chats-'));
    store = await Store.open({ engine: 'sqlite', file: join(dir, 'chats.sqlite3') });
    chats = new Chats({
      store,
      multicast: new MulticastAllocator(defaultServerConfig().multicast),
      membership: new MembershipCache(store),
      keys: new ChatKeys(store),
      recent: new RecentMessages(),
      reads: new ReadPositions({ store: store.reads, logger: console }),
      presence: new Presence({ take: () => 0, announce: () => {} }),
    });
    creator = toUser(await store.users.insert({ name: 'Cleo', email: 'cleo@x.io', passwordHash: 'h', createdAt: 1 }));
    member = toUser(await store.users.insert({ name: 'Milo', email: 'milo@x.io', passwordHash: 'h', createdAt: 1 }));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never lets a join that checked for a ban before a removal add the removed user back', async () => {
    const { code } = await chats.create(creator, { name: 'Race' });
    await chats.join(from(member), code);
    // Hold a join between its ban check and its insert, for as long as it takes a removal that
    // is not kept out to record its ban (or 200 ms, when it is kept out, as it must be).
    const real = { isBanned: store.chats.isBanned.bind(store.chats), removeAndBan: store.chats.removeAndBan.bind(store.chats) };
    let banned!: () => void;
    const banRecorded = new Promise<void>((resolve) => (banned = resolve));
    store.chats.removeAndBan = async (...args) => {
      await real.removeAndBan(...args);
      banned();
    };
    store.chats.isBanned = async (...args) => {
      const answer = await real.isBanned(...args);
      await Promise.race([banRecorded, sleep(200)]);
      return answer;
    };
    const [joined, removed] = await Promise.allSettled([chats.join(from(member), code), sleep(10).then(() => chats.remove(from(creator), code, member.id))]);
    expect(removed.status).toBe('fulfilled');
    expect(joined.status).toBe('fulfilled');
    expect(await store.chats.isMember(code.replace('-', ''), member.id)).toBe(false);
    expect(await real.isBanned(code.replace('-', ''), member.id)).toBe(true);
    await expect(chats.join(from(member), code)).rejects.toMatchObject({ code: 'BANNED' });
  });
});

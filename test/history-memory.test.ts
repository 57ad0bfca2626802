import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/server/store/store.js';
import { connectedSender } from './support/messaging.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Repair pages (`after=SEQ`) inside the recent window are answered from memory: the same pages
 * the store gives, behind the same membership check.
 */

type Account = Awaited<ReturnType<typeof signUp>>;
let server: TestServer;
let alice: Account, bob: Account, carol: Account;
let code: string;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol] = (await Promise.all(['Alice', 'Bob', 'Carol'].map((n) => signUp(server.httpUrl, n)))) as [Account, Account, Account];
  const call = http(server.httpUrl);
  code = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Repairs' } })).body.code;
  await call('POST', `/api/chats/${code}/members`, { token: bob.token });
  const sender = await connectedSender(server.httpUrl, alice.token);
  await Promise.all(Array.from({ length: 40 }, (_, i) => sender.send(code, `message ${i + 1} ✓ '; DROP TABLE messages; --`)));
  sender.close();
});
afterAll(async () => server?.dispose());

const page = (token: string, query: string) => http(server.httpUrl)('GET', `/api/chats/${code}/messages?${query}`, { token });

describe('history pages answered from memory', () => {
  it('are the pages the store gives, for every offset, with the latest seq', async () => {
    const fromStore = (await page(bob.token, 'before=41&limit=40')).body.messages;
    expect(fromStore.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const after of [0, 1, 17, 39, 40, 45]) {
      const answer = await page(bob.token, `after=${after}&limit=7`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ messages: fromStore.slice(after, after + 7), latestSeq: 40 });
    }
  });

  it('come from memory: rows removed from the database behind the server still come back', async () => {
    const store = await Store.open(server.database);
    try {
      await store.db.deleteFrom('messages').where('seq', '>', 30).execute();
    } finally {
      await store.close();
    }
    expect((await page(bob.token, 'before=41&limit=10')).body.messages.map((m: { seq: number }) => m.seq)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect((await page(bob.token, 'after=35&limit=10')).body.messages.map((m: { seq: number }) => m.seq)).toEqual([36, 37, 38, 39, 40]);
  });

  it('are refused to non-members and to anonymous callers, and to a member once they leave', async () => {
    expect((await page(carol.token, 'after=10&limit=5')).status).toBe(403);
    expect((await page(carol.token, 'after=10&limit=5')).body.code).toBe('NOT_A_MEMBER');
    expect((await http(server.httpUrl)('GET', `/api/chats/${code}/messages?after=10`)).status).toBe(401);
    expect((await http(server.httpUrl)('DELETE', `/api/chats/${code}/members/me`, { token: bob.token })).status).toBe(204);
    expect((await page(bob.token, 'after=10&limit=5')).status).toBe(403);
  });

  it('say CHAT_NOT_FOUND for a code that does not exist', async () => {
    const answer = await http(server.httpUrl)('GET', '/api/chats/ZZZZZ-ZZZZZ/messages?after=0', { token: alice.token });
    expect(answer.status).toBe(404);
    expect(answer.body.code).toBe('CHAT_NOT_FOUND');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Removal by a chat's creator is a ban: the removed user may not join again with the code they
 * still know, until the creator lifts it. Leaving by oneself is not a ban.
 */

type Account = Awaited<ReturnType<typeof signUp>>;

let server: TestServer;
let call: ReturnType<typeof http>;
let creator: Account, member: Account, other: Account;

beforeAll(async () => {
  server = await startTestServer();
  call = http(server.httpUrl);
  [creator, member, other] = (await Promise.all(['Cleo', 'Milo', 'Olga'].map((n) => signUp(server.httpUrl, n)))) as [Account, Account, Account];
});
afterAll(async () => {
  await server?.dispose();
});

async function newChat(...members: Account[]): Promise<string> {
  const created = await call('POST', '/api/chats', { token: creator.token, json: { name: 'Bans' } });
  expect(created.status).toBe(201);
  for (const m of members) expect((await call('POST', `/api/chats/${created.body.code}/members`, { token: m.token })).status).toBe(200);
  return created.body.code;
}

const join = (code: string, who: Account) => call('POST', `/api/chats/${code}/members`, { token: who.token });
const remove = (code: string, who: Account, by = creator) => call('DELETE', `/api/chats/${code}/members/${who.user.id}`, { token: by.token });
const lift = (code: string, who: Account, by = creator) => call('DELETE', `/api/chats/${code}/bans/${who.user.id}`, { token: by.token });
const memberIds = async (code: string) =>
  (await call('GET', `/api/chats/${code}/members`, { token: creator.token })).body.members.map((m: { id: number }) => m.id);

describe('removal by the creator', () => {
  it('bans: the removed member cannot join again with the code (403 BANNED), and gets nothing', async () => {
    const code = await newChat(member);
    const before = (await call('GET', `/api/chats/${code}`, { token: creator.token })).body;
    expect((await remove(code, member)).status).toBe(204);
    const epoch = (await call('GET', `/api/chats/${code}`, { token: creator.token })).body.multicast.keyEpoch;
    expect(epoch).toBeGreaterThan(before.multicast.keyEpoch);

    for (const spelling of [code, code.replace('-', '').toLowerCase()]) {
      const again = await join(spelling, member);
      expect(again.status).toBe(403);
      expect(again.contentType).toMatch(/^application\/problem\+json/);
      expect(again.body).toMatchObject({ code: 'BANNED', title: 'You were removed from this chat by its creator' });
      // No chat, no key, no stream id in the refusal.
      expect(again.body.multicast).toBeUndefined();
      expect(JSON.stringify(again.body)).not.toContain(before.multicast.streamId);
    }
    expect(await memberIds(code)).toEqual([creator.user.id]);
    expect((await call('GET', `/api/chats/${code}`, { token: member.token })).body.code).toBe('BANNED');
    expect((await call('GET', '/api/chats', { token: member.token })).body.chats.map((c: { code: string }) => c.code)).not.toContain(code);
    // Refused joins change nothing: no new epoch, no member.
    expect((await call('GET', `/api/chats/${code}`, { token: creator.token })).body).toMatchObject({ memberCount: 1, multicast: { keyEpoch: epoch } });
  });

  it('bans only the one removed, only from that chat', async () => {
    const code = await newChat(member, other);
    const elsewhere = await newChat(member);
    expect((await remove(code, member)).status).toBe(204);
    expect((await join(code, member)).body.code).toBe('BANNED');
    // Still in the other chat, and free to join a third.
    expect((await call('GET', `/api/chats/${elsewhere}`, { token: member.token })).status).toBe(200);
    expect((await join(await newChat(), member)).status).toBe(200);
    // Others leave and come back as they like.
    expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: other.token })).status).toBe(204);
    expect((await join(code, other)).status).toBe(200);
  });

  it('holds across a restart of the server', async () => {
    const dir = server.dataDir;
    const code = await newChat(member);
    expect((await remove(code, member)).status).toBe(204);
    await server.close();
    server = await startTestServer({}, dir);
    call = http(server.httpUrl);
    expect((await join(code, member)).body.code).toBe('BANNED');
  });
});

describe('leaving', () => {
  it('is not a ban, whether by members/me or by one’s own id: who left may join again', async () => {
    const code = await newChat(member, other);
    expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: member.token })).status).toBe(204);
    expect((await join(code, member)).status).toBe(200);
    expect((await call('DELETE', `/api/chats/${code}/members/${other.user.id}`, { token: other.token })).status).toBe(204);
    expect((await join(code, other)).status).toBe(200);
    expect((await memberIds(code)).sort()).toEqual([creator.user.id, member.user.id, other.user.id].sort());
  });
});

describe('lifting a ban', () => {
  it("is the creator's alone; then the user may join again, and a new removal bans again", async () => {
    const code = await newChat(member, other);
    expect((await remove(code, member)).status).toBe(204);
    // Not by another member, not by the banned user, not without a session.
    expect(await lift(code, member, other)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await lift(code, member, member)).toMatchObject({ status: 403, body: { code: 'BANNED' } });
    expect((await call('DELETE', `/api/chats/${code}/bans/${member.user.id}`)).status).toBe(401);
    expect((await join(code, member)).body.code).toBe('BANNED');

    expect((await lift(code, member)).status).toBe(204);
    // Lifting does not add them back: they join themselves, if they want to.
    expect(await memberIds(code)).not.toContain(member.user.id);
    expect((await join(code, member)).status).toBe(200);
    expect(await memberIds(code)).toContain(member.user.id);

    expect((await remove(code, member)).status).toBe(204);
    expect((await join(code, member)).body.code).toBe('BANNED');
  });

  it('is 404 NOT_FOUND for someone who is not banned, and for a chat that does not exist', async () => {
    const code = await newChat(member);
    expect(await lift(code, member)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await lift(code, other)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await lift('ZZZZZ-ZZZZZ', member)).toMatchObject({ status: 404, body: { code: 'CHAT_NOT_FOUND' } });
    expect((await call('DELETE', `/api/chats/${code}/bans/abc`, { token: creator.token })).body).toMatchObject({ code: 'INVALID_FIELD' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/server/store/store.js';
import { normalizeChatCode } from '../src/protocol/chat-code.js';
import { DEFAULT_THROTTLE } from '../src/server/login-throttle.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let call: ReturnType<typeof http>;

beforeAll(async () => {
  // A first wait long enough that the right password is surely refused within it, on any machine.
  server = await startTestServer({ loginThrottle: { ...DEFAULT_THROTTLE, freeFailuresPerAddress: 3, firstDelaySeconds: 30, maxAddressDelaySeconds: 60 } });
  call = http(server.httpUrl);
});
afterAll(async () => server.dispose());

function expectProblem(result: { status: number; contentType: string | null; body: any }, status: number, code: string) {
  expect(result.status).toBe(status);
  expect(result.contentType).toMatch(/^application\/problem\+json/);
  expect(result.body).toMatchObject({ status, code, type: `urn:chorus:error:${code}` });
  expect(typeof result.body.detail).toBe('string');
}

describe('accounts', () => {
  it('registers a user, trimming and lower-casing the email, and never returns the password', async () => {
    const r = await call('POST', '/api/users', { json: { name: ' Ada ', email: '  Ada@Example.TEST ', password: 'long enough pw' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Ada', email: 'ada@example.test' });
    expect(typeof r.body.id).toBe('number');
    expect(JSON.stringify(r.body)).not.toContain('long enough pw');
    expect(r.body).not.toHaveProperty('password_hash');
  });

  it('refuses a duplicate email with 409', async () => {
    const r = await call('POST', '/api/users', { json: { name: 'Ada 2', email: 'ADA@example.test', password: 'long enough pw' } });
    expectProblem(r, 409, 'EMAIL_TAKEN');
    expect(r.body.field).toBe('email');
  });

  it.each([
    [{ name: '', email: 'a1@example.test', password: 'long enough pw' }, 'name'],
    [{ name: 'x'.repeat(65), email: 'a2@example.test', password: 'long enough pw' }, 'name'],
    [{ name: 'bell\u0007', email: 'a3@example.test', password: 'long enough pw' }, 'name'],
    [{ name: 'Ok', email: 'not-an-email', password: 'long enough pw' }, 'email'],
    [{ name: 'Ok', email: 'a4@example.test', password: 'short' }, 'password'],
    [{ name: 'Ok', email: 'a5@example.test', password: 'p'.repeat(1025) }, 'password'],
    [{ name: 'Ok', email: 'a6@example.test' }, 'password'],
    [{ name: 42, email: 'a7@example.test', password: 'long enough pw' }, 'name'],
  ])('refuses invalid registration %j naming the field', async (json, field) => {
    const r = await call('POST', '/api/users', { json });
    expectProblem(r, 400, 'INVALID_FIELD');
    expect(r.body.field).toBe(field);
  });

  it('logs in, answers /api/me, and refuses the token after logout', async () => {
    const { token, user } = await signUp(server.httpUrl, 'Grace');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits, base64url
    const me = await call('GET', '/api/me', { token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual(user);
    expect((await call('DELETE', '/api/sessions/current', { token })).status).toBe(204);
    expectProblem(await call('GET', '/api/me', { token }), 401, 'UNAUTHENTICATED');
    expectProblem(await call('DELETE', '/api/sessions/current', { token }), 401, 'UNAUTHENTICATED');
  });

  it('gives the same answer for a wrong password and an unknown email', async () => {
    await signUp(server.httpUrl, 'Hopper');
    const wrong = await call('POST', '/api/sessions', { json: { email: 'hopper@example.test', password: 'not the password' } });
    const unknown = await call('POST', '/api/sessions', { json: { email: 'nobody@example.test', password: 'not the password' } });
    expectProblem(wrong, 401, 'WRONG_CREDENTIALS');
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.body).toEqual(wrong.body);
  });

  it('throttles repeated failures for an account with 429 and Retry-After, even for the right password', async () => {
    const { email, password } = await signUp(server.httpUrl, 'Lovelace');
    for (let i = 0; i < 3; i++) {
      expectProblem(await call('POST', '/api/sessions', { json: { email, password: `guess ${i}` } }), 401, 'WRONG_CREDENTIALS');
    }
    const limited = await call('POST', '/api/sessions', { json: { email, password } });
    expectProblem(limited, 429, 'TOO_MANY_REQUESTS');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('refuses missing, malformed and made-up tokens', async () => {
    expectProblem(await call('GET', '/api/me'), 401, 'UNAUTHENTICATED');
    expectProblem(await call('GET', '/api/me', { headers: { authorization: 'Basic abc' } }), 401, 'UNAUTHENTICATED');
    expectProblem(await call('GET', '/api/me', { token: 'A'.repeat(43) }), 401, 'UNAUTHENTICATED');
  });
});

describe('chats', () => {
  let alice: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;
  let carol: Awaited<ReturnType<typeof signUp>>;
  let code: string;

  beforeAll(async () => {
    alice = await signUp(server.httpUrl, 'Alice');
    bob = await signUp(server.httpUrl, 'Bob');
    carol = await signUp(server.httpUrl, 'Carol');
  });

  it('creates a chat with a readable random code; the creator is a member', async () => {
    const r = await call('POST', '/api/chats', { token: alice.token, json: { name: 'Team' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Team', createdBy: alice.user.id, latestSeq: 0, memberCount: 1 });
    expect(r.body.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    code = r.body.code;
    const other = await call('POST', '/api/chats', { token: alice.token, json: { name: 'Team' } });
    expect(other.body.code).not.toBe(code);
  });

  it('refuses bad chat names and anonymous creation', async () => {
    expectProblem(await call('POST', '/api/chats', { token: alice.token, json: { name: '   ' } }), 400, 'INVALID_FIELD');
    expectProblem(await call('POST', '/api/chats', { token: alice.token, json: { name: 'n'.repeat(101) } }), 400, 'INVALID_FIELD');
    expectProblem(await call('POST', '/api/chats', { json: { name: 'x' } }), 401, 'UNAUTHENTICATED');
  });

  it('keeps a non-member out of info, members and history (403)', async () => {
    expectProblem(await call('GET', `/api/chats/${code}`, { token: bob.token }), 403, 'NOT_A_MEMBER');
    expectProblem(await call('GET', `/api/chats/${code}/members`, { token: bob.token }), 403, 'NOT_A_MEMBER');
    expectProblem(await call('GET', `/api/chats/${code}/messages`, { token: bob.token }), 403, 'NOT_A_MEMBER');
    expectProblem(await call('DELETE', `/api/chats/${code}/members/me`, { token: bob.token }), 403, 'NOT_A_MEMBER');
    expect((await call('GET', '/api/chats', { token: bob.token })).body.chats).toEqual([]);
  });

  it('joins by code with or without the dash and in any case; joining twice is harmless', async () => {
    const sloppy = code.replace('-', '').toLowerCase();
    const joined = await call('POST', `/api/chats/${sloppy}/members`, { token: bob.token });
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ code, memberCount: 2 });
    const again = await call('POST', `/api/chats/${code}/members`, { token: bob.token });
    expect(again.body.memberCount).toBe(2);
    const members = await call('GET', `/api/chats/${code}/members`, { token: bob.token });
    expect(members.body.members.map((m: { name: string }) => m.name)).toEqual(['Alice', 'Bob']);
    expect((await call('GET', `/api/chats/${code}`, { token: bob.token })).body.name).toBe('Team');
    const mine = await call('GET', '/api/chats', { token: bob.token });
    expect(mine.body.chats).toEqual([expect.objectContaining({ code, latestSeq: 0, memberCount: 2 })]);
  });

  it('says clearly that an unknown code does not exist (404)', async () => {
    const r = await call('POST', '/api/chats/ZZZZZ-ZZZZZ/members', { token: carol.token });
    expectProblem(r, 404, 'CHAT_NOT_FOUND');
    expect(r.body.detail).toContain('ZZZZZ-ZZZZZ');
    expectProblem(await call('POST', '/api/chats/not-a-code/members', { token: carol.token }), 404, 'CHAT_NOT_FOUND');
    expectProblem(await call('GET', '/api/chats/ZZZZZZZZZZ', { token: carol.token }), 404, 'CHAT_NOT_FOUND');
  });

  it('lets a member leave, after which the chat is closed to them', async () => {
    await call('POST', `/api/chats/${code}/members`, { token: carol.token });
    expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: carol.token })).status).toBe(204);
    expectProblem(await call('GET', `/api/chats/${code}/messages`, { token: carol.token }), 403, 'NOT_A_MEMBER');
    expect((await call('GET', `/api/chats/${code}`, { token: alice.token })).body.memberCount).toBe(2);
  });

  it('serves history pages to members, ascending, after/before/latest', async () => {
    // Messages arrive over TCP (next layer); here they are committed through the store's log,
    // the same path the sequencer takes, on a second connection to the server's database.
    const store = await Store.open(server.database);
    const chatCode = normalizeChatCode(code)!;
    const texts = ["Robert'); DROP TABLE messages;--", 'ñandú 🦤 日本語', '<b>bold</b>', 'a\nb', ...Array.from({ length: 8 }, (_, i) => `m${i}`)];
    await store.log.append(texts.map((text, i) => ({ chatCode, senderId: i % 2 ? bob.user.id : alice.user.id, clientMsgId: `c${i}`, text, sentAt: Date.UTC(2026, 0, 1, 0, i) })));
    await store.close();

    const all = await call('GET', `/api/chats/${code}/messages?after=0&limit=100`, { token: bob.token });
    expect(all.status).toBe(200);
    expect(all.body.latestSeq).toBe(12);
    expect(all.body.messages.map((m: { text: string }) => m.text)).toEqual(texts);
    expect(all.body.messages[1]).toEqual({
      chat: code,
      seq: 2,
      sender: { id: bob.user.id, name: 'Bob' },
      text: 'ñandú 🦤 日本語',
      sentAt: '2026-01-01T00:01:00.000Z',
      clientMsgId: 'c1',
    });
    const seqs = (r: { body: { messages: { seq: number }[] } }) => r.body.messages.map((m) => m.seq);
    expect(seqs(await call('GET', `/api/chats/${code}/messages?after=3&limit=2`, { token: bob.token }))).toEqual([4, 5]);
    expect(seqs(await call('GET', `/api/chats/${code}/messages?before=4&limit=2`, { token: bob.token }))).toEqual([2, 3]);
    expect(seqs(await call('GET', `/api/chats/${code}/messages?limit=3`, { token: bob.token }))).toEqual([10, 11, 12]);
    expect((await call('GET', '/api/chats', { token: alice.token })).body.chats[0].latestSeq).toBe(12);
    expectProblem(await call('GET', `/api/chats/${code}/messages?limit=0`, { token: bob.token }), 400, 'INVALID_FIELD');
    expectProblem(await call('GET', `/api/chats/${code}/messages?limit=501`, { token: bob.token }), 400, 'INVALID_FIELD');
    expectProblem(await call('GET', `/api/chats/${code}/messages?after=abc`, { token: bob.token }), 400, 'INVALID_FIELD');
    expectProblem(await call('GET', `/api/chats/${code}/messages?after=1&before=5`, { token: bob.token }), 400, 'INVALID_FIELD');
  });
});

describe('hostile and odd input', () => {
  it('answers bad JSON with 400, never 500', async () => {
    for (const raw of ['{', '{"name":', 'null', '[]', '"str"', '\u0000']) {
      const r = await call('POST', '/api/users', { raw });
      expect(r.status).toBe(400);
      expect(r.contentType).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses bodies over 64 KiB with 413', async () => {
    const r = await call('POST', '/api/users', { json: { name: 'x', email: 'big@example.test', password: 'p'.repeat(70 * 1024) } });
    expectProblem(r, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses a body that is not JSON with 415', async () => {
    const r = await call('POST', '/api/users', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectProblem(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('stores SQL-injection-shaped and non-ASCII names byte for byte', async () => {
    // Right-to-left script is fine; a bidi override character is not (test/account-input.test.ts).
    const name = "Zoë'; DROP TABLE users; -- 😀 שלום";
    const chatName = `" OR 1=1 -- 中文 <script>alert(1)</script>`;
    const { token } = await signUp(server.httpUrl, name, 'weird@example.test');
    expect((await call('GET', '/api/me', { token })).body.name).toBe(name);
    const chat = await call('POST', '/api/chats', { token, json: { name: chatName } });
    expect(chat.body.name).toBe(chatName);
    expect((await call('GET', `/api/chats/${chat.body.code}`, { token })).body.name).toBe(chatName);
    const members = await call('GET', `/api/chats/${chat.body.code}/members`, { token });
    expect(members.body.members[0].name).toBe(name);
  });

  it('answers unknown routes with a problem document', async () => {
    expectProblem(await call('GET', '/api/nothing-here'), 404, 'NOT_FOUND');
  });
});

describe('service endpoints', () => {
  it('reports health', async () => {
    expect(await call('GET', '/api/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('serves an OpenAPI document describing every endpoint', async () => {
    const r = await call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/users',
        '/api/sessions',
        '/api/sessions/current',
        '/api/me',
        '/api/chats',
        '/api/chats/{code}',
        '/api/chats/{code}/members',
        '/api/chats/{code}/members/me',
        '/api/chats/{code}/messages',
        '/api/health',
      ]),
    );
  });
});

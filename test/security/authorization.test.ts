import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import type { Frame } from '../../src/protocol/frames.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { rawFrameClient } from '../support/raw-tcp.js';
import { http, signUp, startTestServer, type HttpResult, type TestServer } from '../support/server.js';

/**
 * The authorization matrix: every HTTP endpoint and every TCP frame a client can send, asked
 * by each kind of caller, each answer checked. One test per cell, so that a failure names it.
 *
 * Callers: anonymous (no token, or a made-up one), a logged-in non-member of the chat, a member,
 * and a former member (joined, then left). Each chat cell runs against a fresh chat created by
 * Carl (its creator), with Mia and Tess members, Fay a former member; Nora never joined.
 */

type Who = 'anonymous' | 'non-member' | 'member' | 'former member';
const CALLERS: Who[] = ['anonymous', 'non-member', 'member', 'former member'];
type Account = Awaited<ReturnType<typeof signUp>>;

let server: TestServer;
let call: ReturnType<typeof http>;
let carl: Account, mia: Account, tess: Account, fay: Account, nora: Account;

beforeAll(async () => {
  // Carl creates a chat for every cell: more than the 100 one person may by default.
  server = await startTestServer({ limits: { ...defaultServerConfig().limits, chatsPerUser: 1000 } });
  call = http(server.httpUrl);
  [carl, mia, tess, fay, nora] = (await Promise.all(['Carl', 'Mia', 'Tess', 'Fay', 'Nora'].map((n) => signUp(server.httpUrl, n)))) as Account[] as [
    Account,
    Account,
    Account,
    Account,
    Account,
  ];
});
afterAll(async () => {
  await server?.dispose();
});

const account = (who: Who): Account | undefined => ({ anonymous: undefined, 'non-member': nora, member: mia, 'former member': fay })[who];
const token = (who: Who) => account(who)?.token;

/** A chat as the cells find it: Carl created it, Mia and Tess are in, Fay has left, Nora never came. */
async function freshChat(): Promise<string> {
  const created = await call('POST', '/api/chats', { token: carl.token, json: { name: 'Matrix' } });
  expect(created.status).toBe(201);
  const code: string = created.body.code;
  for (const member of [mia, tess, fay]) expect((await call('POST', `/api/chats/${code}/members`, { token: member.token })).status).toBe(200);
  expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: fay.token })).status).toBe(204);
  return code;
}

/** Expected answer: a status, a problem code for errors, and what else must hold. */
interface Expected {
  status: number;
  code?: string;
  check?: (r: HttpResult, ctx: { code: string; who: Who }) => Promise<void> | void;
}

interface HttpRow {
  endpoint: string;
  /** Whether the cell needs a fresh chat (`{code}` routes); `missing` asks about a chat that does not exist. */
  chat?: 'fresh' | 'missing';
  send(ctx: { code: string; who: Who }): Promise<HttpResult>;
  expect: Record<Who, Expected>;
}

const unauthenticated: Expected = { status: 401, code: 'UNAUTHENTICATED' };
const notAMember: Expected = { status: 403, code: 'NOT_A_MEMBER' };
const chatNotFound: Expected = { status: 404, code: 'CHAT_NOT_FOUND' };
const everyone = <E>(e: E): Record<Who, E> => ({ anonymous: e, 'non-member': e, member: e, 'former member': e });
const loggedIn = (e: Expected): Record<Who, Expected> => ({ anonymous: unauthenticated, 'non-member': e, member: e, 'former member': e });

/** Whether a user is in the chat's member list, as its creator sees it. */
async function listed(code: string, userId: number): Promise<boolean> {
  const list = await call('GET', `/api/chats/${code}/members`, { token: carl.token });
  return list.body.members.some((m: { id: number }) => m.id === userId);
}
const isListedMember = (code: string, who: Who) => listed(code, account(who)!.user.id);

const ok = (status: number, check?: Expected['check']): Expected => ({ status, check });

/** The chat's stream id, as its creator is told it. */
async function streamIdOf(code: string): Promise<string> {
  const r = await call('GET', `/api/chats/${code}`, { token: carl.token });
  expect(r.body.multicast.streamId).toMatch(/^[0-9a-f]{20}$/);
  return r.body.multicast.streamId;
}
/** A refusal that gives away nothing of the chat's multicast: no key, no stream id. */
const withoutStreamId: Expected['check'] = async (r, { code }) => {
  expect(r.body.multicast).toBeUndefined();
  expect(JSON.stringify(r.body)).not.toContain(await streamIdOf(code));
};

let emails = 0;
const HTTP_ROWS: HttpRow[] = [
  {
    endpoint: 'POST /api/users',
    send: ({ who }) => call('POST', '/api/users', { token: token(who), json: { name: 'New', email: `new${emails++}@example.test`, password: 'a long enough password' } }),
    expect: everyone(ok(201)),
  },
  {
    endpoint: 'POST /api/sessions',
    send: ({ who }) => {
      const a = account(who);
      return call('POST', '/api/sessions', { json: a ? { email: a.email, password: a.password } : { email: 'nobody@example.test', password: 'guessing at random' } });
    },
    expect: { anonymous: { status: 401, code: 'WRONG_CREDENTIALS' }, ...loggedInOnly(ok(201, (r, { who }) => expect(r.body.user.id).toBe(account(who)!.user.id))) },
  },
  {
    endpoint: 'DELETE /api/sessions/current',
    // A session of its own, so that logging out does not end the caller's other cells.
    send: async ({ who }) => {
      const a = account(who);
      const session = a ? (await call('POST', '/api/sessions', { json: { email: a.email, password: a.password } })).body.token : 'not-a-real-token-0000000000000000000000000';
      const r = await call('DELETE', '/api/sessions/current', { token: session });
      // Revoked: the same token no longer works.
      if (r.status === 204) expect((await call('GET', '/api/me', { token: session })).status).toBe(401);
      return r;
    },
    expect: loggedIn(ok(204)),
  },
  { endpoint: 'GET /api/me', send: ({ who }) => call('GET', '/api/me', { token: token(who) }), expect: loggedIn(ok(200, (r, { who }) => expect(r.body.id).toBe(account(who)!.user.id))) },
  {
    endpoint: 'POST /api/chats',
    send: ({ who }) => call('POST', '/api/chats', { token: token(who), json: { name: `${who}'s chat` } }),
    expect: loggedIn(ok(201, (r, { who }) => expect(r.body.createdBy).toBe(account(who)!.user.id))),
  },
  {
    endpoint: 'GET /api/chats',
    chat: 'fresh',
    send: ({ who }) => call('GET', '/api/chats', { token: token(who) }),
    expect: {
      anonymous: unauthenticated,
      'non-member': ok(200, (r, { code }) => expect(r.body.chats.map((c: { code: string }) => c.code)).not.toContain(code)),
      member: ok(200, (r, { code }) => expect(r.body.chats.map((c: { code: string }) => c.code)).toContain(code)),
      'former member': ok(200, (r, { code }) => expect(r.body.chats.map((c: { code: string }) => c.code)).not.toContain(code)),
    },
  },
  {
    endpoint: 'GET /api/chats/{code}',
    chat: 'fresh',
    send: ({ code, who }) => call('GET', `/api/chats/${code}`, { token: token(who) }),
    // Members get the key and the stream id that names the chat in datagram headers; nobody else sees either.
    expect: {
      anonymous: { ...unauthenticated, check: withoutStreamId },
      'non-member': { ...notAMember, check: withoutStreamId },
      member: ok(200, async (r, { code }) => {
        expect(r.body).toMatchObject({ code, multicast: { key: expect.any(String), streamId: expect.stringMatching(/^[0-9a-f]{20}$/) } });
        expect(r.body.multicast.streamId).toBe(await streamIdOf(code));
      }),
      'former member': { ...notAMember, check: withoutStreamId },
    },
  },
  {
    endpoint: 'POST /api/chats/{code}/members',
    chat: 'fresh',
    send: ({ code, who }) => call('POST', `/api/chats/${code}/members`, { token: token(who) }),
    // Knowing the code is what lets someone join: anyone logged in may, and a former member who
    // left may come back (leaving is not a ban; removal by the creator is: see its cells below).
    expect: loggedIn(ok(200, async (r, { code, who }) => expect(await isListedMember(code, who)).toBe(true))),
  },
  {
    endpoint: 'DELETE /api/chats/{code}/members/me',
    chat: 'fresh',
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/members/me`, { token: token(who) }),
    expect: { anonymous: unauthenticated, 'non-member': notAMember, member: ok(204, async (_r, { code, who }) => expect(await isListedMember(code, who)).toBe(false)), 'former member': notAMember },
  },
  {
    endpoint: 'DELETE /api/chats/{code}/members/{userId} (another member)',
    chat: 'fresh',
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/members/${tess.user.id}`, { token: token(who) }),
    // Only the creator may remove others (see the creator's cells below).
    expect: {
      anonymous: unauthenticated,
      'non-member': notAMember,
      member: { status: 403, code: 'FORBIDDEN', check: async (_r, { code }) => expect(await listed(code, tess.user.id)).toBe(true) },
      'former member': notAMember,
    },
  },
  {
    endpoint: 'DELETE /api/chats/{code}/members/{userId} (oneself)',
    chat: 'fresh',
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/members/${account(who)?.user.id ?? tess.user.id}`, { token: token(who) }),
    expect: { anonymous: unauthenticated, 'non-member': notAMember, member: ok(204, async (_r, { code, who }) => expect(await isListedMember(code, who)).toBe(false)), 'former member': notAMember },
  },
  {
    endpoint: 'DELETE /api/chats/{code}/bans/{userId}',
    chat: 'fresh',
    // Only the creator may lift a ban (see the creator's cells below); Fay left, nobody banned her.
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/bans/${fay.user.id}`, { token: token(who) }),
    expect: { anonymous: unauthenticated, 'non-member': notAMember, member: { status: 403, code: 'FORBIDDEN' }, 'former member': notAMember },
  },
  {
    endpoint: 'DELETE /api/chats/{code}/bans/{userId} (no such chat)',
    chat: 'missing',
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/bans/${tess.user.id}`, { token: token(who) }),
    expect: loggedIn(chatNotFound),
  },
  {
    endpoint: 'GET /api/chats/{code}/members',
    chat: 'fresh',
    send: ({ code, who }) => call('GET', `/api/chats/${code}/members`, { token: token(who) }),
    expect: {
      anonymous: unauthenticated,
      'non-member': notAMember,
      member: ok(200, (r) => expect(r.body.members.map((m: { id: number }) => m.id).sort()).toEqual([carl.user.id, mia.user.id, tess.user.id].sort())),
      'former member': notAMember,
    },
  },
  {
    endpoint: 'GET /api/chats/{code}/messages',
    chat: 'fresh',
    send: ({ code, who }) => call('GET', `/api/chats/${code}/messages?after=0`, { token: token(who) }),
    expect: { anonymous: unauthenticated, 'non-member': notAMember, member: ok(200, (r) => expect(r.body).toMatchObject({ messages: [], latestSeq: 0 })), 'former member': notAMember },
  },
  {
    endpoint: 'PUT /api/chats/{code}/read',
    chat: 'fresh',
    send: ({ code, who }) => call('PUT', `/api/chats/${code}/read`, { token: token(who), json: { seq: 0 } }),
    // Behind the same check as history: only a member has a read position to set.
    expect: { anonymous: unauthenticated, 'non-member': notAMember, member: ok(200, (r, { code }) => expect(r.body).toEqual({ chat: code, seq: 0 })), 'former member': notAMember },
  },
  {
    endpoint: 'PUT /api/chats/{code}/read (no such chat)',
    chat: 'missing',
    send: ({ code, who }) => call('PUT', `/api/chats/${code}/read`, { token: token(who), json: { seq: 0 } }),
    expect: loggedIn(chatNotFound),
  },
  { endpoint: 'GET /api/me/settings', send: ({ who }) => call('GET', '/api/me/settings', { token: token(who) }), expect: loggedIn(ok(200, (r) => expect(r.body).toEqual({ receipts: true }))) },
  {
    endpoint: 'PUT /api/me/settings',
    // Receipts stay on (the default), so the other cells see the same settings.
    send: ({ who }) => call('PUT', '/api/me/settings', { token: token(who), json: { receipts: true } }),
    expect: loggedIn(ok(200, (r) => expect(r.body).toEqual({ receipts: true }))),
  },
  ...['GET /api/chats/{code}', 'POST /api/chats/{code}/members', 'DELETE /api/chats/{code}/members/me', 'GET /api/chats/{code}/members', 'GET /api/chats/{code}/messages'].map(
    (endpoint): HttpRow => {
      const [method, path] = endpoint.split(' ') as [string, string];
      return { endpoint: `${endpoint} (no such chat)`, chat: 'missing', send: ({ code, who }) => call(method, path.replace('{code}', code), { token: token(who) }), expect: loggedIn(chatNotFound) };
    },
  ),
  {
    endpoint: 'DELETE /api/chats/{code}/members/{userId} (no such chat)',
    chat: 'missing',
    send: ({ code, who }) => call('DELETE', `/api/chats/${code}/members/${tess.user.id}`, { token: token(who) }),
    expect: loggedIn(chatNotFound),
  },
  { endpoint: 'GET /api/server', send: ({ who }) => call('GET', '/api/server', { token: token(who) }), expect: everyone(ok(200, (r) => expect(r.body.tcpPort).toBe(server.tcpPort))) },
  { endpoint: 'GET /api/server-key', send: ({ who }) => call('GET', '/api/server-key', { token: token(who) }), expect: everyone(ok(200, (r) => expect(r.body.algorithm).toBe('Ed25519'))) },
  { endpoint: 'GET /api/health', send: ({ who }) => call('GET', '/api/health', { token: token(who) }), expect: everyone(ok(200)) },
  // Counts only, never a chat code or user id (test/metrics.test.ts), so anyone may scrape them.
  { endpoint: 'GET /api/metrics', send: ({ who }) => call('GET', '/api/metrics', { token: token(who) }), expect: everyone(ok(200, (r) => expect(r.body).toContain('chorus_messages_committed_total'))) },
  { endpoint: 'GET /api/openapi.json', send: ({ who }) => call('GET', '/api/openapi.json', { token: token(who) }), expect: everyone(ok(200, (r) => expect(r.body.openapi).toMatch(/^3\./))) },
];

function loggedInOnly(e: Expected): Omit<Record<Who, Expected>, 'anonymous'> {
  return { 'non-member': e, member: e, 'former member': e };
}

const HTTP_CELLS = HTTP_ROWS.flatMap((row) => CALLERS.map((who) => ({ row, who, expected: row.expect[who], name: `${row.endpoint} as ${who} → ${row.expect[who].status}${row.expect[who].code ? ` ${row.expect[who].code}` : ''}` })));

describe('HTTP authorization matrix', () => {
  it('covers every route the server has', async () => {
    const doc = (await call('GET', '/api/openapi.json')).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{userId\}/, '{userId}')}`),
    );
    const covered = new Set(HTTP_ROWS.map((r) => r.endpoint.split(' (')[0]));
    // The OpenAPI document itself is hidden from the document.
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(routes.filter((r) => !covered.has(r))).toEqual([]);
  });

  it.each(HTTP_CELLS.map((cell) => [cell.name, cell] as const))('%s', async (_name, { row, who, expected }) => {
    const code = row.chat === 'fresh' ? await freshChat() : 'ZZZZZ-ZZZZZ';
    const r = await row.send({ code, who });
    expect(r.status, JSON.stringify(r.body)).toBe(expected.status);
    if (expected.code) {
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(r.body.code).toBe(expected.code);
    }
    await expected.check?.(r, { code, who });
  });

  it.each(['Bearer made-up-token-that-is-43-characters-long-xx', 'Bearer ', 'Basic Y2FybDpwYXNzd29yZA==', `Bearer ${'A'.repeat(43)}`])('a made-up authorization (%s) is anonymous', async (authorization) => {
    const code = await freshChat();
    for (const [method, path] of [
      ['GET', '/api/me'],
      ['GET', '/api/chats'],
      ['GET', `/api/chats/${code}`],
      ['GET', `/api/chats/${code}/messages`],
      ['POST', `/api/chats/${code}/members`],
    ] as const) {
      const r = await call(method, path, { headers: { authorization } });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe("the chat's creator", () => {
  it('removes another member (204), who then is a former member (403 BANNED on the chat and its history, saying so) and may not join again (403 BANNED)', async () => {
    const code = await freshChat();
    expect((await call('DELETE', `/api/chats/${code}/members/${tess.user.id}`, { token: carl.token })).status).toBe(204);
    for (const path of [`/api/chats/${code}`, `/api/chats/${code}/messages`]) {
      expect(await call('GET', path, { token: tess.token })).toMatchObject({ status: 403, body: { code: 'BANNED', detail: `You were removed from chat ${code} by its creator, and may not join it again` } });
    }
    expect(await call('POST', `/api/chats/${code}/members`, { token: tess.token })).toMatchObject({ status: 403, body: { code: 'BANNED' } });
    expect(await listed(code, tess.user.id)).toBe(false);
  });

  it('lifts a ban (204), after which the user removed may join again; lifting one there is not is 404 NOT_FOUND', async () => {
    const code = await freshChat();
    expect((await call('DELETE', `/api/chats/${code}/members/${tess.user.id}`, { token: carl.token })).status).toBe(204);
    expect((await call('DELETE', `/api/chats/${code}/bans/${tess.user.id}`, { token: carl.token })).status).toBe(204);
    expect((await call('POST', `/api/chats/${code}/members`, { token: tess.token })).status).toBe(200);
    expect(await call('DELETE', `/api/chats/${code}/bans/${tess.user.id}`, { token: carl.token })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('cannot remove someone who is not a member (404 NOT_FOUND)', async () => {
    const code = await freshChat();
    const r = await call('DELETE', `/api/chats/${code}/members/${nora.user.id}`, { token: carl.token });
    expect(r).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});

// ---- TCP ----

type Client = Awaited<ReturnType<typeof rawFrameClient>>;

/** A connection as `who`: anonymous says no hello; the others are welcomed first. */
async function connectAs(who: Who): Promise<Client> {
  const c = await rawFrameClient(server.tcpPort);
  if (who !== 'anonymous') {
    c.send({ t: 'hello', v: PROTOCOL_VERSION, token: token(who)! });
    expect(await c.next('welcome')).toMatchObject({ userId: account(who)!.user.id });
  }
  return c;
}

/** Waits a little to see that nothing (more) comes, then returns the frames after the welcome. */
async function answersAfterWelcome(c: Client, settleMs = 150): Promise<Frame[]> {
  await new Promise((r) => setTimeout(r, settleMs));
  return c.frames.filter((f) => f.t !== 'welcome');
}

interface TcpExpected {
  /** The frames answered, by type and code. */
  answer: (string | { t: 'error'; code: string; id?: string } | { t: 'ack' } | { t: 'refusal'; about: string; code: string })[];
  closes: boolean;
}

const fatal = (code: string): TcpExpected => ({ answer: [{ t: 'error', code }], closes: true });
const now = new Date().toISOString();

interface TcpRow {
  frame: string;
  make(ctx: { code: string; who: Who }): Frame;
  expect: Record<Who, TcpExpected>;
}

const serverOnly = (t: string, make: TcpRow['make']): TcpRow => ({
  frame: `${t} (server → client only)`,
  make,
  expect: { anonymous: fatal('UNAUTHENTICATED'), 'non-member': fatal('BAD_REQUEST'), member: fatal('BAD_REQUEST'), 'former member': fatal('BAD_REQUEST') },
});

const TCP_ROWS: TcpRow[] = [
  {
    frame: 'hello',
    make: ({ who }) => ({ t: 'hello', v: PROTOCOL_VERSION, token: token(who) ?? 'made-up-token-000000000000000000000000000000' }),
    // Anonymous: its only hello is a made-up token. The others say hello a second time.
    expect: { anonymous: fatal('UNAUTHENTICATED'), 'non-member': fatal('BAD_REQUEST'), member: fatal('BAD_REQUEST'), 'former member': fatal('BAD_REQUEST') },
  },
  {
    frame: 'send',
    make: ({ code }) => ({ t: 'send', id: 'cell-1', chat: code, text: 'hello, matrix' }),
    expect: {
      anonymous: fatal('UNAUTHENTICATED'),
      'non-member': { answer: [{ t: 'error', code: 'NOT_A_MEMBER', id: 'cell-1' }], closes: false },
      member: { answer: [{ t: 'ack' }], closes: false },
      'former member': { answer: [{ t: 'error', code: 'NOT_A_MEMBER', id: 'cell-1' }], closes: false },
    },
  },
  {
    frame: 'probe',
    make: ({ code }) => ({ t: 'probe', chat: code, nonce: 'MDEyMzQ1Njc4OWFi' }),
    expect: {
      anonymous: fatal('UNAUTHENTICATED'),
      'non-member': { answer: [{ t: 'refusal', about: 'probe', code: 'NOT_A_MEMBER' }], closes: false },
      member: { answer: ['probed'], closes: false },
      'former member': { answer: [{ t: 'refusal', about: 'probe', code: 'NOT_A_MEMBER' }], closes: false },
    },
  },
  {
    frame: 'watch',
    make: ({ code }) => ({ t: 'watch', chat: code, after: 0 }),
    // A member is answered nothing yet: the chat has no messages to push.
    expect: {
      anonymous: fatal('UNAUTHENTICATED'),
      'non-member': { answer: [{ t: 'refusal', about: 'watch', code: 'NOT_A_MEMBER' }], closes: false },
      member: { answer: [], closes: false },
      'former member': { answer: [{ t: 'refusal', about: 'watch', code: 'NOT_A_MEMBER' }], closes: false },
    },
  },
  {
    frame: 'unwatch',
    make: ({ code }) => ({ t: 'unwatch', chat: code }),
    expect: { anonymous: fatal('UNAUTHENTICATED'), 'non-member': { answer: [], closes: false }, member: { answer: [], closes: false }, 'former member': { answer: [], closes: false } },
  },
  {
    frame: 'typing',
    make: ({ code }) => ({ t: 'typing', chat: code, on: true }),
    // A member's goes out to the chat (test/presence.test.ts) and is answered nothing.
    expect: {
      anonymous: fatal('UNAUTHENTICATED'),
      'non-member': { answer: [{ t: 'refusal', about: 'typing', code: 'NOT_A_MEMBER' }], closes: false },
      member: { answer: [], closes: false },
      'former member': { answer: [{ t: 'refusal', about: 'typing', code: 'NOT_A_MEMBER' }], closes: false },
    },
  },
  {
    frame: 'presence',
    make: () => ({ t: 'presence', state: 'away' }),
    // About the user, not a chat: any logged-in user may say it, and is answered nothing.
    expect: { anonymous: fatal('UNAUTHENTICATED'), 'non-member': { answer: [], closes: false }, member: { answer: [], closes: false }, 'former member': { answer: [], closes: false } },
  },
  serverOnly('events', ({ code }) => ({ t: 'events', chat: code, events: [{ kind: 'typing', userId: carl.user.id, name: 'Carl', on: true }] })),
  { frame: 'ping', make: () => ({ t: 'ping' }), expect: everyone<TcpExpected>({ answer: ['pong'], closes: false }) },
  { frame: 'pong', make: () => ({ t: 'pong' }), expect: everyone<TcpExpected>({ answer: [], closes: false }) },
  serverOnly('welcome', () => ({ t: 'welcome', v: PROTOCOL_VERSION, userId: carl.user.id })),
  serverOnly('ack', ({ code }) => ({ t: 'ack', id: 'x', chat: code, seq: 1, sentAt: now })),
  serverOnly('error', () => ({ t: 'error', code: 'INTERNAL', message: 'pretending to be the server' })),
  serverOnly('messages', ({ code }) => ({ t: 'messages', chat: code, messages: [{ seq: 1, sender: { id: carl.user.id, name: 'Carl' }, text: 'spoofed', sentAt: now, clientMsgId: 'spoof' }] })),
  serverOnly('probed', ({ code }) => ({ t: 'probed', chat: code, nonce: 'MDEyMzQ1Njc4OWFi', latestSeq: 1 })),
  serverOnly('refusal', ({ code }) => ({ t: 'refusal', about: 'watch', chat: code, code: 'INTERNAL', message: 'pretending to be the server' })),
];

const TCP_CELLS = TCP_ROWS.flatMap((row) =>
  CALLERS.map((who) => {
    const e = row.expect[who];
    const said = e.answer.map((a) => (typeof a === 'string' ? a : a.t === 'error' || a.t === 'refusal' ? `${a.t} ${a.code}` : a.t)).join(', ') || 'nothing';
    return { row, who, expected: e, name: `${row.frame} as ${who} → ${said}${e.closes ? ', closed' : ''}` };
  }),
);

describe('TCP authorization matrix', () => {
  it.each(TCP_CELLS.map((cell) => [cell.name, cell] as const))('%s', async (_name, { row, who, expected }) => {
    const code = await freshChat();
    const c = await connectAs(who);
    c.send(row.make({ code, who }));
    if (expected.closes) await c.closed;
    const answers = await answersAfterWelcome(c);
    expect(
      answers.map((f) => (f.t === 'error' ? { t: 'error', code: f.code, ...(f.id ? { id: f.id } : {}) } : f.t === 'ack' ? { t: 'ack' } : f.t === 'refusal' ? { t: 'refusal', about: f.about, code: f.code } : f.t)),
    ).toEqual(expected.answer);
    expect(c.isClosed).toBe(expected.closes);
    if (!expected.closes) {
      // Still usable: a ping is answered.
      c.send({ t: 'ping' });
      await c.next('pong', answers.filter((f) => f.t === 'pong').length);
    }
    // Only a member's send is stored.
    const stored = (await call('GET', `/api/chats/${code}/messages?after=0`, { token: carl.token })).body.messages;
    expect(stored.map((m: { text: string; sender: { id: number } }) => [m.sender.id, m.text])).toEqual(who === 'member' && row.frame === 'send' ? [[mia.user.id, 'hello, matrix']] : []);
    c.socket.destroy();
  });

  it('a member who leaves while connected is refused on the connection already open', async () => {
    const code = await freshChat();
    const c = await connectAs('member');
    c.send({ t: 'send', id: 'before', chat: code, text: 'still in' });
    await c.next('ack');
    expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: mia.token })).status).toBe(204);
    c.send({ t: 'send', id: 'after', chat: code, text: 'gone' });
    expect(await c.next('error')).toMatchObject({ id: 'after', code: 'NOT_A_MEMBER' });
    c.socket.destroy();
  });

  it('the sender of a stored message is the authenticated user, whatever the frame says', async () => {
    const code = await freshChat();
    const c = await connectAs('member');
    // Fields a client might add to pose as someone else are not part of a send frame.
    c.socket.write(frameWithExtraFields({ t: 'send', id: 'pose', chat: code, text: 'I am Carl', sender: { id: carl.user.id, name: 'Carl' }, senderId: carl.user.id, userId: carl.user.id }));
    await c.next('ack');
    const stored = (await call('GET', `/api/chats/${code}/messages?after=0`, { token: carl.token })).body.messages;
    expect(stored).toEqual([expect.objectContaining({ text: 'I am Carl', sender: { id: mia.user.id, name: 'Mia' } })]);
    c.socket.destroy();
  });
});

describe('client message ids', () => {
  it("are the sender's own: another member reusing one stores a message of their own and cannot answer the first sender's retry", async () => {
    const code = await freshChat();
    const mine = await connectAs('member');
    mine.send({ t: 'send', id: 'shared-id', chat: code, text: 'from Mia' });
    const first = await mine.next('ack');
    const theirs = await rawFrameClient(server.tcpPort);
    await theirs.login(tess.token);
    theirs.send({ t: 'send', id: 'shared-id', chat: code, text: 'from Tess' });
    expect((await theirs.next('ack')).seq).not.toBe(first.seq);
    // Mia's retry still gets Mia's message back, not Tess's, and not CLIENT_ID_REUSED.
    mine.send({ t: 'send', id: 'shared-id', chat: code, text: 'from Mia' });
    expect((await mine.next('ack', 1)).seq).toBe(first.seq);
    const stored = (await call('GET', `/api/chats/${code}/messages?after=0`, { token: carl.token })).body.messages;
    expect(stored.map((m: { sender: { id: number }; text: string }) => [m.sender.id, m.text])).toEqual([
      [mia.user.id, 'from Mia'],
      [tess.user.id, 'from Tess'],
    ]);
    mine.socket.destroy();
    theirs.socket.destroy();
  });
});

function frameWithExtraFields(value: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  const out = Buffer.alloc(4 + json.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  return out;
}

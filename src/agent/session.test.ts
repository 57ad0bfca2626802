import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server as TcpServer, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Chat } from '../client/api.js';
import { saveProfile } from '../client/profile.js';
import { FrameDecoder, encodeFrame } from '../protocol/frames.js';
import { Session } from './session.js';
import type { UiPush } from './ui-protocol.js';

/**
 * The agent forgets a login only when the server's HTTP API says it does not know the session:
 * a refusal on the TCP connection (a `hello` the server could not check in time), a 5xx or a
 * timeout keeps the token and is retried. A fake server plays both ports.
 */

const USER = { id: 7, name: 'Keeper', email: 'keeper@example.test' };
const SERVER_KEY = (generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string).replace(/-/g, '+').replace(/_/g, '/') + '=';

interface FakeServer {
  url: string;
  /** How GET /api/me answers: 200, a 5xx, or 401 with the session unknown. */
  me: 200 | 503 | 401;
  hellos: number;
  /** refuse: every hello refused; welcomeThenEnd: welcomed, then the connection ended by the server as a revoked session's is; welcome: welcomed and kept. */
  tcp: 'refuse' | 'welcomeThenEnd' | 'welcome';
  /** The presence states the client said, in order. */
  presence: string[];
  /** GET /api/me answered so far. */
  meCalls: number;
  /** What GET /api/chats lists (a join adds to it), how often it was asked, and how long it takes to answer. */
  chatList: Chat[];
  chatsCalls: number;
  chatsDelayMs: number;
  /** Each PUT …/read, as chat and seq. */
  readWrites: { chat: string; seq: number }[];
  /** Chats a POST …/members joins, by code. */
  joinable: Map<string, Chat>;
  /** When set, every message sent over TCP is refused with this code (a removal, say). */
  sendRefusal?: 'NOT_A_MEMBER';
  /** When set, GET /api/chats/{code} is refused with this code (403). */
  chatRefusal?: 'BANNED' | 'NOT_A_MEMBER';
  close(): Promise<void>;
}

/** A chat as the server describes it to a member. */
function chatNamed(code: string, name: string, latestSeq: number): Chat {
  const multicast = { group: '239.1.2.3', port: 5000, streamId: '0123456789abcdef', keyEpoch: 1, key: Buffer.alloc(32).toString('base64') };
  return { code, name, createdAt: '2024-01-01T00:00:00.000Z', createdBy: 1, latestSeq, memberCount: 2, multicast, readSeq: 0, unreadCount: latestSeq };
}

async function fakeServer(): Promise<FakeServer> {
  const state = {
    me: 200 as FakeServer['me'],
    hellos: 0,
    meCalls: 0,
    tcp: 'refuse' as FakeServer['tcp'],
    presence: [] as string[],
    chatList: [] as Chat[],
    chatsCalls: 0,
    chatsDelayMs: 0,
    readWrites: [] as FakeServer['readWrites'],
    joinable: new Map<string, Chat>(),
    sendRefusal: undefined as FakeServer['sendRefusal'],
    chatRefusal: undefined as FakeServer['chatRefusal'],
  };
  // TCP ingest that refuses every hello as the server did when its session lookup was slow.
  const tcp: TcpServer = createTcpServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.t === 'presence') state.presence.push(frame.state);
        if (frame.t === 'send' && state.sendRefusal) socket.write(encodeFrame({ t: 'error', id: frame.id, code: state.sendRefusal, message: `You are not a member of chat ${frame.chat}` }));
        if (frame.t !== 'hello') continue;
        state.hellos++;
        if (state.tcp === 'refuse') {
          socket.end(encodeFrame({ t: 'error', code: 'UNAUTHENTICATED', message: 'authentication timed out' }));
          continue;
        }
        socket.write(encodeFrame({ t: 'welcome', v: frame.v, userId: USER.id }));
        if (state.tcp === 'welcome') continue;
        setTimeout(() => socket.end(encodeFrame({ t: 'error', code: 'UNAUTHENTICATED', message: 'your session ended' })), 200);
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const tcpPort = (tcp.address() as AddressInfo).port;
  const http: HttpServer = createHttpServer((req, res) => {
    const json = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(JSON.stringify(body));
    };
    switch (req.url) {
      case '/api/me':
        state.meCalls++;
        if (state.me === 200) return json(200, USER);
        if (state.me === 503) return json(503, { type: 'about:blank', title: 'Unavailable', status: 503, code: 'INTERNAL', detail: 'try again' }, 'application/problem+json');
        return json(401, { type: 'about:blank', title: 'Not logged in', status: 401, code: 'UNAUTHENTICATED', detail: 'unknown or expired session' }, 'application/problem+json');
      case '/api/server-key':
        return json(200, { publicKey: SERVER_KEY, fingerprint: 'AB' });
      case '/api/server':
        return json(200, { protocolVersion: 1, tcpPort });
      case '/api/chats': {
        state.chatsCalls++;
        // The list as it is when asked, answered after the delay (a join may land meanwhile).
        const listed = [...state.chatList];
        setTimeout(() => json(200, { chats: listed }), state.chatsDelayMs);
        return;
      }
    }
    const [, code, action] = /^\/api\/chats\/([^/]+)\/(members|read)$/.exec(req.url ?? '') ?? [];
    const chat = state.joinable.get(decodeURIComponent(code ?? ''));
    if (req.method === 'POST' && action === 'members' && chat) {
      state.chatList.push(chat);
      return json(200, chat);
    }
    if (req.method === 'PUT' && action === 'read' && chat) {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        const seq = (JSON.parse(body) as { seq: number }).seq;
        state.readWrites.push({ chat: chat.code, seq });
        json(200, { chat: chat.code, seq });
      });
      return;
    }
    if (req.method === 'GET' && state.chatRefusal && /^\/api\/chats\/[^/?]+$/.test(req.url ?? '')) {
      return json(403, { code: state.chatRefusal, title: 'Refused', status: 403, detail: state.chatRefusal });
    }
    // Anything else, a chat's details among them: the receiver does not join its group here.
    return json(404, {});
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: async () => {
      http.closeAllConnections();
      await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tcp.close(r))]);
    },
  }) as FakeServer;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function loggedInSession(server: FakeServer): Promise<{ session: Session; pushes: UiPush[]; profileFile: string }> {
  const profileDir = mkdtempSync(join(tmpdir(), 'chorus-session-'));
  cleanup.push(async () => rmSync(profileDir, { recursive: true, force: true }));
  await saveProfile(profileDir, { server: server.url, token: 'the-valid-token', user: USER, serverKey: SERVER_KEY });
  const pushes: UiPush[] = [];
  const session = await Session.open({ profileDir, server: server.url, interfaceAddress: '127.0.0.1', push: (p) => pushes.push(p) });
  cleanup.push(() => session.close());
  return { session, pushes, profileFile: join(profileDir, 'profile.json') };
}

/** A server that welcomes the TCP hello and lists `chats`, and a session logged in to it. */
async function welcomedSession(chats: Chat[] = []): Promise<{ server: FakeServer; session: Session; pushes: UiPush[] }> {
  const server = await fakeServer();
  server.tcp = 'welcome';
  server.chatList.push(...chats);
  cleanup.push(() => server.close());
  const { session, pushes } = await loggedInSession(server);
  return { server, session, pushes };
}

const tokenIn = (file: string) => JSON.parse(readFileSync(file, 'utf8')).token;
const loggedOut = (pushes: UiPush[]) => pushes.some((p) => p.type === 'session' && p.user === null);

describe('Session', () => {
  it('keeps the token when the TCP hello is refused but the HTTP API still knows the session, and tries again', async () => {
    const server = await fakeServer();
    cleanup.push(() => server.close());
    const { pushes, profileFile } = await loggedInSession(server);
    await expect.poll(() => server.hellos, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(tokenIn(profileFile)).toBe('the-valid-token');
    expect(loggedOut(pushes)).toBe(false);
  }, 30_000);

  it('keeps the token when the HTTP API fails with a 5xx', async () => {
    const server = await fakeServer();
    cleanup.push(() => server.close());
    const { session, pushes, profileFile } = await loggedInSession(server);
    await expect.poll(() => server.hellos, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    server.me = 503;
    const before = server.meCalls;
    session.checkWithServer();
    // Asked again and again (the refused hello, then the retries): never taken for an answer.
    await expect.poll(() => server.meCalls, { timeout: 20_000 }).toBeGreaterThanOrEqual(before + 3);
    expect(tokenIn(profileFile)).toBe('the-valid-token');
    expect(loggedOut(pushes)).toBe(false);
  }, 30_000);

  it('forgets the token, and says why, when the HTTP API says the session is unknown', async () => {
    const server = await fakeServer();
    cleanup.push(() => server.close());
    const { pushes, profileFile } = await loggedInSession(server);
    server.me = 401;
    await expect.poll(() => tokenIn(profileFile), { timeout: 20_000 }).toBeUndefined();
    const ended = pushes.find((p) => p.type === 'session' && p.user === null);
    expect(ended).toMatchObject({ notice: expect.stringMatching(/session has ended/) });
  }, 30_000);

  it('does not take back a token whose session just ended while the profile file still holds it (a tab reloading meanwhile)', async () => {
    const server = await fakeServer();
    cleanup.push(() => server.close());
    const { session, pushes, profileFile } = await loggedInSession(server);
    server.me = 401;
    session.checkWithServer();
    // Each tab (re)connecting makes the session re-read the profile: many of them, while the
    // session is being ended and the token forgotten in the file.
    const deadline = Date.now() + 20_000;
    while (tokenIn(profileFile) !== undefined && Date.now() < deadline) await session.reconcileWithProfile();
    for (let i = 0; i < 10; i++) await session.reconcileWithProfile();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(tokenIn(profileFile)).toBeUndefined();
    const notices = pushes.filter((p) => p.type === 'session' && p.user === null).map((p) => (p as { notice?: string }).notice);
    expect(notices.length).toBeGreaterThan(0);
    expect(notices.at(-1)).toMatch(/session has ended/);
    expect(notices.some((n) => /logged out of this profile/.test(n ?? ''))).toBe(false);
  }, 30_000);

  it('ends the login when the server closes an established connection and its HTTP API no longer knows the session', async () => {
    const server = await fakeServer();
    server.tcp = 'welcomeThenEnd';
    cleanup.push(() => server.close());
    const { pushes, profileFile } = await loggedInSession(server);
    await expect.poll(() => server.hellos, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    server.me = 401;
    await expect.poll(() => tokenIn(profileFile), { timeout: 20_000 }).toBeUndefined();
    expect(loggedOut(pushes)).toBe(true);
  }, 30_000);

  it('reconnects, keeping the token, when the server closes an established connection but still knows the session', async () => {
    const server = await fakeServer();
    server.tcp = 'welcomeThenEnd';
    cleanup.push(() => server.close());
    const { pushes, profileFile } = await loggedInSession(server);
    await expect.poll(() => server.hellos, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(tokenIn(profileFile)).toBe('the-valid-token');
    expect(loggedOut(pushes)).toBe(false);
  }, 30_000);
});

describe('Session: presence from the tabs', () => {
  it('is online while any tab is in use, away when every tab is away or the last active one closed', async () => {
    const { server, session } = await welcomedSession();
    const waitFor = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(server.presence)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await waitFor(() => server.hellos > 0, 'the connection');
    const [first, second] = [{}, {}];
    session.tabPresence(first, 'away');
    session.tabPresence(second, 'away');
    await waitFor(() => server.presence.length === 1, 'away');
    session.tabPresence(second, 'active');
    await waitFor(() => server.presence.length === 2, 'online');
    // The one tab in use closes: the other is away, so the user is.
    session.tabClosed(second);
    await waitFor(() => server.presence.length === 3, 'away again');
    expect(server.presence).toEqual(['away', 'online', 'away']);
  });
});

describe('Session: the chat list', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('re-reads the chat list when a tab is used again after being away, not at every report', async () => {
    const { server, session } = await welcomedSession();
    await expect.poll(() => server.chatsCalls, { timeout: 10_000 }).toBe(1);
    const tab = {};
    session.tabPresence(tab, 'active');
    session.tabPresence(tab, 'active');
    session.tabPresence(tab, 'away');
    await settle();
    expect(server.chatsCalls).toBe(1);
    server.chatList.push(chatNamed('ABCDE-12345', 'Joined in a terminal', 0));
    session.tabPresence(tab, 'active');
    await expect.poll(() => session.chats().summaries().map((c) => c.name), { timeout: 5000 }).toEqual(['Joined in a terminal']);
    expect(server.chatsCalls).toBe(2);
  });

  it('keeps a chat joined while the list was being read (read before the join, answered after)', async () => {
    const { server, session } = await welcomedSession();
    await expect.poll(() => server.chatsCalls, { timeout: 10_000 }).toBe(1);
    const chat = chatNamed('FGHJK-67890', 'Joined in the web', 0);
    server.joinable.set(chat.code, chat);
    server.chatsDelayMs = 300;
    const listed = session.chats().refreshChats();
    const joined = session.chats().join(chat.code);
    await Promise.all([listed, joined]);
    expect(session.chats().summaries().map((c) => c.code)).toEqual([chat.code]);
  });
});

describe('Session: a chat taken away', () => {
  /** The pushes from the first `removed` on. */
  const removals = (pushes: UiPush[]) => pushes.slice(pushes.findIndex((p) => p.type === 'removed'));

  it('tells the tabs which chat and why when a send is refused NOT_A_MEMBER, after the failure and before the list without it', async () => {
    const { server, session, pushes } = await welcomedSession([chatNamed('ABCDE-12345', 'Book club', 0)]);
    await expect.poll(() => session.chats().summaries().length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => session.chats().connectionState.state, { timeout: 10_000 }).toBe('connected');
    server.sendRefusal = 'NOT_A_MEMBER';
    session.chats().send('ABCDE-12345', 'hello?', 'm1');
    await expect.poll(() => pushes.some((p) => p.type === 'removed'), { timeout: 5000 }).toBe(true);
    const from = pushes.findIndex((p) => p.type === 'sendFailed');
    expect(pushes.slice(from).map((p) => p.type)).toEqual(['sendFailed', 'removed', 'chats']);
    expect(pushes.slice(from + 1)).toEqual([
      { type: 'removed', chat: 'ABCDE-12345', name: 'Book club', reason: 'removed' },
      { type: 'chats', chats: [] },
    ]);
    expect(session.chats().summaries()).toEqual([]);
  });

  it('says a removal by the creator, or a leave elsewhere, as the chat asked once answers (BANNED, NOT_A_MEMBER)', async () => {
    for (const [answer, reason] of [['BANNED', 'banned'], ['NOT_A_MEMBER', 'left']] as const) {
      const { server, session, pushes } = await welcomedSession([chatNamed('ABCDE-12345', 'Book club', 0)]);
      await expect.poll(() => session.chats().summaries().length, { timeout: 10_000 }).toBe(1);
      await expect.poll(() => session.chats().connectionState.state, { timeout: 10_000 }).toBe('connected');
      server.chatRefusal = answer;
      server.sendRefusal = 'NOT_A_MEMBER';
      session.chats().send('ABCDE-12345', 'hello?', 'm1');
      await expect.poll(() => pushes.some((p) => p.type === 'removed'), { timeout: 5000 }).toBe(true);
      expect(removals(pushes)[0]).toEqual({ type: 'removed', chat: 'ABCDE-12345', name: 'Book club', reason });
      await session.close();
    }
  });

  it('tells the tabs of a chat the server no longer lists (left elsewhere, or a removal not heard)', async () => {
    const { server, session, pushes } = await welcomedSession([chatNamed('ABCDE-12345', 'Book club', 0)]);
    await expect.poll(() => session.chats().summaries().length, { timeout: 10_000 }).toBe(1);
    server.chatList.length = 0;
    await session.chats().refreshChats();
    expect(removals(pushes)).toEqual([
      { type: 'removed', chat: 'ABCDE-12345', name: 'Book club', reason: 'removed' },
      { type: 'chats', chats: [] },
    ]);
  });
});

describe('Session: read positions', () => {
  it('tells the server what a tab shows of a chat just joined, which starts read here', async () => {
    const { server, session } = await welcomedSession();
    await expect.poll(() => server.chatsCalls, { timeout: 10_000 }).toBe(1);
    const chat = chatNamed('KMNPQ-24680', 'One message in it', 1);
    server.joinable.set(chat.code, chat);
    const joined = await session.chats().join(chat.code);
    expect(joined).toMatchObject({ unread: 0, readSeq: 1 });
    session.chats().read(chat.code, 1);
    await expect.poll(() => server.readWrites, { timeout: 5000 }).toEqual([{ chat: chat.code, seq: 1 }]);
  });
});

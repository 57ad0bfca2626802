import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sender } from '../src/client/sender.js';
import { ChorusError } from '../src/protocol/errors.js';
import { defaultServerConfig } from '../src/server/config.js';
import { tcpPortOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * A session's end reaches its open TCP connections: a logout (DELETE /api/sessions/current) or
 * the session's expiry closes them with SESSION_ENDED, and no send is taken on them after it.
 * And one user, or one address, may hold only so many connections.
 */

const PER_USER = 3;
const PER_ADDRESS = 6;

let server: TestServer;
let call: ReturnType<typeof http>;
let tcpPort: number;

beforeAll(async () => {
  server = await startTestServer({
    limits: { ...defaultServerConfig().limits, connectionsPerUser: PER_USER, connectionsPerAddress: PER_ADDRESS },
  });
  call = http(server.httpUrl);
  tcpPort = await tcpPortOf(server.httpUrl);
});
afterAll(async () => {
  await server.dispose();
});

async function chatOf(token: string): Promise<string> {
  const created = await call('POST', '/api/chats', { json: { name: 'Room' }, token });
  expect(created.status).toBe(201);
  return created.body.code as string;
}

describe('the end of a session ends its TCP connections', () => {
  it('logout: the open connection gets SESSION_ENDED and is closed; a send on it is not stored', async () => {
    const ada = await signUp(server.httpUrl, 'Ada');
    const code = await chatOf(ada.token);
    const raw = await rawFrameClient(tcpPort);
    await raw.login(ada.token);
    raw.send({ t: 'send', id: 'before', chat: code, text: 'before logout' });
    await raw.next('ack');

    expect((await call('DELETE', '/api/sessions/current', { token: ada.token })).status).toBe(204);
    const ended = await raw.next('error');
    expect(ended).toMatchObject({ code: 'SESSION_ENDED' });
    expect(ended.id).toBeUndefined();
    raw.send({ t: 'send', id: 'after', chat: code, text: 'after logout' });
    await raw.closed;
    expect(raw.frames.filter((f) => f.t === 'ack')).toHaveLength(1);

    // Nothing after the logout was stored (read as another member would).
    const bob = await signUp(server.httpUrl, 'Bob');
    // Ada's session is gone: log in again to let Bob in.
    const again = await call('POST', '/api/sessions', { json: { email: ada.email, password: ada.password } });
    expect((await call('POST', `/api/chats/${code}/members`, { token: bob.token })).status).toBe(200);
    const page = await call('GET', `/api/chats/${code}/messages`, { token: again.body.token });
    expect(page.body.messages.map((m: { text: string }) => m.text)).toEqual(['before logout']);
  });

  it('logout ends every connection of that session, and only those: another session of the same user goes on', async () => {
    const cleo = await signUp(server.httpUrl, 'Cleo');
    const other = (await call('POST', '/api/sessions', { json: { email: cleo.email, password: cleo.password } })).body.token as string;
    const code = await chatOf(cleo.token);
    const [a, b, c] = await Promise.all([rawFrameClient(tcpPort), rawFrameClient(tcpPort), rawFrameClient(tcpPort)]);
    await a!.login(cleo.token);
    await b!.login(cleo.token);
    await c!.login(other);

    expect((await call('DELETE', '/api/sessions/current', { token: cleo.token })).status).toBe(204);
    await Promise.all([a!.closed, b!.closed]);
    expect([(await a!.next('error')).code, (await b!.next('error')).code]).toEqual(['SESSION_ENDED', 'SESSION_ENDED']);
    c!.send({ t: 'send', id: 'other', chat: code, text: 'still here' });
    expect(await c!.next('ack')).toMatchObject({ id: 'other', seq: 1 });
    c!.socket.destroy();
  });

  it('a Sender told SESSION_ENDED gives up for good: pending and later sends fail with it, no reconnecting', async () => {
    const dan = await signUp(server.httpUrl, 'Dan');
    const code = await chatOf(dan.token);
    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token: dan.token, minBackoffMs: 10 });
    const states: string[] = [];
    sender.onStateChange((state) => states.push(state));
    await sender.connect();
    expect((await sender.send(code, 'one')).seq).toBe(1);

    await call('DELETE', '/api/sessions/current', { token: dan.token });
    await waitFor(() => sender.failure !== undefined, 'the sender to give up');
    expect(sender.failure).toMatchObject({ code: 'SESSION_ENDED' });
    await expect(sender.send(code, 'two')).rejects.toMatchObject({ code: 'SESSION_ENDED' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(states.filter((s) => s === 'connecting')).toHaveLength(1);
    sender.close();
  });
});

describe('session expiry on an open connection', () => {
  let short: TestServer;
  let shortPort: number;
  const TTL_SECONDS = 2;

  beforeAll(async () => {
    short = await startTestServer({ sessionTtlSeconds: TTL_SECONDS });
    shortPort = await tcpPortOf(short.httpUrl);
  });
  afterAll(async () => {
    await short.dispose();
  });

  it('closes the connection with SESSION_ENDED once the session expires, and acknowledges nothing sent after', async () => {
    const eve = await signUp(short.httpUrl, 'Eve');
    const code = (await http(short.httpUrl)('POST', '/api/chats', { json: { name: 'Short' }, token: eve.token })).body.code as string;
    const raw = await rawFrameClient(shortPort);
    await raw.login(eve.token);
    raw.send({ t: 'send', id: 'early', chat: code, text: 'in time' });
    await raw.next('ack');

    const ended = await raw.next('error');
    expect(ended).toMatchObject({ code: 'SESSION_ENDED' });
    raw.send({ t: 'send', id: 'late', chat: code, text: 'too late' });
    await raw.closed;
    expect(raw.frames.filter((f) => f.t === 'ack').map((f) => (f as { id: string }).id)).toEqual(['early']);
  });
});

describe('connection limits', () => {
  it('refuses a user’s connection past the per-user limit with TOO_MANY_CONNECTIONS; closing one lets another in', async () => {
    const gus = await signUp(server.httpUrl, 'Gus');
    const open = [];
    for (let i = 0; i < PER_USER; i++) {
      const raw = await rawFrameClient(tcpPort);
      await raw.login(gus.token);
      open.push(raw);
    }
    const extra = await rawFrameClient(tcpPort);
    extra.send({ t: 'hello', v: 2, token: gus.token });
    expect(await extra.next('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    await extra.closed;

    // Another user is not affected.
    const hal = await signUp(server.httpUrl, 'Hal');
    const theirs = await rawFrameClient(tcpPort);
    await theirs.login(hal.token);
    theirs.socket.destroy();

    // The server counts the closed one out when it sees the close: try until it has.
    open[0]!.socket.destroy();
    let again: Awaited<ReturnType<typeof rawFrameClient>> | undefined;
    for (let attempt = 0; !again && attempt < 50; attempt++) {
      const raw = await rawFrameClient(tcpPort);
      raw.send({ t: 'hello', v: 2, token: gus.token });
      await waitFor(() => raw.frames.length > 0 || raw.isClosed, 'an answer');
      if (raw.frames[0]?.t === 'welcome') again = raw;
      else {
        raw.socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(again).toBeDefined();
    for (const raw of [...open, again!]) raw.socket.destroy();
  });

  it('a Sender refused TOO_MANY_CONNECTIONS tells its caller why', async () => {
    const ivy = await signUp(server.httpUrl, 'Ivy');
    const held = [];
    for (let i = 0; i < PER_USER; i++) {
      const raw = await rawFrameClient(tcpPort);
      await raw.login(ivy.token);
      held.push(raw);
    }
    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token: ivy.token });
    const refused = await sender.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ChorusError);
    expect(refused).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    sender.close();
    for (const raw of held) raw.socket.destroy();
  });

  it('refuses connections from one address past the per-address limit once all of them said hello; other addresses go on', async () => {
    const from = '127.0.0.77';
    const open = [];
    for (const name of ['Jo', 'Kim']) {
      const user = await signUp(server.httpUrl, name);
      for (let i = 0; i < PER_ADDRESS / 2; i++) {
        const raw = await rawFrameClient(tcpPort, '127.0.0.1', from);
        await raw.login(user.token);
        open.push(raw);
      }
    }
    const extra = await rawFrameClient(tcpPort, '127.0.0.1', from);
    expect(await extra.next('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', message: `At most ${PER_ADDRESS} connections from one address` });
    await extra.closed;
    expect(open.every((raw) => !raw.isClosed)).toBe(true);

    const elsewhere = await rawFrameClient(tcpPort, '127.0.0.1', '127.0.0.78');
    elsewhere.send({ t: 'ping' });
    await elsewhere.next('pong');
    elsewhere.socket.destroy();
    for (const raw of open) raw.socket.destroy();
  });

  it('at the limit, a new connection takes the place of the oldest that has not said hello: sockets held open without a session lock nobody out', async () => {
    const from = '127.0.0.79';
    const squatted = [];
    for (let i = 0; i < PER_ADDRESS; i++) squatted.push(await rawFrameClient(tcpPort, '127.0.0.1', from));
    // Everyone on this machine shares the address: a user with a session still gets in.
    const lea = await signUp(server.httpUrl, 'Lea');
    const mine = await rawFrameClient(tcpPort, '127.0.0.1', from);
    await mine.login(lea.token);
    const displaced = await squatted[0]!.next('error');
    expect(displaced).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    expect(displaced.message).toContain('had not said hello');
    await squatted[0]!.closed;
    // Oldest first: the others still hold their places.
    expect(squatted.slice(1).every((raw) => !raw.isClosed && raw.frames.length === 0)).toBe(true);

    // Squatting goes on, as fast as the squatter likes: each new socket displaces another, never a connection that said hello.
    for (let i = 0; i < 3 * PER_ADDRESS; i++) squatted.push(await rawFrameClient(tcpPort, '127.0.0.1', from));
    mine.send({ t: 'ping' });
    await mine.next('pong');
    expect(mine.isClosed).toBe(false);
    for (const raw of [...squatted, mine]) raw.socket.destroy();
  });
});

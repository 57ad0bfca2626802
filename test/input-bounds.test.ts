import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/protocol/limits.js';
import { connectedSender } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Input the two engines used to treat differently (findings 9.10 and 16.10): refused alike, with
 * a clear error, before it reaches either.
 */

type Account = Awaited<ReturnType<typeof signUp>>;
let server: TestServer;
let call: ReturnType<typeof http>;
let ann: Account;
let bob: Account;
let code: string;

beforeAll(async () => {
  server = await startTestServer();
  call = http(server.httpUrl);
  [ann, bob] = (await Promise.all([signUp(server.httpUrl, 'Ann'), signUp(server.httpUrl, 'Bob')])) as [Account, Account];
  code = (await call('POST', '/api/chats', { token: ann.token, json: { name: 'Bounds' } })).body.code;
  await call('POST', `/api/chats/${code}/members`, { token: bob.token });
});
afterAll(async () => server?.dispose());

describe('ill-formed UTF-16 in a frame', () => {
  it('closes the connection with BAD_REQUEST and stores nothing; a surrogate pair comes back as sent', async () => {
    const raw = await rawFrameClient(server.tcpPort);
    await raw.login(ann.token);
    // JSON can spell a lone surrogate; encodeFrame would write it as the escape \ud800 too.
    const body = Buffer.from(`{"t":"send","id":"lone","chat":"${code}","text":"a\\ud800b"}`);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(body.length);
    raw.socket.write(Buffer.concat([prefix, body]));
    expect(await raw.next('error')).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('well-formed') });
    await raw.closed;
    expect(raw.frames.some((f) => f.t === 'ack')).toBe(false);

    const sender = await connectedSender(server.httpUrl, ann.token);
    await sender.send(code, 'pair 😀 ok');
    sender.close();
    const history = await call('GET', `/api/chats/${code}/messages`, { token: bob.token });
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(['pair 😀 ok']);
    // A hello with a lone surrogate in its token is refused the same way.
    const other = await rawFrameClient(server.tcpPort);
    const hello = Buffer.from(`{"t":"hello","v":${PROTOCOL_VERSION},"token":"\\udfff"}`);
    const helloPrefix = Buffer.alloc(4);
    helloPrefix.writeUInt32BE(hello.length);
    other.socket.write(Buffer.concat([helloPrefix, hello]));
    expect(await other.next('error')).toMatchObject({ code: 'BAD_REQUEST' });
    await other.closed;
  });
});

describe('numbers past 2^53 − 1 in a request', () => {
  it.each([
    'after=1e300',
    'after=9223372036854775808',
    `after=${Number.MAX_SAFE_INTEGER + 1}`,
    'before=9223372036854775808',
    'before=1e300',
    'after=Infinity',
    'before=-Infinity',
    'limit=Infinity',
  ])('%s is refused 400 INVALID_FIELD', async (query) => {
    const answer = await call('GET', `/api/chats/${code}/messages?${query}`, { token: bob.token });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'INVALID_FIELD', field: query.split('=')[0] });
  });

  it('takes 2^53 − 1 itself: an empty page after it, the latest before it', async () => {
    const after = await call('GET', `/api/chats/${code}/messages?after=${Number.MAX_SAFE_INTEGER}`, { token: bob.token });
    expect(after.status).toBe(200);
    expect(after.body.messages).toEqual([]);
    const before = await call('GET', `/api/chats/${code}/messages?before=${Number.MAX_SAFE_INTEGER}`, { token: bob.token });
    expect(before.status).toBe(200);
    expect(before.body.messages.length).toBeGreaterThan(0);
  });

  it('refuses Infinity as a user id in a path', async () => {
    for (const path of [`/api/chats/${code}/members/Infinity`, `/api/chats/${code}/bans/Infinity`]) {
      const answer = await call('DELETE', path, { token: ann.token });
      expect(answer.status, path).toBe(400);
      expect(answer.body).toMatchObject({ code: 'INVALID_FIELD', field: 'userId' });
    }
  });
});

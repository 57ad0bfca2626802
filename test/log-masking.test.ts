import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../src/protocol/frames.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';
import { rawFrameClient } from './support/raw-tcp.js';

/**
 * A chat code lets whoever holds it join, so the server's log must never hold one: a server
 * logging at info into memory, asked about a chat in every way a client might name it, good
 * requests and bad, over HTTP and TCP.
 */

let server: TestServer;
const lines: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'info' }, undefined, { logDestination: { write: (line: string) => void lines.push(line) } });
});
afterAll(async () => {
  await server?.dispose();
});

/** Every way of writing `code` (canonical, XXXXX-XXXXX) that a reader could use, lower case too. */
function spellings(code: string): string[] {
  const dashed = `${code.slice(0, 5)}-${code.slice(5)}`;
  return [code, dashed, code.toLowerCase(), dashed.toLowerCase()];
}

describe('the server log', () => {
  it('names no chat code, in any spelling, whatever was asked', async () => {
    const call = http(server.httpUrl);
    const alice = await signUp(server.httpUrl, 'Alice');
    const bob = await signUp(server.httpUrl, 'Bob');
    const chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Secret plans' } })).body;
    const dashed: string = chat.code;
    const canonical = dashed.replace('-', '');
    const lower = dashed.toLowerCase();

    expect((await call('POST', `/api/chats/${dashed}/members`, { token: bob.token })).status).toBe(200);
    expect((await call('GET', `/api/chats/${lower}`, { token: bob.token })).status).toBe(200);
    expect((await call('GET', `/api/chats/${canonical.toLowerCase()}/messages?limit=5`, { token: bob.token })).status).toBe(200);
    expect((await call('GET', `/api/chats/${encodeURIComponent(lower.replace('-', ' '))}/members`, { token: bob.token })).status).toBe(200);
    // Bad requests naming the code: a bad query, a bad body, a route that does not exist, a query naming it.
    expect((await call('GET', `/api/chats/${dashed}/messages?after=abc&limit=-1`, { token: bob.token })).status).toBe(400);
    expect((await call('POST', `/api/chats/${dashed}/members`, { token: bob.token, raw: '{"oops' })).status).toBe(400);
    expect((await call('GET', `/api/chats/${dashed}/nothing-here/${canonical}`, { token: bob.token })).status).toBe(404);
    expect((await call('GET', `/api/chats?code=${dashed}&again=${canonical}`, { token: bob.token })).status).toBe(200);
    expect((await call('GET', `/api/chats/${dashed}`)).status).toBe(401);
    // Over TCP, a send to the chat by a non-member, and a garbled frame naming it.
    const carol = await signUp(server.httpUrl, 'Carol');
    const client = await rawFrameClient(server.tcpPort);
    await client.login(carol.token);
    client.socket.write(encodeFrame({ t: 'send', id: 'x1', chat: dashed, text: `the code is ${canonical}` }));
    await client.next('error');
    client.socket.write(Buffer.concat([Buffer.from([0, 0, 0, 30]), Buffer.from(`{"t":"send","chat":"${dashed}"`.padEnd(30, '!'))]));
    await client.closed.catch(() => {});

    await server.close();
    const log = lines.join('');
    // The log was written, about these requests, with the chat's tag where its code was.
    expect(lines.filter((l) => l.includes('"incoming request"')).length).toBeGreaterThanOrEqual(9);
    expect(log).toMatch(/\/api\/chats\/chat:[0-9a-f]{8}\/members/);
    for (const spelling of spellings(canonical)) expect(log.toLowerCase().includes(spelling.toLowerCase()), spelling).toBe(false);
  });
});

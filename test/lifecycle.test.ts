import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { once } from 'node:events';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('server lifecycle', () => {
  it('finds everything it stored after a restart on the same data folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await startTestServer({}, dir);
    const ann = await signUp(first.httpUrl, 'Ann');
    const chat = await http(first.httpUrl)('POST', '/api/chats', { token: ann.token, json: { name: 'Kept' } });
    await first.close();

    const second: TestServer = await startTestServer({}, dir);
    cleanups.push(() => second.close());
    const call = http(second.httpUrl);
    expect((await call('GET', '/api/me', { token: ann.token })).body.name).toBe('Ann');
    expect((await call('GET', '/api/chats', { token: ann.token })).body.chats).toEqual([expect.objectContaining({ code: chat.body.code, name: 'Kept' })]);
    const login = await call('POST', '/api/sessions', { json: { email: ann.email, password: ann.password } });
    expect(login.status).toBe(201);
  });

  it('expires sessions after their lifetime', async () => {
    const server = await startTestServer({ sessionTtlSeconds: 1 });
    cleanups.push(() => server.dispose());
    const { token } = await signUp(server.httpUrl, 'Brief');
    const call = http(server.httpUrl);
    expect((await call('GET', '/api/me', { token })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const after = await call('GET', '/api/me', { token });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('UNAUTHENTICATED');
  });

  it('finishes a request in flight before closing', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.dispose());
    // Send the headers and half the body, start closing, then send the rest: the request that
    // was already under way must still get its answer.
    const body = JSON.stringify({ name: 'Late', email: 'late@example.test', password: 'long enough pw' });
    const { port } = new URL(server.httpUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
    socket.write(body.slice(0, 10));
    let response = '';
    socket.on('data', (chunk) => (response += chunk.toString()));
    const ended = once(socket, 'end');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(body.slice(10));
    await ended;
    await closing;
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(response).toContain('"name":"Late"');
  });
});

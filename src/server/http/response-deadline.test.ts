import { createServer } from 'node:http';
import { type Socket, connect } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Accounts } from '../accounts.js';
import type { Chats } from '../chat-service.js';
import { DEFAULT_TIMEOUTS } from '../config.js';
import type { ServerIdentity } from '../server-identity.js';
import type { UserSettings } from '../settings.js';
import { buildHttpApp } from './app.js';
import { guardSlowResponses } from './response-deadline.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** An HTTP server answering every request with `size` bytes, guarded with `deadlineMs`; resolves with it and its port. */
async function serving(size: number, deadlineMs: number) {
  const serverSockets: Socket[] = [];
  const server = createServer((_request, response) => response.end(Buffer.alloc(size, 'x')));
  server.on('connection', (socket) => serverSockets.push(socket));
  guardSlowResponses(server, deadlineMs);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { serverSockets, port: (server.address() as { port: number }).port };
}

describe('guardSlowResponses', () => {
  it('closes the connection of a client that asks and never reads, once the deadline passes', async () => {
    // 64 MB: far more than the kernel's socket buffers take, so most of it waits in the server.
    const { serverSockets, port } = await serving(64 * 1024 * 1024, 300);
    const client = connect({ port, host: '127.0.0.1' });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('connect', resolve));
    client.pause();
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server kept the connection')), 20_000);
      const check = setInterval(() => {
        if (serverSockets[0]?.destroyed) {
          clearInterval(check);
          clearTimeout(timer);
          resolve();
        }
      }, 20);
    });
    client.destroy();
  });

  it('leaves a client that reads alone: the deadline is per response, not per connection', async () => {
    const { port } = await serving(1000, 200);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBe(1000);
    // A keep-alive connection idle past the deadline is not cut by it: the deadline is per response.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const again = await fetch(`http://127.0.0.1:${port}/`);
    expect(again.status).toBe(200);
    await again.arrayBuffer();
  });

  it('keeps nothing of a connection once it is gone: not even the deadlines of responses queued behind another', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const answered: unknown[] = [];
    const server = createServer((_request, response) => answered.push(response)); // never answered
    let serverSocket: Socket | undefined;
    server.on('connection', (socket) => (serverSocket = socket));
    guardSlowResponses(server, 60_000);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const before = timers();
    const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5));
    for (let i = 0; i < 250 && answered.length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toHaveLength(5);
    expect(timers()).toBeGreaterThanOrEqual(before + 5);

    client.destroy();
    for (let i = 0; i < 250 && !serverSocket?.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('the HTTP API', () => {
  it('is guarded: a history answer its client does not read is cut off at timeouts.httpResponseMs', async () => {
    const user = { id: 1, name: 'Ada', email: 'ada@example.test', createdAt: new Date(0).toISOString() };
    const huge = { chat: 'ABCDE-12345', seq: 1, sender: { id: 1, name: 'Ada' }, text: 'x'.repeat(64 * 1024 * 1024), sentAt: new Date(0).toISOString(), clientMsgId: 'm1' };
    const app = await buildHttpApp(
      {
        accounts: { authenticate: async () => user } as unknown as Accounts,
        chats: { history: async () => ({ messages: [huge], latestSeq: 1 }) } as unknown as Chats,
        settings: {} as UserSettings,
        identity: {} as ServerIdentity,
        tcpPort: 1,
        metrics: new Registry(),
      },
      pino({ level: 'silent' }),
      { ...DEFAULT_TIMEOUTS, httpResponseMs: 500 },
    );
    const serverSockets: Socket[] = [];
    app.server.on('connection', (socket: Socket) => serverSockets.push(socket));
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const client = connect({ port: (app.server.address() as { port: number }).port, host: '127.0.0.1' });
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      client.pause();
      client.write('GET /api/chats/ABCDE-12345/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n');
      for (let i = 0; i < 1000 && !serverSockets[0]?.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(serverSockets[0]?.destroyed).toBe(true);
      client.destroy();
    } finally {
      await app.close();
    }
  }, 60_000);
});

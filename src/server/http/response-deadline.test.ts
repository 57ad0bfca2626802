import { createServer } from 'node:http';
import { type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
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
});

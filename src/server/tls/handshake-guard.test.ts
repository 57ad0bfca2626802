import { once } from 'node:events';
import { type AddressInfo, type Socket, connect as netConnect } from 'node:net';
import { type Server, type TLSSocket, connect as tlsConnect, createServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { guardHandshakes } from './handshake-guard.js';
import { createSelfSignedCertificate } from './self-signed.js';

const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: ['127.0.0.1'] });
const TIMEOUT_MS = 400;
/** Far longer than the guard's deadline, far shorter than Node's own 120 s: proves the guard closed it. */
const BOUND_MS = 5000;

let server: Server;
const sockets: Socket[] = [];

async function guarded(perAddress: number) {
  server = createServer({ cert: certPem, key: keyPem }, (socket) => sockets.push(socket));
  const guard = guardHandshakes(server, { perAddress, timeoutMs: TIMEOUT_MS });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { guard, port: (server.address() as AddressInfo).port };
}

/** A TCP connection that never starts its handshake; resolves once connected. */
async function silent(port: number, localAddress?: string): Promise<{ socket: Socket; closed: () => boolean }> {
  const socket = netConnect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  sockets.push(socket);
  await once(socket, 'connect');
  return { socket, closed: () => closed };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('guardHandshakes', () => {
  it('closes a socket that never starts its handshake at the deadline (Node alone leaves it open)', async () => {
    const { guard, port } = await guarded(10);
    const peer = await silent(port);
    await until(() => guard.inProgress() === 1, 'the server to see the socket');
    const opened = performance.now();
    await until(peer.closed, 'the server to close the silent socket');
    expect(performance.now() - opened).toBeGreaterThan(TIMEOUT_MS / 2);
    expect(guard.inProgress()).toBe(0);
  });

  it('keeps at most perAddress handshakes of one address: the newest takes the oldest one\'s place', async () => {
    const { guard, port } = await guarded(3);
    const peers: Awaited<ReturnType<typeof silent>>[] = [];
    for (let i = 0; i < 5; i++) {
      peers.push(await silent(port));
      await until(() => guard.inProgress() === Math.min(i + 1, 3), `socket ${i} counted`);
    }
    await until(() => peers[0]!.closed() && peers[1]!.closed(), 'the two oldest to be closed');
    expect(peers.slice(2).map((p) => p.closed())).toEqual([false, false, false]);
    expect(guard.inProgress()).toBe(3);
  });

  it('counts every loopback address as one host: 127.0.0.2, 127.0.0.3, … take 127.0.0.1\'s places', async () => {
    const { guard, port } = await guarded(3);
    const peers: Awaited<ReturnType<typeof silent>>[] = [];
    for (let i = 0; i < 5; i++) {
      peers.push(await silent(port, `127.0.0.${2 + i}`));
      await until(() => guard.inProgress() === Math.min(i + 1, 3), `socket ${i} counted`);
    }
    await until(() => peers[0]!.closed() && peers[1]!.closed(), 'the two oldest to be closed');
    expect(peers.slice(2).map((p) => p.closed())).toEqual([false, false, false]);
  });

  it('lets a finished handshake live past the deadline, and no longer counts it', async () => {
    const { guard, port } = await guarded(10);
    const client: TLSSocket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    sockets.push(client);
    let closed = false;
    client.on('close', () => (closed = true));
    await once(client, 'secureConnect');
    await until(() => guard.inProgress() === 0, 'the handshake to be forgotten');
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 2));
    expect(closed).toBe(false);
    client.write('still here');
    await until(() => sockets.some((s) => s !== client && s.bytesRead > 0), 'the server side to read');
  });

  it('closes a socket whose handshake fails at once, not at the deadline', async () => {
    const { guard, port } = await guarded(10);
    const peer = await silent(port);
    const sent = performance.now();
    peer.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')); // not a ClientHello
    await until(peer.closed, 'the failed handshake to close');
    expect(performance.now() - sent).toBeLessThan(TIMEOUT_MS);
    expect(guard.inProgress()).toBe(0);
  });
});

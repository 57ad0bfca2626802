import { once } from 'node:events';
import { type IncomingMessage, type Server as HttpServer, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Accounts } from '../accounts.js';
import type { Chats } from '../chat-service.js';
import type { ServerIdentity } from '../server-identity.js';
import type { UserSettings } from '../settings.js';
import { createSelfSignedCertificate } from '../tls/self-signed.js';
import { buildHttpApp } from './app.js';
import { ConnectionPlaces, HttpConnectionCap } from './connection-cap.js';

describe('ConnectionPlaces', () => {
  const held = new Set<string>();
  const places = (perAddress: number) => new ConnectionPlaces<string>(perAddress, (c) => held.has(c));
  afterEach(() => held.clear());

  it('admits up to the limit per address; other addresses have their own', () => {
    const p = places(2);
    expect(p.admit('10.0.0.1', 'a')).toEqual({ admitted: true });
    expect(p.admit('10.0.0.1', 'b')).toEqual({ admitted: true });
    expect(p.admit('10.0.0.2', 'c')).toEqual({ admitted: true });
    expect(p.admit('10.0.0.2', 'd')).toEqual({ admitted: true });
    expect(p.size).toBe(4);
  });

  it('at the limit, the newest takes the place of the oldest that does not hold its own', () => {
    const p = places(3);
    for (const c of ['a', 'b', 'c']) p.admit('10.0.0.1', c);
    held.add('a');
    expect(p.admit('10.0.0.1', 'd')).toEqual({ admitted: true, displaced: 'b' });
    expect(p.admit('10.0.0.1', 'e')).toEqual({ admitted: true, displaced: 'c' });
    expect(p.admit('10.0.0.1', 'f')).toEqual({ admitted: true, displaced: 'd' });
    expect(p.size).toBe(3);
    // Another address is not touched.
    p.admit('10.0.0.2', 'x');
    expect(p.admit('10.0.0.1', 'g')).toEqual({ admitted: true, displaced: 'e' });
  });

  it('refuses the newest when every place is held, and admits again once one is released', () => {
    const p = places(2);
    p.admit('10.0.0.1', 'a');
    p.admit('10.0.0.1', 'b');
    held.add('a').add('b');
    expect(p.admit('10.0.0.1', 'c')).toEqual({ admitted: false });
    expect(p.size).toBe(2);
    p.release('c'); // never admitted: nothing happens
    expect(p.admit('10.0.0.1', 'c')).toEqual({ admitted: false });
    p.release('a');
    expect(p.admit('10.0.0.1', 'c')).toEqual({ admitted: true });
    expect(p.size).toBe(2);
  });

  it('does not count a displaced connection again when it closes', () => {
    const p = places(1);
    p.admit('10.0.0.1', 'a');
    expect(p.admit('10.0.0.1', 'b')).toEqual({ admitted: true, displaced: 'a' });
    p.release('a');
    expect(p.size).toBe(1);
    held.add('b');
    expect(p.admit('10.0.0.1', 'c')).toEqual({ admitted: false });
  });
});

const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: ['127.0.0.1'] });
const BOUND_MS = 5000;

let server: HttpServer | undefined;
const peers: Socket[] = [];
/** Responses the handler holds back until the test lets them go. */
const waiting: ServerResponse[] = [];

afterEach(async () => {
  for (const socket of peers.splice(0)) socket.destroy();
  waiting.splice(0);
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** `/slow` is answered only when the test says so; anything else at once. */
function handler(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  request.on('end', () => (request.url === '/slow' ? waiting.push(response) : response.end('ok')));
}

async function capped(perAddress: number, tls: boolean, pipelined = 8) {
  server = tls ? createHttpsServer({ cert: certPem, key: keyPem }, handler) : createHttpServer(handler);
  const cap = new HttpConnectionCap({ perAddress, pipelined });
  cap.guard(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { cap, port: (server.address() as AddressInfo).port };
}

interface Peer {
  socket: Socket;
  closed: () => boolean;
  received: () => string;
}

/** A connection (TLS handshake done, for a TLS server) that sends `request`, if any, and reads what comes. */
async function peer(port: number, tls: boolean, request?: string, localAddress?: string): Promise<Peer> {
  const from = localAddress ? { localAddress } : {};
  const socket = tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...from }) : netConnect({ port, host: '127.0.0.1', ...from });
  let closed = false;
  let received = '';
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  peers.push(socket);
  // Not events.once: a refused TLS connection emits 'error', then 'close'.
  await new Promise((resolve) => {
    socket.once(tls ? 'secureConnect' : 'connect', resolve);
    socket.once('close', resolve);
  });
  if (request !== undefined && !closed) socket.write(request);
  return { socket, closed: () => closed, received: () => received };
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const tls of [false, true]) {
  describe(`HttpConnectionCap on an ${tls ? 'HTTPS' : 'HTTP'} server`, () => {
    it('keeps at most the limit of silent sockets from one address: the oldest are closed, and a request still gets in', async () => {
      const { cap, port } = await capped(4, tls);
      const flood: Peer[] = [];
      for (let i = 0; i < 12; i++) flood.push(await peer(port, tls));
      await until(() => flood.filter((p) => p.closed()).length === 8, 'the 8 oldest to be closed');
      expect(flood.slice(0, 8).every((p) => p.closed())).toBe(true);
      expect(cap.open).toBe(4);
      expect(cap.stats).toEqual({ displaced: 8, refused: 0, overPipelined: 0 });

      const asking = await peer(port, tls, get('/'));
      await until(() => asking.received().includes('\r\n\r\nok'), 'the answer');
      expect(asking.received()).toMatch(/^HTTP\/1\.1 200 /);
    });

    it('counts every loopback address as one host: sockets from 127.0.0.2, 127.0.0.3, … share 127.0.0.1\'s places', async () => {
      const { cap, port } = await capped(4, tls);
      const flood: Peer[] = [];
      for (let i = 0; i < 12; i++) flood.push(await peer(port, tls, undefined, `127.0.0.${2 + i}`));
      await until(() => flood.filter((p) => p.closed()).length === 8, 'the 8 oldest to be closed');
      expect(cap.open).toBe(4);
      expect(cap.stats.displaced).toBe(8);
    });

    it('counts a connection between two requests (keep-alive) as free to give up its place', async () => {
      const { cap, port } = await capped(1, tls);
      const first = await peer(port, tls, get('/'));
      await until(() => first.received().includes('ok'), 'the first answer');
      const second = await peer(port, tls, get('/'));
      await until(() => second.received().includes('ok'), 'the second answer');
      await until(first.closed, 'the idle keep-alive connection to be closed');
      expect(cap.stats.displaced).toBe(1);
    });

    it('lets connections being answered hold their places: a new one is closed at once, and gets in once they are done', async () => {
      const { cap, port } = await capped(3, tls);
      const busy: Peer[] = [];
      for (let i = 0; i < 3; i++) busy.push(await peer(port, tls, get('/slow')));
      await until(() => waiting.length === 3, 'three requests being answered');

      const refused = await peer(port, tls, get('/'));
      await until(refused.closed, 'the newest connection to be closed');
      expect(refused.received()).toBe('');
      expect(busy.some((p) => p.closed())).toBe(false);
      expect(cap.stats).toEqual({ displaced: 0, refused: 1, overPipelined: 0 });
      expect(cap.open).toBe(3);

      // Answered, they are between requests again: a new connection takes the oldest one's place.
      for (const response of waiting.splice(0)) response.end('done');
      await until(() => busy.every((p) => p.received().includes('done')), 'the slow answers');
      const later = await peer(port, tls, get('/'));
      await until(() => later.received().includes('ok'), 'the later answer');
      await until(busy[0]!.closed, 'the oldest to give up its place');
      expect(cap.stats).toEqual({ displaced: 1, refused: 1, overPipelined: 0 });
    });

    it('does not let a request still trickling its body hold a place', async () => {
      const { cap, port } = await capped(1, tls);
      const trickling = await peer(port, tls, 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const asking = await peer(port, tls, get('/'));
      await until(() => asking.received().includes('ok'), 'the answer');
      await until(trickling.closed, 'the trickling connection to be closed');
      expect(cap.stats).toEqual({ displaced: 1, refused: 0, overPipelined: 0 });
    });

    it('answers requests pipelined up to the limit, and closes a connection that pipelines more', async () => {
      const { cap, port } = await capped(8, tls, 4);
      const within = await peer(port, tls, get('/').repeat(4));
      await until(() => within.received().match(/\r\n\r\nok/g)?.length === 4, 'the four answers');
      expect(within.closed()).toBe(false);

      const beyond = await peer(port, tls, get('/slow').repeat(5));
      await until(beyond.closed, 'the connection to be closed');
      expect(beyond.received()).toBe('');
      expect(cap.stats.overPipelined).toBe(1);
      // One at a time, a connection may go on for ever.
      for (let i = 0; i < 10; i++) {
        within.socket.write(get('/'));
        await until(() => within.received().match(/\r\n\r\nok/g)?.length === 5 + i, 'the next answer');
      }
      expect(within.closed()).toBe(false);
    });

    it('forgets every connection once closed', async () => {
      const { cap, port } = await capped(8, tls);
      const some = [await peer(port, tls), await peer(port, tls, get('/')), await peer(port, tls, get('/slow'))];
      await until(() => cap.open === 3 && waiting.length === 1, 'the three connections');
      for (const p of some) p.socket.destroy();
      await until(() => cap.open === 0, 'nothing counted');
    });
  });
}

describe('the HTTP API', () => {
  it('works on no request of a connection closed for pipelining too many, though Node hands them all over', async () => {
    let answersBuilt = 0;
    const app = await buildHttpApp(
      {
        accounts: {} as Accounts,
        chats: {} as Chats,
        settings: {} as UserSettings,
        identity: {} as ServerIdentity,
        tcpPort: 1,
        metrics: { contentType: 'text/plain', metrics: async () => (answersBuilt++, '') } as unknown as Registry,
        connections: new HttpConnectionCap({ perAddress: 8, pipelined: 4 }),
      },
      pino({ level: 'silent' }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const client = await peer(port, false, get('/api/metrics').repeat(200));
      await until(client.closed, 'the connection to be closed');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answersBuilt).toBeLessThanOrEqual(4);
    } finally {
      await app.close();
    }
  });
});

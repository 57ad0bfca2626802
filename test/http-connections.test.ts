import { type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinnedFetch } from '../src/client/pinned-fetch.js';
import { DEFAULT_TIMEOUTS, defaultServerConfig } from '../src/server/config.js';
import { waitFor } from './support/messaging.js';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * The HTTP port bounds the connections one address holds open (limits.httpConnectionsPerAddress),
 * plain and TLS alike: a peer that opens sockets faster than the timeouts close them would
 * otherwise run the server out of file descriptors. Every test client is 127.0.0.1, the address
 * every local user shares.
 */

const PER_ADDRESS = 6;
/** Long enough that the server's own deadlines close nothing here: what closes is the limit's doing. */
const TIMEOUTS = { ...DEFAULT_TIMEOUTS, httpHeadersMs: 20_000, httpRequestMs: 20_000, httpIdleMs: 20_000, httpKeepAliveMs: 20_000, httpResponseMs: 20_000 };
/**
 * Pipelined requests for the OpenAPI document (17 KB each) that a peer sends and never reads the
 * answers of: 10 MB, well over what loopback's socket buffers take (about 4 MB), so the server is
 * still answering them until they close.
 */
const UNREAD_REQUESTS = 600;

interface Peer {
  socket: Socket;
  closed: () => boolean;
  received: () => string;
}

for (const tls of [false, true]) {
  describe(`HTTP connections per address${tls ? ', over TLS' : ''}`, () => {
    let server: TestServer;
    let get: (path: string) => Promise<Response>;
    const peers: Socket[] = [];
    const port = () => Number(new URL(server.httpUrl).port);

    beforeAll(async () => {
      server = await startTestServer({
        // Pipelining far past the default (8), for connections that hold their place below.
        limits: { ...defaultServerConfig().limits, httpConnectionsPerAddress: PER_ADDRESS, httpPipelinedRequests: UNREAD_REQUESTS },
        timeouts: TIMEOUTS,
        ...(tls ? { tls: { force: true } } : {}),
      });
      const fetchImpl = tls ? pinnedFetch(server.tlsFingerprint!) : fetch;
      get = (path) => fetchImpl(`${server.httpUrl}${path}`);
    });
    afterAll(async () => {
      for (const socket of peers) socket.destroy();
      await server?.dispose();
    });

    /** A connection (its TLS handshake done, if any) that reads nothing unless `reading`. */
    async function open(options: { reading: boolean }): Promise<Peer> {
      const socket = tls ? tlsConnect({ port: port(), host: '127.0.0.1', rejectUnauthorized: false }) : netConnect(port(), '127.0.0.1');
      let closed = false;
      let received = '';
      socket.on('close', () => (closed = true));
      socket.on('error', () => {});
      if (options.reading) socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      peers.push(socket);
      await new Promise((resolve) => {
        socket.once(tls ? 'secureConnect' : 'connect', resolve);
        socket.once('close', resolve);
      });
      return { socket, closed: () => closed, received: () => received };
    }

    async function metric(name: string): Promise<number> {
      const text = await (await get('/api/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return Number(line?.slice(name.length + 1));
    }

    it('keeps at most the limit open: past it the oldest silent sockets are closed at once, and requests still get in', async () => {
      const displacedBefore = await metric('chorus_http_connections_displaced_total');
      const flood: Peer[] = [];
      for (let i = 0; i < PER_ADDRESS * 10; i++) flood.push(await open({ reading: true }));
      // Long before any deadline (20 s): closed to make room, oldest first.
      await waitFor(() => flood.filter((p) => p.closed()).length >= PER_ADDRESS * 9, 'all but the newest to be closed', 5000);
      expect(flood.slice(0, PER_ADDRESS * 9).every((p) => p.closed())).toBe(true);

      // While the newest are still held, a real client is answered: it takes an idle one's place.
      const response = await get('/api/health');
      expect(response.status).toBe(200);
      expect(await metric('chorus_http_connections')).toBeLessThanOrEqual(PER_ADDRESS);
      expect(await metric('chorus_http_connections_displaced_total')).toBeGreaterThanOrEqual(displacedBefore + PER_ADDRESS * 9);
      for (const p of flood) p.socket.destroy();
    });

    it('closes new connections at once while every place has a request being answered; once those close, a request gets in', async () => {
      const pipelined = Buffer.from('GET /api/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(UNREAD_REQUESTS));
      const holding: Peer[] = [];
      for (let i = 0; i < PER_ADDRESS; i++) {
        const peer = await open({ reading: false });
        peer.socket.write(pipelined);
        holding.push(peer);
      }
      // Once an answer has begun on each, their requests have arrived and are being answered.
      await waitFor(() => holding.every((p) => p.socket.bytesRead > 0), 'an answer to begin on every holding connection', 10_000);

      // No queue: a connection past the limit is closed unanswered, and at once (every deadline is 20 s).
      const probe = await open({ reading: true });
      probe.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor(probe.closed, 'the connection past the limit to be closed', 1000);
      expect(probe.received()).toBe('');
      await expect(get('/api/health')).rejects.toThrow();
      expect(holding.some((p) => p.closed())).toBe(false);

      // Once they close, a request gets in.
      for (const p of holding) p.socket.destroy();
      let status = 0;
      for (const until = Date.now() + 5000; status !== 200 && Date.now() < until; ) {
        status = await get('/api/health').then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(200);
      expect(await metric('chorus_http_connections_refused_total')).toBeGreaterThanOrEqual(2);
    });
  });
}

describe('HTTP pipelining', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.dispose());

  it('closes a connection that pipelines more requests than allowed, answering at most that many, and serves others', async () => {
    const socket = netConnect(Number(new URL(server.httpUrl).port), '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    // 64 KiB of requests in one write: Node parses them all before it would stop to let the
    // answers drain, and each answer is 17 KB (some 60 MB held for a client that reads none).
    const request = 'GET /api/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(request.repeat(Math.floor(65_536 / request.length)));
    await waitFor(() => closed, 'the connection to be closed', 5000);
    expect(received.match(/HTTP\/1\.1 200 /g)?.length ?? 0).toBeLessThanOrEqual(defaultServerConfig().limits.httpPipelinedRequests!);

    expect((await fetch(`${server.httpUrl}/api/health`)).status).toBe(200);
    const metrics = await (await fetch(`${server.httpUrl}/api/metrics`)).text();
    expect(metrics).toMatch(/^chorus_http_pipelining_closed_total 1$/m);
  });
});

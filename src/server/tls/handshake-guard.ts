import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { hostOf } from '../address-group.js';

export interface HandshakeLimits {
  /** Handshakes one address may have in progress at once; the newest takes the oldest's place. */
  perAddress: number;
  /** A handshake not finished within this is given up: its socket is closed. */
  timeoutMs: number;
}

interface Pending {
  socket: Socket;
  timer: NodeJS.Timeout;
}

/**
 * Bounds the sockets of a TLS server that have not finished their handshake. They are not
 * connections yet (the ingest counts a connection from its handshake on), but each holds a file
 * descriptor and memory; and on Node 20 `handshakeTimeout` only reports (`tlsClientError`), it
 * leaves the socket open. A peer that opened sockets and sent nothing could so hold them without
 * bound, until the server could accept no one (found by attacking it, 2026-12-03). Here each
 * must finish within `timeoutMs`, and one address has at most `perAddress` in progress: the
 * newest takes the place of the oldest, which is closed, as with connections that have not said
 * hello (connection-registry.ts), so that sockets opened in a loop cannot keep another user of
 * the same address out. A handshake that fails is closed at once.
 */
export function guardHandshakes(server: TlsServer, limits: HandshakeLimits): { inProgress(): number } {
  // By host (every loopback address is one: address-group.ts), then by the socket's own
  // "address|port", which names one TCP connection.
  const byHost = new Map<string, Map<string, Pending>>();
  let inProgress = 0;

  const forget = (host: string, endpoint: string, socket: Socket): void => {
    const ofHost = byHost.get(host);
    const pending = ofHost?.get(endpoint);
    if (!ofHost || pending?.socket !== socket) return;
    clearTimeout(pending.timer);
    ofHost.delete(endpoint);
    inProgress--;
    if (ofHost.size === 0) byHost.delete(host);
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (address === undefined || port === undefined) return void socket.destroy(); // already gone
    const host = hostOf(address);
    const endpoint = `${address}|${port}`;
    const ofHost = byHost.get(host) ?? new Map<string, Pending>();
    byHost.set(host, ofHost);
    if (ofHost.size >= limits.perAddress) {
      const [oldestEndpoint, oldest] = ofHost.entries().next().value!;
      forget(host, oldestEndpoint, oldest.socket);
      oldest.socket.destroy();
    }
    const timer = setTimeout(() => socket.destroy(), limits.timeoutMs);
    timer.unref();
    ofHost.set(endpoint, { socket, timer });
    inProgress++;
    socket.once('close', () => forget(host, endpoint, socket));
  });
  // The TLS socket has the raw socket's address and port: that pair names one TCP connection.
  server.on('secureConnection', (tlsSocket: TLSSocket) => {
    const address = tlsSocket.remoteAddress;
    const port = tlsSocket.remotePort;
    if (address === undefined || port === undefined) return;
    const host = hostOf(address);
    const endpoint = `${address}|${port}`;
    const pending = byHost.get(host)?.get(endpoint);
    if (pending) forget(host, endpoint, pending.socket);
  });
  server.on('tlsClientError', (_error: Error, tlsSocket: TLSSocket) => tlsSocket.destroy());
  return { inProgress: () => inProgress };
}

import { type Socket, connect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { isCertificateError, pinMismatch, tlsOptions } from './certificate-pin.js';
import type { SenderConnection, SenderConnectionEvents, SenderTransport } from './sender-transport.js';

export interface TcpTransportOptions {
  host: string;
  port: number;
  /** TLS, pinned to this fingerprint if given, else verified against the authorities trusted here. */
  tls?: { fingerprint?: string };
}

/** The Sender's connections over node:net, or node:tls when the server's URL is https://. */
export function tcpTransport(options: TcpTransportOptions): SenderTransport {
  const where = `${options.host}:${options.port}`;
  return {
    handshake: options.tls ? 'TLS handshake' : 'connection',
    connect(events) {
      const socket = options.tls ? openTls(options, options.tls.fingerprint, where, events) : openTcp(options, events);
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => events.data(chunk));
      socket.on('error', (error) => {
        // A certificate nothing vouches for will not become trusted by retrying.
        if (options.tls && isCertificateError(error)) {
          events.untrusted(new Error(`the server at ${where}: its TLS certificate is not trusted (${(error as NodeJS.ErrnoException).code}) and none is pinned: log in again to pin it`));
        }
      });
      socket.on('close', () => events.closed());
      return socketConnection(socket);
    },
  };
}

function openTcp(options: TcpTransportOptions, events: SenderConnectionEvents): Socket {
  const socket = connect({ host: options.host, port: options.port });
  socket.on('connect', () => events.ready());
  return socket;
}

/**
 * TLS: the hello (which carries the token) waits for the handshake and, when pinned, for the
 * fingerprint check: a server with another certificate gets nothing.
 */
function openTls(options: TcpTransportOptions, fingerprint: string | undefined, where: string, events: SenderConnectionEvents): TLSSocket {
  const socket = tlsConnect(tlsOptions(options.host, options.port, fingerprint !== undefined));
  socket.once('secureConnect', () => {
    const mismatch = fingerprint === undefined ? undefined : pinMismatch(socket, fingerprint, where);
    if (mismatch) events.untrusted(mismatch);
    else events.ready();
  });
  return socket;
}

/**
 * Writes are corked for the rest of the tick: a burst of frames (`send --stdin` reading a pasted
 * block, the unacknowledged resent after a reconnect) leaves in one system call, as the server's
 * acks do (server/ingest.ts).
 */
function socketConnection(socket: Socket): SenderConnection {
  let corked = false;
  return {
    write: (bytes) => {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(bytes);
    },
    destroy: () => void socket.destroy(),
    get destroyed() {
      return socket.destroyed;
    },
  };
}

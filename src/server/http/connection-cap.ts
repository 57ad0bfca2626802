import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { hostOf } from '../address-group.js';

/**
 * Places for connections, per address: at most `perAddress` at once. At the limit the oldest
 * connection of the address that does not hold its place gives it up to the newest; when every
 * one holds its place, the newest is refused. Pure bookkeeping: what holds a place is the
 * caller's to say, and closing a connection is the caller's to do.
 */
export class ConnectionPlaces<C> {
  /** Each address's connections, oldest first (a Set keeps insertion order). */
  private readonly byAddress = new Map<string, Set<C>>();
  private readonly addressOf = new Map<C, string>();

  constructor(
    private readonly perAddress: number,
    private readonly holdsPlace: (connection: C) => boolean,
  ) {}

  /** Counts a new connection; `displaced` (no longer counted) is for the caller to close. */
  admit(address: string, connection: C): { admitted: true; displaced?: C } | { admitted: false } {
    const ofAddress = this.byAddress.get(address) ?? new Set<C>();
    let displaced: C | undefined;
    if (ofAddress.size >= this.perAddress) {
      displaced = this.oldestNotHolding(ofAddress);
      if (displaced === undefined) return { admitted: false };
      this.release(displaced);
    }
    ofAddress.add(connection);
    this.byAddress.set(address, ofAddress);
    this.addressOf.set(connection, address);
    return displaced === undefined ? { admitted: true } : { admitted: true, displaced };
  }

  /** The connection closed (one displaced or never admitted is not counted: nothing happens). */
  release(connection: C): void {
    const address = this.addressOf.get(connection);
    if (address === undefined) return;
    this.addressOf.delete(connection);
    const ofAddress = this.byAddress.get(address)!;
    ofAddress.delete(connection);
    if (ofAddress.size === 0) this.byAddress.delete(address);
  }

  /** Connections counted, all addresses together. */
  get size(): number {
    return this.addressOf.size;
  }

  private oldestNotHolding(ofAddress: Set<C>): C | undefined {
    for (const connection of ofAddress) if (!this.holdsPlace(connection)) return connection;
    return undefined;
  }
}

/** One TCP connection to the HTTP port, and the requests on it whose responses are not done. */
interface Tracked {
  socket: Socket;
  requests: Set<IncomingMessage>;
}

/**
 * A request whose whole message has arrived is being answered: its connection holds its place
 * until the response is handed to the operating system (or the connection is gone). A socket
 * that has sent nothing, is between two requests (keep-alive), is in its TLS handshake, or is
 * still trickling headers or a body holds none: it is where a flood of sockets would sit.
 */
function answering(connection: Tracked): boolean {
  for (const request of connection.requests) if (request.complete) return true;
  return false;
}

export interface HttpConnectionLimits {
  /** Connections one address may hold open at once, TLS handshakes in progress included. */
  perAddress: number;
  /** Requests one connection may have awaiting their response at once (HTTP/1.1 pipelining). */
  pipelined: number;
}

/**
 * Bounds what one address may hold open on the HTTP port, plain or TLS.
 *
 * Connections: each is a file descriptor, and the timeouts only bound how long each lives:
 * without a count, a peer that opens sockets faster than they time out (tens of thousands in
 * the headers deadline) runs the server out of descriptors and shuts everyone out. Every local
 * user shares 127.0.0.1 and an office may share one NAT address, so a full address must not lock
 * them out: the newest connection takes the place of the oldest one not being answered, which is
 * closed; only when every connection of the address has a request being answered is the newest
 * closed at once.
 *
 * Requests per connection: Node parses every request of a chunk it reads before it stops to let
 * the answers drain, so one 64 KiB write of pipelined requests for the 17 KB OpenAPI document
 * made the server hold some 60 MB of answers for a client that read none. No client of Chorus
 * pipelines (fetch and node:https send one request at a time on a connection), so a connection
 * with more than `pipelined` requests awaiting their response is closed, and what was being
 * answered on it is thrown away with it.
 */
export class HttpConnectionCap {
  readonly stats = { displaced: 0, refused: 0, overPipelined: 0 };
  private readonly places: ConnectionPlaces<Tracked>;
  /** By "address|port": a TLS request's socket is not the TCP socket counted, but has its endpoints. */
  private readonly byEndpoint = new Map<string, Tracked>();

  constructor(readonly limits: HttpConnectionLimits) {
    this.places = new ConnectionPlaces(limits.perAddress, answering);
  }

  /** Connections counted now, all addresses together. */
  get open(): number {
    return this.places.size;
  }

  /** Counts the server's connections from their accept (on a TLS server, before the handshake). */
  guard(server: HttpServer | HttpsServer): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    // Before the app's own listener: a request past the pipelining limit is not worked on.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => this.answer(request, response));
  }

  private admit(socket: Socket): void {
    const key = endpointOf(socket);
    if (key === undefined) return void socket.destroy(); // already gone
    const connection: Tracked = { socket, requests: new Set() };
    // Per host: every loopback address is one (address-group.ts), or 127.0.0.2… would be others.
    const admission = this.places.admit(hostOf(socket.remoteAddress!), connection);
    if (!admission.admitted) {
      this.stats.refused++;
      return void socket.destroy();
    }
    if (admission.displaced) {
      this.stats.displaced++;
      admission.displaced.socket.destroy();
    }
    this.byEndpoint.set(key, connection);
    socket.once('close', () => {
      this.places.release(connection);
      if (this.byEndpoint.get(key) === connection) this.byEndpoint.delete(key);
    });
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    // Node goes on handing over the requests of a chunk it was parsing when the connection closed.
    if (request.socket.destroyed) return;
    const key = endpointOf(request.socket);
    const connection = key === undefined ? undefined : this.byEndpoint.get(key);
    if (!connection) return;
    connection.requests.add(request);
    // A response queued behind another never closes if the connection goes first: the
    // connection is then forgotten whole (admit), its requests with it.
    response.once('close', () => connection.requests.delete(request));
    if (connection.requests.size > this.limits.pipelined) {
      this.stats.overPipelined++;
      request.socket.destroy();
    }
  }
}

function endpointOf(socket: Socket): string | undefined {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined ? undefined : `${remoteAddress}|${remotePort}`;
}

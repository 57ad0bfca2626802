import { type Socket, createSocket } from 'node:dgram';
import type { Arrival, MulticastTransport, MulticastTransportFactory } from './multicast-transport.js';

export type { Arrival };

/**
 * The receiver's UDP sockets: one pool per port, each socket holding as many group
 * memberships as the system lets one socket hold (Linux: `igmp_max_memberships`, 20 by
 * default; past it `addMembership` fails with ENOBUFS), and another socket opened on the same
 * port when it is full. Before, the 21st chat on a port was never received live, silently.
 *
 * Every socket bound to a port gets the datagrams of every group joined on that port, by any
 * socket (Linux's IP_MULTICAST_ALL, which Node cannot turn off), so a pool of three sockets
 * receives each datagram three times. `onDatagram` is told which groups the receiving socket
 * holds, so that the receiver reads each datagram once: from the socket holding its chat's group.
 */

/**
 * What each receiving socket asks the system to buffer: a burst (a pasted log, a reconnect's
 * catch-up) waits there while the receiver verifies and decrypts, instead of being dropped and
 * repaired over HTTP. Linux grants at most net.core.rmem_max (often 208 KiB); `chorus doctor`
 * says what it granted.
 */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** The receive buffer the system grants a socket asking for RECEIVE_BUFFER_BYTES (Linux reports twice what it keeps for data: halved). */
export async function grantedReceiveBuffer(): Promise<number> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const reported = socket.getRecvBufferSize();
    return process.platform === 'linux' ? Math.floor(reported / 2) : reported;
  } finally {
    socket.close();
  }
}

export type JoinProblem = 'port-in-use' | 'no-interface' | 'too-many-groups' | 'other';

/** A chat's group could not be joined; the message says what is wrong, for the person. */
export class MulticastJoinError extends Error {
  override readonly name = 'MulticastJoinError';

  constructor(
    readonly problem: JoinProblem,
    readonly group: string,
    readonly port: number,
    /** The failing call and its error code (`bind`, `EADDRINUSE`), when the system refused. */
    readonly syscall: string | undefined,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface PortSocket {
  socket: Socket;
  groups: Set<string>;
  /** Bound: resolves once the port is ours, rejects with why not. */
  bound: Promise<void>;
  full: boolean;
}

// The system's "no more memberships on this socket": Linux, then BSD and macOS.
const SOCKET_FULL = new Set(['ENOBUFS', 'ETOOMANYREFS']);
// The interface address is not one of this machine's, or cannot do multicast.
const NO_INTERFACE = new Set(['EADDRNOTAVAIL', 'ENODEV', 'EINVAL', 'ENXIO']);

/** The Receiver's multicast over node:dgram. */
export class GroupSockets implements MulticastTransport {
  private readonly pools = new Map<number, PortSocket[]>();
  /** How many chats use each group:port: a membership is dropped when the last one leaves. */
  private readonly users = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly interfaceAddress: string,
    private readonly onDatagram: (datagram: Buffer, arrival: Arrival) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** How many sockets are open, over all ports. */
  get socketCount(): number {
    let count = 0;
    for (const pool of this.pools.values()) count += pool.length;
    return count;
  }

  /** Joins `group` on `port`, opening a socket for the port if none has room. Throws MulticastJoinError. */
  async join(group: string, port: number): Promise<void> {
    const key = `${group}:${port}`;
    const users = this.users.get(key) ?? 0;
    this.users.set(key, users + 1);
    if (users > 0) return;
    try {
      await this.addMembership(group, port);
    } catch (error) {
      this.release(key);
      throw error;
    }
  }

  /** Leaves `group` on `port` (once every chat using it has left); closes a socket left with no group. */
  leave(group: string, port: number): void {
    const key = `${group}:${port}`;
    if (!this.users.has(key)) return;
    if (this.release(key) > 0) return;
    const pool = this.pools.get(port) ?? [];
    const holder = pool.find((s) => s.groups.has(group));
    if (!holder) return;
    holder.groups.delete(group);
    holder.full = false;
    try {
      holder.socket.dropMembership(group, this.interfaceAddress);
    } catch {
      // already dropped
    }
    if (holder.groups.size === 0) this.closeSocket(port, holder);
  }

  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) for (const s of pool) s.socket.close();
    this.pools.clear();
    this.users.clear();
  }

  private release(key: string): number {
    const left = (this.users.get(key) ?? 1) - 1;
    if (left > 0) this.users.set(key, left);
    else this.users.delete(key);
    return left;
  }

  private async addMembership(group: string, port: number): Promise<void> {
    for (;;) {
      const target = (this.pools.get(port) ?? []).find((s) => !s.full) ?? this.open(port);
      try {
        await target.bound;
      } catch (error) {
        this.closeSocket(port, target);
        throw joinError(error, group, port, this.interfaceAddress);
      }
      if (this.closed) throw new MulticastJoinError('other', group, port, undefined, undefined, 'the receiver was closed');
      try {
        target.socket.addMembership(group, this.interfaceAddress);
        target.groups.add(group);
        return;
      } catch (error) {
        // This socket is full: the next one (or a new one) takes the group. A fresh socket that
        // cannot take a single membership will not do better the next time: give up.
        if (isSocketFull(error) && target.groups.size > 0) {
          target.full = true;
          continue;
        }
        if (target.groups.size === 0) this.closeSocket(port, target);
        throw joinError(error, group, port, this.interfaceAddress);
      }
    }
  }

  private open(port: number): PortSocket {
    const socket = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECEIVE_BUFFER_BYTES });
    const pool = this.pools.get(port) ?? [];
    this.pools.set(port, pool);
    const entry: PortSocket = {
      socket,
      groups: new Set(),
      full: false,
      bound: new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, () => {
          socket.off('error', reject);
          // A receive error must never stop us listening: report it and go on.
          socket.on('error', (error) => this.onError(error));
          resolve();
        });
      }),
    };
    entry.bound.catch(() => {}); // awaited by every join that picked this socket
    socket.on('message', (datagram) => this.onDatagram(datagram, { port, groups: entry.groups, first: pool[0] === entry }));
    pool.push(entry);
    return entry;
  }

  private closeSocket(port: number, entry: PortSocket): void {
    const pool = this.pools.get(port);
    if (!pool?.includes(entry)) return;
    pool.splice(pool.indexOf(entry), 1);
    if (pool.length === 0) this.pools.delete(port);
    try {
      entry.socket.close();
    } catch {
      // never bound, or already closed
    }
  }
}

/** The default MulticastTransport of a Receiver joining groups on `interfaceAddress`. */
export function groupSocketsOn(interfaceAddress: string): MulticastTransportFactory {
  return (events) => new GroupSockets(interfaceAddress, events.datagram, events.error);
}

function isSocketFull(error: unknown): boolean {
  return SOCKET_FULL.has((error as NodeJS.ErrnoException).code ?? '');
}

/** The system's refusal, said as what it means for receiving the chat. */
function joinError(error: unknown, group: string, port: number, interfaceAddress: string): MulticastJoinError {
  if (error instanceof MulticastJoinError) return error;
  const { code, syscall } = error as NodeJS.ErrnoException;
  const because = `${syscall ?? 'join'} ${code ?? (error as Error).message}`;
  if (syscall === 'bind' && (code === 'EADDRINUSE' || code === 'EACCES')) {
    return new MulticastJoinError('port-in-use', group, port, syscall, code, `port ${port} is in use by another program on this machine (${because}): the chat cannot be received live until it is free`);
  }
  if (isSocketFull(error)) {
    return new MulticastJoinError('too-many-groups', group, port, syscall, code, `the system refused another multicast membership for group ${group} port ${port} (${because})`);
  }
  if (syscall === 'addMembership' && code !== undefined && NO_INTERFACE.has(code)) {
    return new MulticastJoinError('no-interface', group, port, syscall, code, `cannot join multicast group ${group} on ${interfaceAddress} (${because}): is it the address of one of this machine's interfaces?`);
  }
  return new MulticastJoinError('other', group, port, syscall, code, `cannot receive multicast group ${group} port ${port} (${because})`);
}

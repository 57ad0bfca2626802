/**
 * What the Receiver needs of multicast: to join and leave a chat's group on its port, and to be
 * handed each datagram with where it came in. The Receiver's policy (routing, key epochs, held
 * datagrams, ordering, repair) talks only to this; `group-sockets.ts` is the node:dgram one
 * (it binds the port's sockets as groups are joined), tests pass a fake.
 */

/** Where a datagram came in: the groups its socket joined, and whether it is the port's first socket. */
export interface Arrival {
  port: number;
  groups: ReadonlySet<string>;
  /** The first socket of its port: the one that speaks for datagrams no socket's group claims. */
  first: boolean;
}

export interface MulticastEvents {
  datagram(datagram: Buffer, arrival: Arrival): void;
  /** A receive error: reported, and listening goes on. */
  error(error: unknown): void;
}

export interface MulticastTransport {
  /** Joins `group` on `port`; rejects with a MulticastJoinError saying why not. */
  join(group: string, port: number): Promise<void>;
  /** Leaves it, once every chat using it has left. */
  leave(group: string, port: number): void;
  close(): void;
  /** Sockets open (the node:dgram transport may need several per port). */
  readonly socketCount: number;
}

export type MulticastTransportFactory = (events: MulticastEvents) => MulticastTransport;

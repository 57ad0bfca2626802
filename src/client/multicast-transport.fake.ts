import type { MulticastEvents, MulticastTransport, MulticastTransportFactory } from './multicast-transport.js';

/** Multicast without a socket: joins are recorded, and the test hands datagrams in with `deliver`. */
export class FakeMulticast implements MulticastTransport {
  readonly joined = new Set<string>();
  private events: MulticastEvents | undefined;

  /** The factory a Receiver takes as its `multicast` option. */
  readonly factory: MulticastTransportFactory = (events) => {
    this.events = events;
    return this;
  };

  async join(group: string, port: number): Promise<void> {
    this.joined.add(`${group}:${port}`);
  }

  leave(group: string, port: number): void {
    this.joined.delete(`${group}:${port}`);
  }

  close(): void {
    this.joined.clear();
  }

  get socketCount(): number {
    return this.joined.size > 0 ? 1 : 0;
  }

  /** A datagram arrives on `port`, on the socket holding `group`. */
  deliver(datagram: Buffer, group: string, port: number): void {
    this.events?.datagram(datagram, { port, groups: new Set(this.joined.has(`${group}:${port}`) ? [group] : []), first: true });
  }
}

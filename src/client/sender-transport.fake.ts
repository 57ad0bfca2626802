import { type Frame, FrameDecoder, encodeFrame } from '../protocol/frames.js';
import { PROTOCOL_VERSION } from '../protocol/limits.js';
import type { Ack } from './sender.js';
import type { SenderConnection, SenderConnectionEvents, SenderTransport } from './sender-transport.js';

/** One connection the Sender opened: the test plays the server on it. */
export class FakeConnection implements SenderConnection {
  /** What the Sender wrote, as frames. */
  readonly frames: Frame[] = [];
  destroyed = false;
  private readonly decoder = new FrameDecoder();

  constructor(private readonly events: SenderConnectionEvents) {}

  write(bytes: Buffer): void {
    if (this.destroyed) throw new Error('write after destroy');
    this.frames.push(...this.decoder.push(bytes));
  }

  /** As a socket's: `closed` comes later, not from inside the call. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.events.closed());
  }

  /** The connection is made (and, for TLS, the handshake done): the Sender says hello. */
  accept(): void {
    this.events.ready();
  }

  reply(...frames: Frame[]): void {
    this.events.data(Buffer.concat(frames.map((f) => encodeFrame(f))));
  }

  untrusted(error: Error): void {
    this.events.untrusted(error);
  }

  /** The server ends the connection. */
  drop(): void {
    this.destroy();
  }

  /** The frames of one type the Sender wrote. */
  sent<T extends Frame['t']>(t: T): Extract<Frame, { t: T }>[] {
    return this.frames.filter((f): f is Extract<Frame, { t: T }> => f.t === t);
  }
}

/** A transport that opens no socket: each connect() is a FakeConnection, in `connections`. */
export class FakeSenderTransport implements SenderTransport {
  readonly connections: FakeConnection[] = [];

  constructor(readonly handshake: SenderTransport['handshake'] = 'connection') {}

  connect(events: SenderConnectionEvents): FakeConnection {
    const connection = new FakeConnection(events);
    this.connections.push(connection);
    return connection;
  }

  get last(): FakeConnection {
    const connection = this.connections.at(-1);
    if (!connection) throw new Error('no connection was opened');
    return connection;
  }
}

// What the Sender's tests (one server, several servers) say and check on a fake connection.

export const welcome: Frame = { t: 'welcome', v: PROTOCOL_VERSION, userId: 1 };
export const ack = (id: string, seq: number): Frame => ({ t: 'ack', id, chat: 'AAAAA-11111', seq, sentAt: '2024-05-01T12:00:00.000Z' });

/** Accepts and welcomes the connection. */
export function welcomeOn(connection: FakeConnection): void {
  connection.accept();
  connection.reply(welcome);
}

/** The outcome of a send, filled in when it settles. */
export function track(promise: Promise<Ack>) {
  const outcome: { ack?: Ack; error?: unknown } = {};
  promise.then(
    (a) => (outcome.ack = a),
    (e: unknown) => (outcome.error = e),
  );
  return outcome;
}

export const sentIds = (c: FakeConnection) => c.sent('send').map((f) => f.id);

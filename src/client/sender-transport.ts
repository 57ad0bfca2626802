/**
 * What the Sender needs of a connection to the server's TCP port: bytes out, bytes in, and to
 * be told when it is ready for the `hello`, when it can never be trusted, and when it is gone.
 * The Sender's policy (hello and welcome, the send window, acks, rate pauses, reconnects) talks
 * only to this; `tcp-transport.ts` is the node:net / node:tls one, tests pass a fake.
 */
/** Events come after `connect` has returned (the Sender ignores any before). */
export interface SenderConnectionEvents {
  /** Ready for the `hello`: connected, and over TLS the handshake done and the pin checked. */
  ready(): void;
  data(chunk: Buffer): void;
  /** Retrying cannot mend this (a certificate nothing vouches for, or not the pinned one). */
  untrusted(error: Error): void;
  /** The connection is gone, whoever ended it; called once. */
  closed(): void;
}

export interface SenderConnection {
  write(bytes: Buffer): void;
  /** Ends the connection at once; `closed` follows. */
  destroy(): void;
  readonly destroyed: boolean;
}

export interface SenderTransport {
  /** Says what a connection attempt waits for, for the deadline's message: the TCP connection or the TLS handshake. */
  readonly handshake: 'connection' | 'TLS handshake';
  connect(events: SenderConnectionEvents): SenderConnection;
}

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type Server, createServer } from 'node:tls';
import { createSelfSignedCertificate } from '../../src/server/tls/self-signed.js';

export interface Impostor {
  /** https://127.0.0.1:PORT */
  url: string;
  /** Every byte of application data it was sent: a client that pins another certificate sends none. */
  bytes(): Buffer;
  server: Server;
}

/**
 * A program passing for a Chorus server: TLS on 127.0.0.1:`port` (0: any free one) with a
 * certificate of its own, keeping whatever it is sent. Close its `server` when done.
 */
export async function impostor(port = 0): Promise<Impostor> {
  const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: ['127.0.0.1'] });
  const received: Buffer[] = [];
  const server = createServer({ cert: certPem, key: keyPem }, (socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => received.push(chunk));
  });
  server.on('tlsClientError', () => {});
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, bytes: () => Buffer.concat(received), server };
}

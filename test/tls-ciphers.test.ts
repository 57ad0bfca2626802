import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * The suites the server's TLS accepts, on both of its ports: AEAD only. A client that offers
 * nothing but a CBC suite gets no connection; one offering an AEAD suite gets that suite.
 */

let server: TestServer;
let ports: { name: string; port: number }[];

beforeAll(async () => {
  server = await startTestServer({ tls: { force: true } });
  ports = [
    { name: 'HTTPS', port: Number(new URL(server.httpUrl).port) },
    { name: 'TCP ingest', port: server.tcpPort },
  ];
});

afterAll(async () => {
  await server?.dispose();
});

/** A TLS 1.2 handshake offering only `cipher`: the suite agreed, or the error. */
function handshake(port: number, cipher?: string): Promise<{ cipher: string; protocol: string | null } | { error: string }> {
  return new Promise((resolve) => {
    // The certificate is self-signed; what is tested here is the suite, not the pin.
    const only12 = cipher === undefined ? {} : { maxVersion: 'TLSv1.2' as const, ciphers: cipher };
    const socket = connect({ host: '127.0.0.1', port, ...only12, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      resolve({ cipher: socket.getCipher().standardName, protocol: socket.getProtocol() });
      socket.destroy();
    });
    socket.once('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
  });
}

describe('TLS suites', () => {
  it.each(['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256'])('refuses a TLS 1.2 client offering only %s (CBC)', async (cipher) => {
    for (const { name, port } of ports) {
      const result = await handshake(port, cipher);
      expect(result, name).toHaveProperty('error');
    }
  });

  it.each([
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
    ['ECDHE-ECDSA-CHACHA20-POLY1305', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  ])('accepts a TLS 1.2 client offering %s (AEAD)', async (cipher, standardName) => {
    for (const { name, port } of ports) expect(await handshake(port, cipher), name).toEqual({ cipher: standardName, protocol: 'TLSv1.2' });
  });

  it('still speaks TLS 1.3 with its AEAD suites to a client that offers it', async () => {
    for (const { name, port } of ports) {
      expect(await handshake(port), name).toMatchObject({ protocol: 'TLSv1.3', cipher: expect.stringMatching(/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/) });
    }
  });
});

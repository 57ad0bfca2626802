import { Type } from 'typebox';
import { PROTOCOL_VERSION } from '../../protocol/limits.js';
import type { App, HttpServices } from './services.js';

export function serverInfoRoutes(app: App, { identity, tcpPort, tls, metrics }: HttpServices): void {
  app.get(
    '/server',
    {
      schema: {
        summary: 'Where to send messages: the TCP port and protocol version; whether both ports speak TLS',
        description:
          'tlsFingerprint is for display: a client pins the fingerprint of the certificate it saw in the TLS handshake, ' +
          'which is checked before any request is sent, so an answer over that connection adds no proof.',
        response: {
          200: Type.Object({
            protocolVersion: Type.Integer(),
            tcpPort: Type.Integer(),
            tls: Type.Boolean(),
            tlsFingerprint: Type.Optional(Type.String({ description: 'SHA-256 of the DER certificate, colon-separated uppercase hex' })),
          }),
        },
      },
    },
    async () => ({ protocolVersion: PROTOCOL_VERSION, tcpPort, tls: tls !== undefined, ...(tls ? { tlsFingerprint: tls.fingerprint } : {}) }),
  );

  app.get(
    '/server-key',
    {
      schema: {
        summary: 'The public key that signs every multicast datagram (clients pin it)',
        response: { 200: Type.Ref('ServerKey') },
      },
    },
    async () => ({ algorithm: 'Ed25519' as const, publicKey: identity.publicKeyBase64, fingerprint: identity.fingerprint }),
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Metrics in the Prometheus text format: messages, commits, datagrams, TCP connections, refusals by code, the process',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  app.get(
    '/health',
    { schema: { summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
}

import { Type } from 'typebox';
import { PROTOCOL_VERSION } from '../../protocol/limits.js';
import type { App, HttpServices } from './app.js';

export function serverInfoRoutes(app: App, { identity, tcpPort }: HttpServices): void {
  app.get(
    '/server',
    {
      schema: {
        summary: 'Where to send messages: the TCP port and protocol version',
        response: { 200: Type.Object({ protocolVersion: Type.Integer(), tcpPort: Type.Integer() }) },
      },
    },
    async () => ({ protocolVersion: PROTOCOL_VERSION, tcpPort }),
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
    '/health',
    { schema: { summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
}

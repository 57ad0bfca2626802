import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { WebSocket } from 'ws';
import type { Gate } from './gate.js';
import { serveUiFiles } from './static-files.js';
import { MAX_UI_FRAME_BYTES } from './ui-protocol.js';

/**
 * The agent's HTTP server, on 127.0.0.1: the built UI's files, and /ws, the WebSocket each tab
 * talks to the agent on. Every request must name this agent in its Host header (which defeats
 * DNS rebinding) and the WebSocket must come from a page of this agent's Origin (browsers let
 * any page open a WebSocket anywhere); what admits a tab is the handshake on the socket (gate.ts).
 */
export async function buildUiServer(gate: Gate, uiDir: string, onSocket: (socket: WebSocket, origin: string) => void): Promise<FastifyInstance> {
  // No logger: nothing a tab sends is written anywhere.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(websocket, {
    options: { maxPayload: MAX_UI_FRAME_BYTES },
    preClose(done) {
      for (const socket of this.websocketServer.clients) socket.close(1001, 'Chorus client stopped');
      this.websocketServer.close();
      done();
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    setSecurityHeaders(reply, gate.port);
    if (!gate.hostAllowed(request)) return refuse(reply, 403, 'This address is not the Chorus client (wrong Host header).');
    if (request.ws && (request.routeOptions.url !== '/ws' || !gate.originAllowed(request))) return refuse(reply, 403, 'Forbidden.');
    if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(reply.header('allow', 'GET, HEAD'), 405, 'Method not allowed.');
  });
  app.route({
    method: 'GET',
    url: '/ws',
    handler: (_request, reply) => refuse(reply, 426, 'This address takes WebSocket connections only.'),
    // The Origin was checked before the upgrade, so it is there and this agent's.
    wsHandler: (socket, request) => onSocket(socket, request.headers.origin!),
  });
  // The UI's files are the same for everyone and hold nothing private: what admits a tab is the
  // handshake on the WebSocket. So they load for a tab reloaded after a restart too.
  await serveUiFiles(app, uiDir);
  return app;
}

function refuse(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(`${text}\n`);
}

/** The page may load only its own files and talk only to this agent; nobody may frame it. */
function setSecurityHeaders(reply: FastifyReply, port: number): void {
  const ws = `ws://127.0.0.1:${port} ws://localhost:${port}`;
  reply.headers({
    'content-security-policy':
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self' ${ws}; ` +
      `manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
}

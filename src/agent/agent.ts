import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { Gate } from './gate.js';
import { Session } from './session.js';
import { StaticFiles } from './static-files.js';
import { toUiError } from './ui-errors.js';
import { type AgentToUi, MAX_UI_FRAME_BYTES, type UiPush } from './ui-protocol.js';
import { BadUiRequest, parseUiRequest, performUiRequest } from './ui-requests.js';

export interface AgentConfig {
  /** The Chorus server's base URL. */
  server: string;
  /** For an https:// server: the certificate fingerprint to pin, when the profile has none (or another). */
  tlsFingerprint?: string;
  profileDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Where multicast groups are joined. */
  interfaceAddress: string;
  /** The built UI (default: web/dist of this package). */
  uiDir?: string;
}

export interface RunningAgent {
  /** The address to open, with the secret: http://127.0.0.1:PORT/?s=SECRET */
  url: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/**
 * The local agent behind `chorus client`: serves the built web UI on 127.0.0.1 and bridges it,
 * over a WebSocket, to the client library (API client, sender, receiver) running here. Only the
 * browser that opened the printed address may use it (see gate.ts).
 */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const files = new StaticFiles(config.uiDir);
  await files.check();
  const gate = new Gate();
  const sockets = new Set<WebSocket>();
  const broadcast = (event: UiPush) => {
    const text = JSON.stringify(event);
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send(text);
  };
  const session = await Session.open({
    profileDir: config.profileDir,
    server: config.server,
    ...(config.tlsFingerprint ? { tlsFingerprint: config.tlsFingerprint } : {}),
    interfaceAddress: config.interfaceAddress,
    push: broadcast,
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_UI_FRAME_BYTES });
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.terminate());
    socket.on('message', (data, isBinary) => {
      if (isBinary) return socket.close(1003, 'text frames only');
      void answer(socket, session, data.toString());
    });
    for (const event of session.snapshot()) send(socket, event);
  });

  const http = createServer((request, response) => {
    setSecurityHeaders(response, gate);
    void handleHttp(request, response, gate, files).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = request.url?.split('?')[0];
    if (path !== '/ws' || !gate.hostAllowed(request) || !gate.originAllowed(request) || !gate.hasCookie(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  const port = await listen(http, config.port).catch(async (error: unknown) => {
    await session.close();
    throw error;
  });
  gate.listeningOn(port);

  let closing: Promise<void> | undefined;
  return {
    url: gate.launchUrl,
    port,
    close() {
      closing ??= (async () => {
        for (const socket of sockets) socket.close(1001, 'Chorus client stopped');
        wss.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await session.close();
      })();
      return closing;
    },
  };
}

async function handleHttp(request: IncomingMessage, response: ServerResponse, gate: Gate, files: StaticFiles): Promise<void> {
  if (!gate.hostAllowed(request)) return refuse(response, 403, 'This address is not the Chorus client (wrong Host header).');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return refuse(response, 405, 'Method not allowed.');
  }
  const url = new URL(request.url ?? '/', `http://${LOOPBACK}`);
  if (url.pathname === '/' && url.searchParams.has('s')) {
    if (!gate.secretMatches(url.searchParams.get('s'))) return refuse(response, 403, 'This link is not valid (any more): use the address the Chorus client printed.');
    // The secret becomes a cookie, and leaves the address bar.
    response.writeHead(303, { location: '/', 'set-cookie': gate.setCookieHeader(), 'cache-control': 'no-store' });
    response.end();
    return;
  }
  if (!gate.hasCookie(request)) return refuse(response, 403, 'Open the address the Chorus client printed when it started (it ends with ?s=…).');
  if (url.pathname === '/ws') return refuse(response, 426, 'This address takes WebSocket connections only.');
  await files.serve(url.pathname, response, request.method === 'HEAD');
}

/** Answers one request from the UI. */
async function answer(socket: WebSocket, session: Session, text: string): Promise<void> {
  let id: number | undefined;
  try {
    const request = parseUiRequest(text);
    id = request.id;
    const result = await performUiRequest(session, request);
    send(socket, { type: 'reply', id, ok: true, result });
  } catch (error) {
    id ??= error instanceof BadUiRequest ? error.requestId : undefined;
    if (id !== undefined) send(socket, { type: 'reply', id, ok: false, error: toUiError(error) });
  }
}

function send(socket: WebSocket, message: AgentToUi): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function refuse(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${text}\n`);
}

/** The page may load only its own files and talk only to this agent; nobody may frame it. */
function setSecurityHeaders(response: ServerResponse, gate: Gate): void {
  const ws = `ws://127.0.0.1:${gate.port} ws://localhost:${gate.port}`;
  response.setHeader(
    'content-security-policy',
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self' ${ws}; ` +
      `manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  );
  response.setHeader('x-content-type-options', 'nosniff');
  response.setHeader('x-frame-options', 'DENY');
  response.setHeader('referrer-policy', 'no-referrer');
  response.setHeader('cross-origin-opener-policy', 'same-origin');
  response.setHeader('cross-origin-resource-policy', 'same-origin');
}

function listen(http: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, LOOPBACK, () => {
      http.off('error', reject);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

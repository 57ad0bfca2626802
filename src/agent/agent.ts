import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { loadAgentState } from './agent-state.js';
import { type ControlServer, listenControl } from './control-socket.js';
import { Gate, closeCodeFor } from './gate.js';
import { Session } from './session.js';
import { StaticFiles } from './static-files.js';
import { TabKeys } from './tab-keys.js';
import { toUiError } from './ui-errors.js';
import { ADMISSION_DEADLINE_MS, ADMISSION_TIMEOUT, type AgentToUi, MAX_UI_FRAME_BYTES, type UiPush } from './ui-protocol.js';
import { BadUiRequest, parseUiRequest, performUiRequest } from './ui-requests.js';

export interface AgentConfig {
  /** The Chorus server's base URL. */
  server: string;
  /** For an https:// server: the certificate fingerprint to pin, when the profile has none (or another). */
  tlsFingerprint?: string;
  profileDir: string;
  /** 0 picks a free port; undefined: the port this profile's agent used last, if free, else a free one. */
  port?: number;
  /** Where multicast groups are joined. */
  interfaceAddress: string;
  /** The built UI (default: web/dist of this package). */
  uiDir?: string;
  /** The command that starts this client again, as the person ran it, for the tab to show while it is away. */
  relaunch?: string;
}

export interface RunningAgent {
  /** A launch link: http://127.0.0.1:PORT/#ticket=…, good for one browser tab, once. */
  url: string;
  port: number;
  /** The port this profile used before, when it was taken and another had to be chosen. */
  movedFrom?: number;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/**
 * The local agent behind `chorus client`: serves the built web UI on 127.0.0.1 and bridges it,
 * over a WebSocket, to the client library (API client, sender, receiver) running here. Only
 * browser tabs admitted through a launch link may use it (see gate.ts).
 */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const files = new StaticFiles(config.uiDir);
  await files.check();
  const gate = new Gate();
  const admitted = new Set<WebSocket>();
  const broadcast = (event: UiPush) => {
    const text = JSON.stringify(event);
    for (const socket of admitted) if (socket.readyState === WebSocket.OPEN) socket.send(text);
  };
  const session = await Session.open({
    profileDir: config.profileDir,
    server: config.server,
    ...(config.tlsFingerprint ? { tlsFingerprint: config.tlsFingerprint } : {}),
    interfaceAddress: config.interfaceAddress,
    ...(config.relaunch ? { relaunch: config.relaunch } : {}),
    push: broadcast,
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_UI_FRAME_BYTES });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    admitThenServe(socket, request.headers.origin!, gate, session, () => admitted.add(socket));
    socket.on('close', () => admitted.delete(socket));
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
    if (path !== '/ws' || !gate.hostAllowed(request) || !gate.originAllowed(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  let control: ControlServer | undefined;
  let listening: { port: number; movedFrom?: number };
  try {
    listening = await listenOnProfilePort(http, config.port, config.profileDir);
    gate.listeningOn(listening.port, await TabKeys.open(config.profileDir, listening.port));
    control = await listenControl(config.profileDir, () => gate.launchUrl());
  } catch (error) {
    http.close();
    await session.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    url: gate.launchUrl(),
    port: listening.port,
    ...(listening.movedFrom ? { movedFrom: listening.movedFrom } : {}),
    close() {
      closing ??= (async () => {
        await control?.close();
        for (const socket of wss.clients) socket.close(1001, 'Chorus client stopped');
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

/**
 * One WebSocket: the challenge, then the tab's admission within the deadline, and only then the
 * UI's requests and the agent's pushes. Nothing about the user is said before admission.
 */
function admitThenServe(socket: WebSocket, origin: string, gate: Gate, session: Session, onAdmitted: () => void): void {
  const nonce = gate.newNonce();
  let state: 'waiting' | 'judging' | 'admitted' = 'waiting';
  const deadline = setTimeout(() => socket.close(ADMISSION_TIMEOUT, 'not admitted in time'), ADMISSION_DEADLINE_MS);
  socket.on('close', () => clearTimeout(deadline));
  socket.on('error', () => socket.terminate());
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return socket.close(1003, 'text frames only');
    if (state === 'admitted') return void answer(socket, session, data.toString());
    // One admission message, then silence until it is judged.
    if (state === 'judging') return socket.terminate();
    state = 'judging';
    void gate.admit(parseJson(data.toString()), origin, nonce).then(
      async (admission) => {
        clearTimeout(deadline);
        if (admission !== 'admitted') return socket.close(closeCodeFor(admission), admission);
        state = 'admitted';
        send(socket, { type: 'admitted' });
        // A tab (re)connecting is told the profile's truth as it is now, not as it was.
        await session.reconcileWithProfile();
        onAdmitted();
        for (const event of session.snapshot()) send(socket, event);
        session.checkWithServer();
      },
      () => socket.terminate(),
    );
  });
  send(socket, { type: 'challenge', nonce });
}

async function handleHttp(request: IncomingMessage, response: ServerResponse, gate: Gate, files: StaticFiles): Promise<void> {
  if (!gate.hostAllowed(request)) return refuse(response, 403, 'This address is not the Chorus client (wrong Host header).');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return refuse(response, 405, 'Method not allowed.');
  }
  const url = new URL(request.url ?? '/', `http://${LOOPBACK}`);
  if (url.pathname === '/ws') return refuse(response, 426, 'This address takes WebSocket connections only.');
  // The UI's files are the same for everyone and hold nothing private: what admits a tab is the
  // handshake on the WebSocket. So they load for a tab reloaded after a restart too.
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
    session.requestFailed(error);
  }
}

function send(socket: WebSocket, message: AgentToUi): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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

/**
 * The port asked for; without one, the port this profile's agent served on last time (its tabs
 * live on that origin), else, if that is taken, a free one.
 */
async function listenOnProfilePort(http: Server, requested: number | undefined, profileDir: string): Promise<{ port: number; movedFrom?: number }> {
  if (requested !== undefined) return { port: await listen(http, requested) };
  const remembered = (await loadAgentState(profileDir))?.port;
  if (remembered === undefined) return { port: await listen(http, 0) };
  try {
    return { port: await listen(http, remembered) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    return { port: await listen(http, 0), movedFrom: remembered };
  }
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

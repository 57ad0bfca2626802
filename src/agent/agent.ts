import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type RawData, WebSocket } from 'ws';
import { loadAgentState } from './agent-state.js';
import { type ControlServer, listenControl } from './control-socket.js';
import { Gate, closeCodeFor } from './gate.js';
import { Session } from './session.js';
import { builtUiDir } from './static-files.js';
import { TabKeys } from './tab-keys.js';
import { toUiError } from './ui-errors.js';
import { ADMISSION_DEADLINE_MS, ADMISSION_TIMEOUT, type AgentToUi, type UiPush } from './ui-protocol.js';
import { BadUiRequest, parseUiRequest, performUiRequest } from './ui-requests.js';
import { buildUiServer } from './ui-server.js';

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
  /** The account this client was started for: the login screen comes first, with it filled in. */
  loginEmail?: string;
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
  const uiDir = await builtUiDir(config.uiDir);
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
    ...(config.loginEmail ? { loginEmail: config.loginEmail } : {}),
    push: broadcast,
  });

  let http: FastifyInstance | undefined;
  let control: ControlServer | undefined;
  let listening: { port: number; movedFrom?: number };
  try {
    http = await buildUiServer(gate, uiDir, (socket, origin) => {
      admitThenServe(socket, origin, gate, session, () => admitted.add(socket));
      socket.on('close', () => {
        admitted.delete(socket);
        session.tabClosed(socket);
      });
    });
    listening = await listenOnProfilePort(http, config.port, config.profileDir);
    gate.listeningOn(listening.port, await TabKeys.open(config.profileDir, listening.port));
    control = await listenControl(config.profileDir, () => gate.launchUrl());
  } catch (error) {
    await http?.close();
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
        await http.close();
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
        // The list in the snapshot is the one read last: chats joined or left elsewhere since
        // (the CLI on this profile, say) come with the list read now, pushed to every tab.
        session.refreshChats();
      },
      () => socket.terminate(),
    );
  });
  send(socket, { type: 'challenge', nonce });
}

/** Answers one request from the UI. */
async function answer(socket: WebSocket, session: Session, text: string): Promise<void> {
  let id: number | undefined;
  try {
    const request = parseUiRequest(text);
    id = request.id;
    const result = await performUiRequest(session, request, socket);
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

/**
 * The port asked for; without one, the port this profile's agent served on last time (its tabs
 * live on that origin), else, if that is taken, a free one.
 */
async function listenOnProfilePort(http: FastifyInstance, requested: number | undefined, profileDir: string): Promise<{ port: number; movedFrom?: number }> {
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

async function listen(http: FastifyInstance, port: number): Promise<number> {
  await http.listen({ port, host: LOOPBACK });
  return (http.server.address() as AddressInfo).port;
}

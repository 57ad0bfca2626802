import WebSocket from 'ws';
import type { AgentToUi, UiPush, UiRequestType } from '../../../src/agent/ui-protocol.js';
import type { ClientAgent } from './client-agents.js';

/** A raw WebSocket to an agent, as a test (or an attacker) would open one, outside any browser. */

/** The cookie the agent gives for its secret. */
export async function agentCookie(agent: ClientAgent): Promise<string> {
  const response = await fetch(agent.url, { redirect: 'manual' });
  const setCookie = response.headers.get('set-cookie');
  if (response.status !== 303 || !setCookie) throw new Error(`no cookie for the secret: HTTP ${response.status}`);
  return setCookie.split(';')[0]!;
}

export interface UiSocket {
  /** Every frame received, parsed. */
  frames: AgentToUi[];
  raw: string[];
  request<T extends UiRequestType>(type: T, fields?: Record<string, unknown>): Promise<{ ok: boolean; result?: any; error?: { code: string; message: string; field?: string } }>;
  next(predicate: (push: UiPush) => boolean, timeoutMs?: number): Promise<UiPush>;
  close(): void;
}

/** Opens the socket; rejects with the HTTP status if the agent refuses the upgrade. */
export function connectUi(agent: ClientAgent, headers: Record<string, string>): Promise<UiSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${agent.port}/ws`, { headers });
    const frames: AgentToUi[] = [];
    const raw: string[] = [];
    const waiters: { predicate(p: UiPush): boolean; resolve(p: UiPush): void }[] = [];
    let nextId = 1;
    socket.on('message', (data) => {
      const text = data.toString();
      raw.push(text);
      const frame = JSON.parse(text) as AgentToUi;
      frames.push(frame);
      if (frame.type !== 'reply') {
        for (const w of [...waiters]) {
          if (w.predicate(frame)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(frame);
          }
        }
      }
    });
    socket.once('unexpected-response', (_request, response) => reject(Object.assign(new Error(`upgrade refused: HTTP ${response.statusCode}`), { status: response.statusCode })));
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        frames,
        raw,
        request(type, fields = {}) {
          const id = nextId++;
          socket.send(JSON.stringify({ ...fields, type, id }));
          return new Promise((done) => {
            const check = () => {
              const reply = frames.find((f) => f.type === 'reply' && f.id === id);
              if (reply && reply.type === 'reply') done(reply.ok ? { ok: true, result: reply.result } : { ok: false, error: reply.error });
              else setTimeout(check, 10);
            };
            check();
          });
        },
        next(predicate, timeoutMs = 10_000) {
          const seen = frames.find((f): f is UiPush => f.type !== 'reply' && predicate(f));
          if (seen) return Promise.resolve(seen);
          return new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error('timed out waiting for a push')), timeoutMs);
            waiters.push({ predicate, resolve: (p) => (clearTimeout(timer), done(p)) });
          });
        },
        close: () => socket.close(),
      }),
    );
  });
}

import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import WebSocket from 'ws';
import { type AgentToUi, type TabAdmission, type TabPublicKey, type UiPush, type UiRequestType, tabProofText } from '../../../src/agent/ui-protocol.js';
import type { ClientAgent } from './client-agents.js';

/** A raw WebSocket to an agent, as a test (or an attacker) would open one, outside any browser. */

/** A tab's key pair, made as the web UI makes it (ECDSA P-256). */
export interface TabKey {
  publicKey: TabPublicKey;
  privateKey: KeyObject;
}

export function newTabKey(): TabKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { publicKey: { x: jwk.x!, y: jwk.y! }, privateKey };
}

/** The signature a tab on `origin` gives for `nonce`. */
export function tabSignature(key: TabKey, origin: string, nonce: string): string {
  return sign('sha256', Buffer.from(tabProofText(origin, nonce)), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
}

/** The ticket in a launch link. */
export function ticketOf(url: string): string {
  return /#ticket=([A-Za-z0-9_-]+)$/.exec(url)![1]!;
}

/**
 * How the socket answers the agent's challenge: enrol a key with a launch ticket, prove one
 * enrolled before, send something of one's own, or nothing at all.
 */
export type Answer =
  | { enrol: TabKey; ticket: string; signedOrigin?: string }
  | { prove: TabKey; signedOrigin?: string }
  | { raw: (nonce: string) => unknown }
  | 'nothing';

/** A tab's admission through a launch link of `agent`: a new key, enrolled. */
export async function enrolledTab(agent: ClientAgent): Promise<{ key: TabKey; answer: Answer }> {
  const key = newTabKey();
  return { key, answer: { enrol: key, ticket: ticketOf(await agent.launchLink()) } };
}

export interface UiSocket {
  /** Every frame received, parsed. */
  frames: AgentToUi[];
  raw: string[];
  request<T extends UiRequestType>(type: T, fields?: Record<string, unknown>): Promise<{ ok: boolean; result?: any; error?: { code: string; message: string; field?: string } }>;
  next(predicate: (push: UiPush) => boolean, timeoutMs?: number): Promise<UiPush>;
  close(): void;
}

/** Why a socket was not admitted: the HTTP status of a refused upgrade, or the close code after it. */
export interface Refusal extends Error {
  status?: number;
  closeCode?: number;
  /** Everything the agent said before closing. */
  frames?: AgentToUi[];
}

function admission(answer: Exclude<Answer, 'nothing'>, origin: string, nonce: string): unknown {
  if ('raw' in answer) return answer.raw(nonce);
  if ('enrol' in answer) {
    const m: TabAdmission = { type: 'enrol', ticket: answer.ticket, publicKey: answer.enrol.publicKey, signature: tabSignature(answer.enrol, answer.signedOrigin ?? origin, nonce) };
    return m;
  }
  const m: TabAdmission = { type: 'prove', publicKey: answer.prove.publicKey, signature: tabSignature(answer.prove, answer.signedOrigin ?? origin, nonce) };
  return m;
}

/**
 * Opens the socket and answers the challenge; resolves once admitted. Rejects with a Refusal:
 * the HTTP status if the upgrade is refused, the close code if the agent closes the socket.
 */
export function connectUi(agent: ClientAgent, headers: Record<string, string>, answer: Answer): Promise<UiSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${agent.port}/ws`, { headers });
    const frames: AgentToUi[] = [];
    const raw: string[] = [];
    const waiters: { predicate(p: UiPush): boolean; resolve(p: UiPush): void }[] = [];
    let nextId = 1;
    const ui: UiSocket = {
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
        const seen = frames.find((f): f is UiPush => isPush(f) && predicate(f));
        if (seen) return Promise.resolve(seen);
        return new Promise((done, fail) => {
          const timer = setTimeout(() => fail(new Error('timed out waiting for a push')), timeoutMs);
          waiters.push({ predicate, resolve: (p) => (clearTimeout(timer), done(p)) });
        });
      },
      close: () => socket.close(),
    };
    socket.on('message', (data) => {
      const text = data.toString();
      raw.push(text);
      const frame = JSON.parse(text) as AgentToUi;
      frames.push(frame);
      if (frame.type === 'challenge') {
        if (answer !== 'nothing') socket.send(JSON.stringify(admission(answer, headers.origin ?? '', frame.nonce)));
      } else if (frame.type === 'admitted') resolve(ui);
      else if (isPush(frame)) {
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
    socket.once('close', (code) => reject(Object.assign(new Error(`closed with ${code}`), { closeCode: code, frames })));
  });
}

function isPush(frame: AgentToUi): frame is UiPush {
  return frame.type !== 'reply' && frame.type !== 'challenge' && frame.type !== 'admitted';
}

import { createPublicKey, verify } from 'node:crypto';
import { type AgentState, type TabKey, loadAgentState, saveAgentState } from './agent-state.js';
import type { TabPublicKey } from './ui-protocol.js';

/**
 * The browser tabs this agent has admitted, by public key. A tab keeps its private key in its
 * own sessionStorage (scoped to the agent's origin, port included, and to that tab), and proves
 * it on every connection by signing the agent's fresh nonce together with its origin: a
 * signature is worth nothing on another connection or to an agent on another port, so a tab
 * reconnecting to whatever answers on the port while the agent is away gives nothing away.
 *
 * Keys are remembered with the port in agent.json, so tabs outlive a restart. They are dropped
 * when the agent cannot serve on the port they were admitted on: someone else may have held
 * that origin meanwhile, and a page of theirs could have read a tab's storage.
 */
const MAX_TABS = 32;
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

export class TabKeys {
  private constructor(
    private readonly dir: string,
    private readonly state: AgentState,
  ) {}

  /** The keys admitted on `port` before (none if the last run served elsewhere); remembers `port`. */
  static async open(dir: string, port: number): Promise<TabKeys> {
    const saved = await loadAgentState(dir);
    const keys = new TabKeys(dir, { port, tabs: saved?.port === port ? saved.tabs : [] });
    await keys.save();
    return keys;
  }

  get count(): number {
    return this.state.tabs.length;
  }

  /** The key is one admitted here and signed `text`; its use is recorded. */
  async prove(publicKey: TabPublicKey, signature: string, text: string): Promise<boolean> {
    const known = this.find(publicKey);
    if (!known || !signatureValid(publicKey, signature, text)) return false;
    known.usedAt = new Date().toISOString();
    await this.save();
    return true;
  }

  /** Admits a new key, once it has shown it can sign `text`. */
  async enrol(publicKey: TabPublicKey, signature: string, text: string): Promise<boolean> {
    if (!signatureValid(publicKey, signature, text)) return false;
    const tabs = this.state.tabs.filter((t) => !sameKey(t, publicKey));
    tabs.push({ x: publicKey.x, y: publicKey.y, usedAt: new Date().toISOString() });
    tabs.sort((a, b) => a.usedAt.localeCompare(b.usedAt));
    this.state.tabs = tabs.slice(-MAX_TABS);
    await this.save();
    return true;
  }

  private find(publicKey: TabPublicKey): TabKey | undefined {
    return this.state.tabs.find((t) => sameKey(t, publicKey));
  }

  private save(): Promise<void> {
    return saveAgentState(this.dir, this.state);
  }
}

/** An ECDSA P-256 / SHA-256 signature (IEEE P1363, base64url) by `publicKey` over `text`. Never throws. */
export function signatureValid(publicKey: TabPublicKey, signature: string, text: string): boolean {
  if (!isTabPublicKey(publicKey) || typeof signature !== 'string' || !SIGNATURE.test(signature)) return false;
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: publicKey.x, y: publicKey.y }, format: 'jwk' });
    return verify('sha256', Buffer.from(text, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  } catch {
    return false; // not a point on the curve, or not a key at all
  }
}

export function isTabPublicKey(value: unknown): value is TabPublicKey {
  if (typeof value !== 'object' || value === null) return false;
  const k = value as Record<string, unknown>;
  return typeof k.x === 'string' && COORDINATE.test(k.x) && typeof k.y === 'string' && COORDINATE.test(k.y);
}

function sameKey(a: TabPublicKey, b: TabPublicKey): boolean {
  return a.x === b.x && a.y === b.y;
}

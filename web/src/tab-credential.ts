import type { TabPublicKey } from '../../src/agent/ui-protocol.js';

/**
 * This tab's key for the local agent (see src/agent/gate.ts): an ECDSA P-256 key pair made here
 * when a launch link is opened, kept in sessionStorage, which belongs to this origin (the
 * agent's port included) and this tab alone, and survives a reload. The agent knows only the
 * public half; the tab proves the private half on every connection by signing the agent's
 * nonce with its own origin, so the key itself never leaves the page.
 */

const STORAGE_KEY = 'chorus-agent-tab-key';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export interface TabCredential {
  publicKey: TabPublicKey;
  privateKey: CryptoKey;
  /** The private key as stored; kept only until `save`. */
  jwk?: JsonWebKey;
}

/** A new key pair, not yet stored (it is, once the agent has admitted it). */
export async function newCredential(): Promise<TabCredential> {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  return { publicKey: { x: jwk.x!, y: jwk.y! }, privateKey: await importPrivate(jwk), jwk };
}

export function saveCredential(credential: TabCredential): void {
  if (credential.jwk) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential.jwk));
}

/** The key this tab was admitted with, if any. */
export async function storedCredential(): Promise<TabCredential | undefined> {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (!text) return undefined;
  try {
    const jwk = JSON.parse(text) as JsonWebKey;
    return { publicKey: { x: jwk.x!, y: jwk.y! }, privateKey: await importPrivate(jwk) };
  } catch {
    forgetCredential();
    return undefined;
  }
}

export function forgetCredential(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The signature (IEEE P1363 r||s, base64url) of `text`. */
export async function sign(credential: TabCredential, text: string): Promise<string> {
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, credential.privateKey, new TextEncoder().encode(text));
  return base64url(new Uint8Array(signature));
}

function importPrivate(jwk: JsonWebKey): Promise<CryptoKey> {
  return crypto.subtle.importKey('jwk', jwk, ALGORITHM, false, ['sign']);
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

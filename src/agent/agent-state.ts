import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateJsonFile } from '../client/private-json-file.js';

/**
 * What the agent remembers between runs, beside the profile (agent.json, 0600 in the 0700
 * profile folder): the port its UI was served on, so that the address (the browser's origin)
 * stays the same across restarts, and the public keys of the browser tabs admitted on that
 * port, so that an open tab reconnects by itself after a restart. Only public keys are kept:
 * the file holds nothing that admits anyone. Losing it only means running `chorus client`
 * again for a new link.
 */
export const AGENT_STATE_FILE = 'agent.json';

/** A browser tab's ECDSA P-256 public key (JWK coordinates, base64url). */
export interface TabKey {
  x: string;
  y: string;
  /** ISO time of the last admission: the oldest keys go first when there are too many. */
  usedAt: string;
}

export interface AgentState {
  port: number;
  tabs: TabKey[];
}

export async function loadAgentState(dir: string): Promise<AgentState | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, AGENT_STATE_FILE), 'utf8'));
    return isAgentState(parsed) ? parsed : undefined;
  } catch {
    return undefined; // none yet, or unreadable: start afresh
  }
}

/** Written atomically (temporary file, then rename), readable by the user only. */
export async function saveAgentState(dir: string, state: AgentState): Promise<void> {
  await writePrivateJsonFile(dir, AGENT_STATE_FILE, state);
}

function isAgentState(value: unknown): value is AgentState {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  if (typeof s.port !== 'number' || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535) return false;
  if (!Array.isArray(s.tabs)) return false;
  return s.tabs.every((t: unknown) => {
    const k = t as Record<string, unknown> | null;
    return typeof k === 'object' && k !== null && typeof k.x === 'string' && typeof k.y === 'string' && typeof k.usedAt === 'string';
  });
}

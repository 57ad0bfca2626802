import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { publicKeyFromBase64 } from '../protocol/crypto.js';
import { chorusError } from '../protocol/errors.js';
import type { ApiClient, ServerKey } from './api.js';
import { PROFILE_FILE, type Profile, pinsOf, saveProfile } from './profile.js';

/**
 * The server's Ed25519 key, pinned in the profile: learned at the first login, checked at every
 * later one and before every use. Every multicast datagram is checked against it, so a server
 * presenting another key is refused: it could forge messages that seem to come from the chat.
 */

/** The server's key, after checking it against `pinned` (base64) when there is one: another key is a ChorusError SERVER_KEY_CHANGED. */
export async function checkServerKey(api: ApiClient, pinned: string | undefined, profileDir: string): Promise<ServerKey> {
  const key = await api.serverKey();
  if (pinned !== undefined && pinned !== key.publicKey) throw chorusError('SERVER_KEY_CHANGED', api.baseUrl, key.fingerprint, join(profileDir, PROFILE_FILE));
  return key;
}

/**
 * The key to check datagrams with, for a logged-in profile: that of the server the API client
 * talks to now (home, or another of the profile's servers when home does not answer), checked
 * against the one pinned for that server. A profile saved before keys were pinned (or by a
 * client that did not pin) pins the key now, as a first login would have.
 */
export async function pinnedServerKey(api: ApiClient, profile: Profile, profileDir: string): Promise<KeyObject> {
  const server = api.baseUrl;
  const pinned = pinsOf(profile, server).serverKey;
  const key = await checkServerKey(api, pinned, profileDir);
  if (pinned === undefined) await saveProfile(profileDir, withServerKey(profile, server, key.publicKey));
  return publicKeyFromBase64(key.publicKey);
}

function withServerKey(profile: Profile, server: string, serverKey: string): Profile {
  if (profile.server === server || !profile.alternates) return { ...profile, serverKey };
  return { ...profile, alternates: profile.alternates.map((a) => (a.server === server ? { ...a, serverKey } : a)) };
}

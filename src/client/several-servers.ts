import type { KeyObject } from 'node:crypto';
import { newSigningKeyPair, publicKeyFromBase64 } from '../protocol/crypto.js';
import { ApiClient } from './api.js';
import { ingestEndpoint, ingestTransport } from './ingest-endpoint.js';
import { type Profile, profileServers } from './profile.js';
import type { Receiver } from './receiver.js';
import type { SenderTarget } from './sender.js';
import type { SenderTransport } from './sender-transport.js';
import { type ServerEndpoint, ServerList } from './server-list.js';

/**
 * A client's parts on the profile's servers (README, "A profile with several servers"): one ServerList shared
 * by the API client, the Sender and the Receiver, so that all three talk to the same server,
 * and the Receiver believes that server's key only. A profile of one server gets the parts it
 * always had.
 */

/** How long home may take to answer when it is asked whether it is back. */
const HOME_CHECK_TIMEOUT_MS = 10_000;

/** The profile's servers as one list, home first; home is asked every 30 s whether it answers again while another is in use. */
export function serverListOf(profile: Profile, options: { homeRetryMs?: number } = {}): ServerList {
  return new ServerList(profileServers(profile), { homeAnswers, ...options });
}

async function homeAnswers(home: ServerEndpoint): Promise<boolean> {
  const api = new ApiClient({ baseUrl: home.url, tlsFingerprint: home.tlsFingerprint, timeoutMs: HOME_CHECK_TIMEOUT_MS });
  await api.health();
  return true;
}

/** An API client on the profile's server, or on its servers when it lists several, with its session. */
export function profileApi(profile: Profile, options: { timeoutMs?: number; homeRetryMs?: number } = {}): ApiClient {
  const { token } = profile;
  const { timeoutMs, homeRetryMs } = options;
  if (!profile.alternates?.length) return new ApiClient({ baseUrl: profile.server, tlsFingerprint: profile.tlsFingerprint, token, timeoutMs });
  return new ApiClient({ servers: serverListOf(profile, { homeRetryMs }), token, timeoutMs });
}

/** Where the Sender of this API client's session connects: its one server's TCP port, or the same server list. */
export async function senderTarget(api: ApiClient): Promise<SenderTarget> {
  const list = api.servers;
  if (!list) return ingestEndpoint(api);
  const transports = new Map<ServerEndpoint, SenderTransport>();
  const transportTo = (endpoint: ServerEndpoint) => {
    let transport = transports.get(endpoint);
    if (!transport) transports.set(endpoint, (transport = ingestTransport(endpoint)));
    return transport;
  };
  return { servers: { list, transportTo } };
}

/**
 * Tells the Receiver of every move of the API client's server list, with the pinned key of the
 * server now in use, until the function returned is called. A server without a pinned key (a profile written by hand) is reported, and
 * its datagrams are not believed: the chats go on by push and repair.
 */
export function receiverFollowsServers(api: ApiClient, receiver: Receiver, unpinned: (endpoint: ServerEndpoint) => void = () => {}): () => void {
  if (!api.servers) return () => {};
  return api.servers.onChange((current) => {
    const key = pinnedKeyOf(current);
    if (!key) unpinned(current);
    receiver.serverChanged(key ?? NO_KEY);
  });
}

function pinnedKeyOf(endpoint: ServerEndpoint): KeyObject | undefined {
  if (!endpoint.serverKey) return undefined;
  try {
    return publicKeyFromBase64(endpoint.serverKey);
  } catch {
    return undefined;
  }
}

/** A key whose private half nobody has (made here, and dropped): nothing verifies against it. */
const NO_KEY: KeyObject = newSigningKeyPair().publicKey;

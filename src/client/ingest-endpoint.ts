import type { ApiClient } from './api.js';
import type { SenderOptions } from './sender.js';

/**
 * Where the server's TCP ingest listens: the HTTP API's host, and the port the API names; over
 * TLS, pinned to the API's certificate, when the API's URL is https:// (the server speaks TLS on
 * both ports or on neither).
 */
export async function ingestEndpoint(api: ApiClient): Promise<Pick<SenderOptions, 'host' | 'port' | 'tls'>> {
  const { tcpPort } = await api.serverInfo();
  const url = new URL(api.baseUrl);
  // An IPv6 hostname comes bracketed in a URL; net.connect wants it bare.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'https:') return { host, port: tcpPort };
  return { host, port: tcpPort, tls: api.tlsFingerprint ? { fingerprint: api.tlsFingerprint } : {} };
}

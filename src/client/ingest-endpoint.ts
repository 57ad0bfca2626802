import type { ApiClient } from './api.js';

/** Where the server's TCP ingest listens: the HTTP API's host, and the port the API names. */
export async function ingestEndpoint(api: ApiClient): Promise<{ host: string; port: number }> {
  const { tcpPort } = await api.serverInfo();
  // An IPv6 hostname comes bracketed in a URL; net.connect wants it bare.
  return { host: new URL(api.baseUrl).hostname.replace(/^\[|\]$/g, ''), port: tcpPort };
}

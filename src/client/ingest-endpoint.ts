import { ApiClient } from './api.js';
import type { SenderConnection, SenderConnectionEvents, SenderTransport } from './sender-transport.js';
import type { ServerEndpoint } from './server-list.js';
import { type TcpTransportOptions, tcpTransport } from './tcp-transport.js';

/**
 * Where the server's TCP ingest listens: the HTTP API's host, and the port the API names; over
 * TLS, pinned to the API's certificate, when the API's URL is https:// (the server speaks TLS on
 * both ports or on neither).
 */
export async function ingestEndpoint(api: ApiClient): Promise<TcpTransportOptions> {
  const { tcpPort } = await api.serverInfo();
  const url = new URL(api.baseUrl);
  // An IPv6 hostname comes bracketed in a URL; net.connect wants it bare.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'https:') return { host, port: tcpPort };
  return { host, port: tcpPort, tls: api.tlsFingerprint ? { fingerprint: api.tlsFingerprint } : {} };
}

/** How long asking a server for its TCP port may take, before the Sender's own connect deadline. */
const LOOKUP_TIMEOUT_MS = 10_000;

/**
 * The Sender's connections to one of several servers (server-list.ts): its TCP port is asked of
 * its HTTP API (with its own pin) when a connection is first made, and again after an attempt
 * that never got ready, since a server that came back may listen elsewhere. A lookup that fails
 * is a connection that closed before it was ready; a changed certificate stays what it is.
 */
export function ingestTransport(endpoint: ServerEndpoint): SenderTransport {
  const api = new ApiClient({ baseUrl: endpoint.url, tlsFingerprint: endpoint.tlsFingerprint, timeoutMs: LOOKUP_TIMEOUT_MS });
  let lookup: Promise<TcpTransportOptions> | undefined;
  return {
    handshake: endpoint.url.toLowerCase().startsWith('https:') ? 'TLS handshake' : 'connection',
    connect(events) {
      const where = (lookup ??= ingestEndpoint(api));
      const forget = () => {
        if (lookup === where) lookup = undefined;
      };
      return deferredConnection(where, events, forget);
    },
  };
}

function deferredConnection(where: Promise<TcpTransportOptions>, events: SenderConnectionEvents, forget: () => void): SenderConnection {
  let inner: SenderConnection | undefined;
  let ended = false;
  let ready = false;
  const end = () => {
    if (ended) return;
    ended = true;
    forget();
    queueMicrotask(() => events.closed());
  };
  where.then(
    (tcp) => {
      if (ended) return;
      inner = tcpTransport(tcp).connect({
        ready: () => {
          ready = true;
          events.ready();
        },
        data: (chunk) => events.data(chunk),
        untrusted: (error) => events.untrusted(error),
        closed: () => {
          if (!ready) forget();
          ended = true;
          events.closed();
        },
      });
    },
    (error: unknown) => {
      if (ended) return;
      if ((error as { code?: unknown }).code === 'CERTIFICATE_CHANGED') events.untrusted(error as Error);
      end();
    },
  );
  return {
    write: (bytes) => inner?.write(bytes),
    destroy: () => (inner ? inner.destroy() : end()),
    get destroyed() {
      return inner ? inner.destroyed : ended;
    },
  };
}

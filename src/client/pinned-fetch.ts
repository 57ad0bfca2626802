import type { Duplex } from 'node:stream';
import { Agent, type RequestOptions, request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, handshakeDeadline, pinMismatch, tlsOptions } from './certificate-pin.js';

/**
 * A `fetch` for one https:// server whose certificate is pinned by fingerprint, over node:https.
 * The global fetch (undici) can skip chain verification but offers no hook between the
 * handshake and the request, and Node calls `checkServerIdentity` only for a chain it verified:
 * so the connection is made here, checked, and only then handed to the request, which writes
 * nothing (not the Authorization header, not the body) until it has its socket.
 *
 * Only what ApiClient uses is supported: a string body, headers, a method, an abort signal.
 */
export function pinnedFetch(fingerprint: string, options: { handshakeTimeoutMs?: number } = {}): typeof fetch {
  const agent = new PinnedAgent(fingerprint, options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.protocol !== 'https:') throw new TypeError(`a pinned certificate needs an https:// URL, not ${url.protocol}`);
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') throw new TypeError('pinnedFetch sends string bodies only');
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();

    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    if (typeof init.body === 'string') headers['content-length'] = String(Buffer.byteLength(init.body));
    const options: RequestOptions = { method: init.method ?? 'GET', headers, agent };

    return new Promise<Response>((resolve, reject) => {
      const req = request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          signal?.removeEventListener('abort', onAbort);
          const status = res.statusCode ?? 500;
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const body = status === 204 || status === 205 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      });
      function fail(error: Error): void {
        signal?.removeEventListener('abort', onAbort);
        // Shaped like the global fetch's failures (a TypeError with the cause), which ApiClient reads;
        // an abort and a changed certificate pass as they are.
        if (signal?.aborted && error === signal.reason) reject(error);
        else if ((error as { code?: string }).code === 'CERTIFICATE_CHANGED') reject(error);
        else reject(new TypeError('fetch failed', { cause: error }));
      }
      function onAbort(): void {
        // Rejected here, not by the request's 'error': a request still waiting for its socket
        // (the handshake not done) emits nothing until it gets one.
        reject(signal!.reason);
        req.destroy(signal!.reason as Error);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
      req.end(typeof init.body === 'string' ? init.body : undefined);
    });
  }) as typeof fetch;
}

/**
 * Makes each connection itself: TLS without chain verification, then the fingerprint check,
 * and only a connection that passes is given to a request. Kept-alive connections are reused
 * (each was checked when made); TLS sessions are not cached, so every new connection shows
 * its certificate.
 */
class PinnedAgent extends Agent {
  constructor(
    private readonly fingerprint: string,
    private readonly handshakeTimeoutMs: number,
  ) {
    super({ keepAlive: true, maxCachedSessions: 0, timeout: 30_000 });
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    const socket = tlsConnect({ ...tlsOptions(host, port, true), servername: options.servername ?? undefined });
    // A server that accepts and never answers would hold the request for ever: the connection
    // and handshake have a deadline of their own, whatever the caller's.
    const deadline = handshakeDeadline(socket, this.handshakeTimeoutMs);
    const onError = (error: Error) => {
      clearTimeout(deadline);
      callback?.(error, socket);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(deadline);
      socket.off('error', onError);
      const mismatch = pinMismatch(socket, this.fingerprint, `https://${host.includes(':') ? `[${host}]` : host}:${port}`);
      if (mismatch) {
        socket.destroy();
        callback?.(mismatch, socket);
      } else callback?.(null, socket);
    });
    // Nothing handed back now: the agent waits for the callback, so the request has no socket
    // (and writes nothing) until the check has passed.
    return undefined;
  }
}

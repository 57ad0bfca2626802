import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may drive the agent: only the browser of the person who started it. Anything on this
 * machine can connect to 127.0.0.1, and any web page the user visits can make the browser send
 * requests there, so:
 * - the printed address carries a random secret, exchanged once for an HttpOnly, SameSite=Strict
 *   cookie (other sites' pages cannot send it, scripts cannot read it); every other request
 *   needs that cookie;
 * - the Host header must name this agent (127.0.0.1:PORT or localhost:PORT), which defeats DNS
 *   rebinding (a hostile name resolving to 127.0.0.1 would be same-origin with the agent);
 * - the WebSocket also needs an Origin of this agent exactly, since browsers let any page open a
 *   WebSocket anywhere and the same-origin policy does not apply to it.
 * The cookie is named after the port: cookies do not tell ports apart, and several agents
 * (one per profile) may run side by side.
 */
export class Gate {
  /** In the printed address; exchanged for the cookie. */
  readonly secret = randomBytes(24).toString('base64url');
  /** The cookie's value: different from the secret, so the address in history is not the cookie. */
  private readonly cookieValue = randomBytes(24).toString('base64url');
  private listeningPort = 0;

  /** Called once the listening port is known. */
  listeningOn(port: number): void {
    this.listeningPort = port;
  }

  get port(): number {
    return this.listeningPort;
  }

  get cookieName(): string {
    return `chorus_agent_${this.port}`;
  }

  /** The address to open: the secret rides in the query string, once. */
  get launchUrl(): string {
    return `http://127.0.0.1:${this.port}/?s=${this.secret}`;
  }

  /** The Host header names this agent: exactly 127.0.0.1:PORT or localhost:PORT. */
  hostAllowed(request: IncomingMessage): boolean {
    const host = request.headers.host?.toLowerCase();
    return host === `127.0.0.1:${this.port}` || host === `localhost:${this.port}`;
  }

  /** The WebSocket comes from a page this agent served. */
  originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    return origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`;
  }

  /** The secret in `?s=` matches. */
  secretMatches(candidate: string | null): boolean {
    return candidate !== null && sameText(candidate, this.secret);
  }

  /** The request carries this agent's cookie. */
  hasCookie(request: IncomingMessage): boolean {
    const value = cookieFrom(request.headers.cookie, this.cookieName);
    return value !== undefined && sameText(value, this.cookieValue);
  }

  /** The Set-Cookie header that admits this browser. No Max-Age: it ends with the browser session. */
  setCookieHeader(): string {
    return `${this.cookieName}=${this.cookieValue}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of cookie `name` in a Cookie header, if present. */
export function cookieFrom(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

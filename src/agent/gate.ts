import { randomBytes } from 'node:crypto';
import { Compile } from 'typebox/compile';
import type { IncomingHttpHeaders } from 'node:http';
import { LaunchTickets } from './launch-tickets.js';
import type { TabKeys } from './tab-keys.js';
import { ADMISSION_LINK_USED, ADMISSION_REFUSED, tabProofText } from './ui-protocol.js';
import { TAB_ADMISSION } from './ui-schemas.js';

const tabAdmission = Compile(TAB_ADMISSION);

/**
 * Who may drive the agent: only browser tabs of the person who started it. Anything on this
 * machine can connect to 127.0.0.1, any web page the user visits can make the browser send
 * requests there, and browsers send cookies for 127.0.0.1 to every port on it (another local
 * user's server included). So nothing a browser sends by itself admits anyone:
 * - the printed address carries a one-time ticket in its fragment (#…), which browsers never
 *   send; the page hands it to the agent over the WebSocket with a public key of its own, and
 *   keeps the private key in its sessionStorage, which is scoped to this origin (port
 *   included) and this tab;
 * - every WebSocket starts with an admission: the agent sends a fresh nonce, the tab signs it
 *   with its origin (see tab-keys.ts); without that, within a deadline, the socket is closed
 *   and nothing was said on it;
 * - the Host header must name this agent (127.0.0.1:PORT or localhost:PORT), which defeats DNS
 *   rebinding (a hostile name resolving to 127.0.0.1 would be same-origin with the agent);
 * - the WebSocket needs an Origin of this agent exactly: browsers let any page open a
 *   WebSocket anywhere.
 * The page's files themselves are public (they are the same for everyone) and served to any
 * request with the right Host.
 */
export type Admission = 'admitted' | 'link-used' | 'refused';

export class Gate {
  private listeningPort = 0;
  private tabs: TabKeys | undefined;

  constructor(private readonly tickets = new LaunchTickets()) {}

  /** Called once the listening port, and the tabs admitted on it before, are known. */
  listeningOn(port: number, tabs: TabKeys): void {
    this.listeningPort = port;
    this.tabs = tabs;
  }

  get port(): number {
    return this.listeningPort;
  }

  /** A new launch link: works once. The ticket rides in the fragment, which is never sent over HTTP. */
  launchUrl(): string {
    return `http://127.0.0.1:${this.port}/#ticket=${this.tickets.issue()}`;
  }

  /** The Host header names this agent: exactly 127.0.0.1:PORT or localhost:PORT. */
  hostAllowed(request: { headers: IncomingHttpHeaders }): boolean {
    const host = request.headers.host?.toLowerCase();
    return host === `127.0.0.1:${this.port}` || host === `localhost:${this.port}`;
  }

  /** The WebSocket comes from a page of this agent's origin. */
  originAllowed(request: { headers: IncomingHttpHeaders }): boolean {
    const origin = request.headers.origin;
    return origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`;
  }

  /** The challenge for one connection. */
  newNonce(): string {
    return randomBytes(24).toString('base64url');
  }

  /** Judges the first message on a socket from `origin` that was sent `nonce`. */
  async admit(message: unknown, origin: string, nonce: string): Promise<Admission> {
    if (!this.tabs || !tabAdmission.Check(message)) return 'refused';
    const text = tabProofText(origin, nonce);
    if (message.type === 'prove') return (await this.tabs.prove(message.publicKey, message.signature, text)) ? 'admitted' : 'refused';
    // The ticket is spent even if the signature is bad: a link is tried once.
    if (!this.tickets.redeem(message.ticket)) return 'link-used';
    return (await this.tabs.enrol(message.publicKey, message.signature, text)) ? 'admitted' : 'refused';
  }
}

/** The WebSocket close code that says why a tab was not admitted. */
export function closeCodeFor(admission: Exclude<Admission, 'admitted'>): number {
  return admission === 'link-used' ? ADMISSION_LINK_USED : ADMISSION_REFUSED;
}

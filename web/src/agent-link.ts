import {
  ADMISSION_LINK_USED,
  ADMISSION_REFUSED,
  type AgentToUi,
  type TabAdmission,
  type UiError,
  type UiPush,
  type UiRequest,
  type UiRequestType,
  type UiResults,
  tabProofText,
} from '../../src/agent/ui-protocol.js';
import { Backoff } from '../../src/protocol/backoff.js';
import { ChorusError, chorusError } from '../../src/protocol/errors.js';
import { type TabCredential, forgetCredential, newCredential, saveCredential, sign, storedCredential } from './tab-credential.js';

/**
 * The UI's one connection: a WebSocket to the local agent that served this page. Each socket
 * starts with the agent's challenge, which the tab answers with its key (see tab-credential.ts):
 * a new one with the launch link's ticket, or the one it was admitted with before. Then requests
 * get promises and pushes go to listeners. The agent holds the session, so a lost link is only
 * a reconnect away: while the agent is stopped the tab keeps trying, and it is back by itself
 * when the agent restarts (on the same port, with the tab's key remembered).
 */

/**
 * connecting: not yet admitted; open: admitted; away: the agent stopped answering (retrying);
 * denied: the agent will not admit this tab (no key, or a used link): a new link is needed.
 */
export type LinkState = 'connecting' | 'open' | 'away' | 'denied';
export type DeniedReason = 'no-access' | 'link-used';

/** The agent (or the server behind it) refused a request: the same ChorusError, with the same codes, as everywhere else. */
function refusal(error: UiError): ChorusError {
  return new ChorusError(error.code, error.message, error.field);
}

type RequestFields<T extends UiRequestType> = Omit<Extract<UiRequest, { type: T }>, 'id'>;

const RETRY = { steps: [300, 600, 1000, 2000, 3000] };

/** The launch link's ticket, taken out of the address bar (and history) at once. */
function takeTicket(): string | undefined {
  const ticket = /^#ticket=([A-Za-z0-9_-]+)$/.exec(location.hash)?.[1];
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return ticket;
}

export class AgentLink {
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly pushListeners = new Set<(push: UiPush) => void>();
  private readonly stateListeners = new Set<(state: LinkState) => void>();
  private readonly retry = new Backoff(RETRY);
  private everOpen = false;
  private ticket: string | undefined;
  /** A key offered with the ticket, stored once admitted. */
  private enrolling: TabCredential | undefined;
  state: LinkState = 'connecting';
  deniedReason: DeniedReason | undefined;

  connect(): void {
    this.ticket = takeTicket();
    // A new link opened in this very tab only changes the fragment: take it and start afresh.
    window.addEventListener('hashchange', () => {
      const ticket = takeTicket();
      if (!ticket) return;
      this.ticket = ticket;
      this.deniedReason = undefined;
      if (this.state === 'denied') this.open();
      else this.socket?.close();
    });
    this.open();
  }

  request<T extends UiRequestType>(type: T, fields: Omit<RequestFields<T>, 'type'>): Promise<UiResults[T]> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.state !== 'open') {
      return Promise.reject(new ChorusError('LINK_LOST', 'Not connected to the Chorus client; try again in a moment.'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  onPush(listener: (push: UiPush) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  onState(listener: (state: LinkState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private open(): void {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.socket = socket;
    let admitted = false;
    socket.addEventListener('message', (event) => {
      const message = parse(String(event.data));
      if (!message || socket !== this.socket) return;
      if (admitted) return this.onMessage(message);
      if (message.type === 'challenge') void this.answerChallenge(socket, message.nonce);
      else if (message.type === 'admitted') {
        admitted = true;
        this.onAdmitted();
      }
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      for (const w of this.waiting.values()) w.reject(chorusError('LINK_LOST'));
      this.waiting.clear();
      if (event.code === ADMISSION_REFUSED || event.code === ADMISSION_LINK_USED) return this.deny(event.code === ADMISSION_REFUSED ? 'no-access' : 'link-used');
      if (this.state === 'denied') return;
      // Stopped, restarting, or not yet up: keep trying, however long it takes.
      const delay = this.retry.next();
      this.setState(this.everOpen ? 'away' : 'connecting');
      setTimeout(() => this.open(), delay);
    });
  }

  /** Signs the agent's nonce with this page's origin: with a new key and the ticket, or the key admitted before. */
  private async answerChallenge(socket: WebSocket, nonce: string): Promise<void> {
    const text = tabProofText(location.origin, nonce);
    let admission: TabAdmission;
    if (this.ticket) {
      this.enrolling = await newCredential();
      admission = { type: 'enrol', ticket: this.ticket, publicKey: this.enrolling.publicKey, signature: await sign(this.enrolling, text) };
    } else {
      const credential = await storedCredential();
      if (!credential) {
        this.deny('no-access');
        socket.close();
        return;
      }
      admission = { type: 'prove', publicKey: credential.publicKey, signature: await sign(credential, text) };
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(admission));
  }

  private onAdmitted(): void {
    if (this.enrolling) {
      saveCredential(this.enrolling);
      this.enrolling = undefined;
      this.ticket = undefined;
    }
    this.retry.reset();
    this.everOpen = true;
    this.setState('open');
  }

  private deny(reason: DeniedReason): void {
    if (reason === 'no-access') forgetCredential();
    this.ticket = undefined;
    this.enrolling = undefined;
    this.deniedReason = reason;
    this.setState('denied');
  }

  private onMessage(message: AgentToUi): void {
    if (message.type === 'reply') {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(refusal(message.error));
      return;
    }
    if (message.type === 'challenge' || message.type === 'admitted') return;
    for (const listener of this.pushListeners) listener(message);
  }

  private setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

function parse(text: string): AgentToUi | undefined {
  try {
    return JSON.parse(text) as AgentToUi;
  } catch {
    return undefined;
  }
}

export const link = new AgentLink();

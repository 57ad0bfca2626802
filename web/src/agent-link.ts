import type { AgentToUi, UiError, UiPush, UiRequest, UiRequestType, UiResults } from '../../src/agent/ui-protocol.js';

/**
 * The UI's one connection: a WebSocket to the local agent that served this page. Requests get
 * promises; pushes go to listeners. The agent holds the session, so a lost link is only a
 * reconnect away (unless the agent itself stopped: then its cookie is gone too).
 */

export type LinkState = 'connecting' | 'open' | 'closed';

/** The agent (or the server behind it) refused a request. */
export class RequestError extends Error {
  readonly code: string;
  readonly field?: string;

  constructor(error: UiError) {
    super(error.message);
    this.code = error.code;
    this.field = error.field;
  }
}

type RequestFields<T extends UiRequestType> = Omit<Extract<UiRequest, { type: T }>, 'id'>;

const RETRY_MS = [500, 1000, 2000, 4000];

export class AgentLink {
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly pushListeners = new Set<(push: UiPush) => void>();
  private readonly stateListeners = new Set<(state: LinkState) => void>();
  private attempts = 0;
  state: LinkState = 'connecting';

  connect(): void {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.attempts = 0;
      this.setState('open');
    });
    socket.addEventListener('message', (event) => this.onMessage(String(event.data)));
    socket.addEventListener('close', () => {
      if (socket !== this.socket) return;
      for (const w of this.waiting.values()) w.reject(new RequestError({ code: 'LINK_LOST', message: 'Lost contact with the Chorus client.' }));
      this.waiting.clear();
      const delay = RETRY_MS[this.attempts++];
      if (delay === undefined) return this.setState('closed');
      this.setState('connecting');
      setTimeout(() => this.connect(), delay);
    });
  }

  request<T extends UiRequestType>(type: T, fields: Omit<RequestFields<T>, 'type'>): Promise<UiResults[T]> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError({ code: 'LINK_LOST', message: 'Not connected to the Chorus client; try again in a moment.' }));
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

  private onMessage(text: string): void {
    let message: AgentToUi;
    try {
      message = JSON.parse(text) as AgentToUi;
    } catch {
      return;
    }
    if (message.type === 'reply') {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new RequestError(message.error));
      return;
    }
    for (const listener of this.pushListeners) listener(message);
  }

  private setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

export const link = new AgentLink();

import { type Clock, type Timer, systemClock } from './clock.js';

/**
 * The servers a client may use, the first its home (README, "A profile with several servers"). Each has its
 * own pins: sites of a cluster share the database, not their certificates or signing keys.
 */
export interface ServerEndpoint {
  /** Base URL, e.g. https://10.0.1.5:6789 */
  url: string;
  /** For https://: the SHA-256 fingerprint its certificate must have. */
  tlsFingerprint?: string;
  /** Its Ed25519 signing key (base64): datagrams are believed only while this server is the one in use. */
  serverKey?: string;
}

export interface ServerListOptions {
  /** Timers: the system's by default; tests pass a fake. */
  clock?: Clock;
  /** While away from home, how often home is asked whether it answers again. Default 30 s. */
  homeRetryMs?: number;
  /** Whether home answers again (an HTTP request, say). Without it, home is used again only when the others fail. */
  homeAnswers?(home: ServerEndpoint): Promise<boolean>;
}

export const HOME_RETRY_MS = 30_000;

/**
 * Which of several servers a client talks to now: home first; a server that cannot be reached
 * is left for the next one (wrapping round), and while away from home, home is asked every
 * `homeRetryMs` whether it answers again, and used again as soon as it does. The API client,
 * the Sender and the Receiver of one client share one list, so they all talk to the same
 * server: the one whose key the Receiver believes.
 *
 * Policy only: it opens no connection. Callers report what they saw (`failed`, `reached`).
 */
export class ServerList {
  readonly endpoints: readonly ServerEndpoint[];
  private index = 0;
  private failuresInARow = 0;
  private readonly clock: Clock;
  private retryTimer: Timer | undefined;
  private asking = false;
  private closed = false;
  private readonly listeners: ((current: ServerEndpoint, previous: ServerEndpoint) => void)[] = [];

  constructor(
    endpoints: readonly ServerEndpoint[],
    private readonly options: ServerListOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error('a server list needs at least one server');
    this.endpoints = endpoints;
    this.clock = options.clock ?? systemClock;
  }

  get current(): ServerEndpoint {
    return this.endpoints[this.index]!;
  }

  get home(): ServerEndpoint {
    return this.endpoints[0]!;
  }

  get atHome(): boolean {
    return this.index === 0;
  }

  /** Every server was tried since one last answered: there is no other to turn to now. */
  get exhausted(): boolean {
    return this.failuresInARow >= this.endpoints.length;
  }

  /** Told of every move: to another server after a failure, and back home. Returns what stops it. */
  onChange(listener: (current: ServerEndpoint, previous: ServerEndpoint) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /**
   * `endpoint` could not be reached (refused, no answer in time). If it is the one in use, the
   * next one is; a report about a server already left changes nothing.
   */
  failed(endpoint: ServerEndpoint): void {
    if (endpoint !== this.current || this.closed) return;
    this.failuresInARow++;
    if (this.endpoints.length > 1) this.moveTo((this.index + 1) % this.endpoints.length);
  }

  /** `endpoint` answered: the servers may all be tried again before giving up. */
  reached(endpoint: ServerEndpoint): void {
    if (endpoint === this.current) this.failuresInARow = 0;
  }

  /** Stops asking home. */
  close(): void {
    this.closed = true;
    this.stopAskingHome();
  }

  private moveTo(index: number): void {
    const previous = this.current;
    this.index = index;
    if (this.atHome) this.stopAskingHome();
    else this.askHomeEvery();
    for (const listener of [...this.listeners]) listener(this.current, previous);
  }

  private askHomeEvery(): void {
    if (this.retryTimer || !this.options.homeAnswers) return;
    this.retryTimer = this.clock.every(this.options.homeRetryMs ?? HOME_RETRY_MS, () => void this.askHome(), { weak: true });
  }

  private stopAskingHome(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }

  private async askHome(): Promise<void> {
    // One question at a time: a home that takes long to answer is not asked twice over.
    if (this.asking || this.atHome || this.closed) return;
    this.asking = true;
    let answers = false;
    try {
      answers = await this.options.homeAnswers!(this.home);
    } catch {
      answers = false;
    } finally {
      this.asking = false;
    }
    if (answers && !this.atHome && !this.closed) {
      this.failuresInARow = 0;
      this.moveTo(0);
    }
  }
}

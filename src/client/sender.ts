import { randomBytes } from 'node:crypto';
import { Backoff } from '../protocol/backoff.js';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { chorusError, ChorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import { type EventsFrame, type Frame, FrameDecoder, type MessagesFrame, type PresenceFrame, encodeFrame } from '../protocol/frames.js';
import type { ChatMessage } from '../protocol/message.js';
import { messageTextProblem } from '../protocol/message-text.js';
import { KEEPALIVE_INTERVAL_MS, PROTOCOL_VERSION } from '../protocol/limits.js';
import { type Clock, type Timer, systemClock } from './clock.js';
import { Fifo } from './fifo.js';
import type { SenderConnection, SenderTransport } from './sender-transport.js';
import type { ServerLink } from './server-link.js';
import type { ServerEndpoint, ServerList } from './server-list.js';
import { type TcpTransportOptions, tcpTransport } from './tcp-transport.js';

/** Where one server's TCP ingest listens: host, port, and TLS (pinned) when its URL is https:// (tcp-transport.ts). */
export type SenderEndpointOptions = TcpTransportOptions;

/**
 * Several servers, one of them in use at a time (server-list.ts): connections go to the list's
 * current server, through `transportTo` (which finds its TCP port); a server whose connection
 * cannot be made is left for the next, and when the list moves (home again) the connection
 * moves with it. Messages not yet acknowledged are sent again there with their ids.
 */
export interface SenderServers {
  list: ServerList;
  transportTo(endpoint: ServerEndpoint): SenderTransport;
}

interface SenderCommonOptions {
  token: string;
  /** Messages sent but not yet acknowledged, at most (the server allows 1024). */
  window?: number;
  /** Reconnect backoff bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** The TCP connection, and the TLS handshake, must be done within this. Default 10 s. */
  connectTimeoutMs?: number;
  /** Once the hello is sent, the welcome must come within this. Default 30 s. */
  welcomeTimeoutMs?: number;
  /**
   * Keep trying until connected even when the first attempt fails with nothing to send (connect()
   * still rejects with that failure): for a connection held for what comes over it (tail's
   * session, pushes), not for messages. Default false: a first attempt that fails with nothing
   * waiting is left to the caller.
   */
  holdConnection?: boolean;
  /** How connections are made: node:net or node:tls from host, port and tls by default (tcp-transport.ts); tests pass a fake. */
  transport?: SenderTransport;
  /** Timers and time: the system's by default; tests pass a fake. */
  clock?: Clock;
}

/**
 * One server (`host`, `port`, and `tls` as the server speaks it when its URL is https://: pinned
 * to the certificate's fingerprint, checked before the token is sent, or without one verified
 * against the authorities this machine trusts), or several (`servers`).
 */
export type SenderOptions = SenderCommonOptions & SenderTarget;

/** Where a Sender connects: one server, or several. */
export type SenderTarget = (SenderEndpointOptions & { servers?: undefined }) | { servers: SenderServers; host?: undefined; port?: undefined; tls?: undefined };

export interface Ack {
  seq: number;
  sentAt: string;
  chat: string;
  id: string;
}

interface Outgoing {
  id: string;
  chat: string;
  text: string;
  resolve(ack: Ack): void;
  reject(error: Error): void;
}

// How long to pause for a RATE_LIMITED answer that does not say how long (an older server).
const RATE_LIMITED_FALLBACK_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_WELCOME_TIMEOUT_MS = 30_000;

/**
 * Refusals of the connection itself that retrying cannot mend: the session is over (unknown,
 * expired, logged out) or the protocol differs. UNAVAILABLE (the server could not check the
 * session just now) and TOO_MANY_CONNECTIONS are not among them: the sender tries again.
 */
const FINAL_REFUSALS = new Set(['UNAUTHENTICATED', 'SESSION_ENDED', 'UNSUPPORTED_VERSION']);

export type SenderState = 'connecting' | 'connected' | 'disconnected' | 'closed';

// This process's ids: 96 random bits, then a counter. As unique as 96 random bits per id, for
// no two processes draw the same prefix, without a call into the system's random source per
// message (which was the largest cost of `send --stdin` after the frames themselves).
const ID_PREFIX = randomBytes(12).toString('base64url');
let idCounter = 0;

/** A client message id, unique to this message, so that a retry after a reconnect is recognised as the same message. */
export function newClientMessageId(): string {
  return ID_PREFIX + (idCounter++).toString(36);
}

/**
 * Sends messages over one persistent TCP connection. `send()` resolves with the sequence
 * number once the server has committed the message. If the connection drops, the sender
 * reconnects with backoff and resends every unacknowledged message with its original id: the
 * server answers a repeated id with the first answer, so nothing is stored twice.
 *
 * This class is the policy only: connections come from a SenderTransport (node:net or node:tls
 * by default) and timers from a Clock, so that tests can drive it without a socket.
 */
export class Sender implements ServerLink {
  /** With one server, its transport; with several, see `servers`. */
  private readonly transport: SenderTransport | undefined;
  private readonly clock: Clock;
  /** With several servers: the one the current connection (or attempt) goes to. */
  private endpoint: ServerEndpoint | undefined;
  /** The current connection was ended because the server list moved: no failure of that server. */
  private leaving = false;
  private readonly stopFollowing: (() => void) | undefined;
  /** The current connection (named so for test/messaging.test.ts, which cuts it under the sender's feet). */
  private socket: SenderConnection | undefined;
  private decoder = new FrameDecoder();
  private state: SenderState = 'disconnected';
  /** Sent and awaiting their ack, in send order. */
  private readonly unacked = new Map<string, Outgoing>();
  /** Not yet sent: the window is full, we are not connected, or we are pausing for rate. */
  private readonly queue = new Fifo<Outgoing>();
  /** Refused RATE_LIMITED, in send order: sent again, first, when the pause ends. */
  private readonly rateRefused: Outgoing[] = [];
  private pausedUntil = 0;
  private pauseTimer?: Timer;
  private readonly backoff: Backoff;
  private reconnectTimer?: Timer;
  private keepAlive?: Timer;
  private readonly stateListeners: ((state: SenderState, detail?: string) => void)[] = [];
  private fatal: Error | undefined;
  /** Why the current attempt failed, if it did before the socket closed (a deadline, a refusal). */
  private attemptFailure: Error | undefined;
  /** The server asked us to wait this long before the next attempt (UNAVAILABLE). */
  private retryAfterMs: number | undefined;
  /** The connect deadline, then the welcome deadline, of the current attempt. */
  private deadline?: Timer;
  /** Callers of connect() waiting for the welcome. */
  private readonly settledWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  /** Chats pushed to us (by canonical code), and where each push starts: asked again at every welcome. */
  private readonly watches = new Map<string, () => number>();
  /** Probes asked for and not yet answered, by nonce. */
  private readonly probes = new Map<string, { chat: string; resolve(answer: { latestSeq: number }): void; reject(error: Error): void }>();
  private readonly pushListeners: ((chat: string, messages: ChatMessage[]) => void)[] = [];
  private readonly watchRefusedListeners: ((chat: string, error: ChorusError) => void)[] = [];
  private readonly eventListeners: ((chat: string, events: ChatEvent[]) => void)[] = [];
  /** What this client says of itself (online or away), and what the server of this connection last heard (a connection starts online). */
  private presenceState: PresenceFrame['state'] = 'online';
  private presenceSaid: PresenceFrame['state'] = 'online';
  /** The server of this connection said in its `welcome` that it takes `progress` reports. */
  private serverTakesProgress = false;

  constructor(private readonly options: SenderOptions) {
    this.transport = options.transport ?? (options.servers ? undefined : tcpTransport(options));
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff({ firstMs: options.minBackoffMs ?? 100, maxMs: options.maxBackoffMs ?? 5000 });
    this.stopFollowing = options.servers?.list.onChange(() => this.serverMoved());
  }

  onStateChange(listener: (state: SenderState, detail?: string) => void): void {
    this.stateListeners.push(listener);
  }

  get connectionState(): SenderState {
    return this.state;
  }

  /** Why the sender gave up for good (the session ended, say), if it did: nothing more will be sent. */
  get failure(): Error | undefined {
    return this.fatal;
  }

  /** Opens the connection; resolves once the server has welcomed us. */
  async connect(): Promise<void> {
    if (this.state === 'connected') return;
    const welcomed = new Promise<void>((resolve, reject) => this.settledWaiters.push({ resolve, reject }));
    this.open();
    return welcomed;
  }

  send(chat: string, text: string, id: string = newClientMessageId()): Promise<Ack> {
    if (this.state === 'closed') return Promise.reject(new Error('sender is closed'));
    if (this.fatal) return Promise.reject(this.fatal);
    // A text the server would refuse, or that no frame could carry, never enters the queue.
    const problem = messageTextProblem(text);
    if (problem) return Promise.reject(problem);
    return new Promise((resolve, reject) => {
      this.queue.push({ id, chat, text, resolve, reject });
      if (this.state === 'disconnected' && !this.reconnectTimer) this.open();
      this.pump();
    });
  }

  /** Messages not yet acknowledged (sent or queued). */
  get pending(): number {
    return this.unacked.size + this.queue.length + this.rateRefused.length;
  }

  // ---- ServerLink: probes and push (docs/protocol.md, Delivery) ----

  probe(chat: string, nonce: string): Promise<{ latestSeq: number }> {
    if (this.state === 'closed' || this.fatal) return Promise.reject(this.fatal ?? new Error('sender is closed'));
    if (this.state !== 'connected') {
      // Asked while disconnected: the answer would come too late to mean anything.
      this.openUnlessWaiting();
      return Promise.reject(new ChorusError('UNREACHABLE', 'not connected to the server'));
    }
    return new Promise((resolve, reject) => {
      this.probes.set(nonce, { chat: canonical(chat), resolve, reject });
      this.write({ t: 'probe', chat, nonce });
    });
  }

  watch(chat: string, after: () => number): void {
    this.watches.set(canonical(chat), after);
    if (this.state === 'connected') this.write({ t: 'watch', chat, after: after() });
    else this.openUnlessWaiting();
  }

  unwatch(chat: string): void {
    if (!this.watches.delete(canonical(chat))) return;
    if (this.state === 'connected') this.write({ t: 'unwatch', chat });
  }

  onPushed(listener: (chat: string, messages: ChatMessage[]) => void): void {
    this.pushListeners.push(listener);
  }

  onWatchRefused(listener: (chat: string, error: ChorusError) => void): void {
    this.watchRefusedListeners.push(listener);
  }

  onEvents(listener: (chat: string, events: ChatEvent[]) => void): void {
    this.eventListeners.push(listener);
  }

  /** Sent only to a server that said it takes reports: an older one would close the connection on a frame it does not know. */
  progress(chat: string, delivered: number, repaired: number): boolean {
    if (this.state !== 'connected' || !this.serverTakesProgress) return false;
    this.write({ t: 'progress', chat, delivered, repaired });
    return true;
  }

  // ---- typing and presence (docs/protocol.md, Presence, typing and read receipts) ----

  /**
   * Says that this user is typing in the chat (`on`, to be refreshed by the caller every
   * TYPING_REFRESH_MS), or stopped. Best effort: sent only while connected, never queued; a
   * typing state lost with a connection expires on its receivers by itself.
   */
  typing(chat: string, on: boolean): void {
    if (this.state === 'connected') this.write({ t: 'typing', chat, on });
  }

  /**
   * Says that this client is active (`online`) or `away`: sent when it differs from what the
   * server has. The server keeps presence per connection and starts each one online at its
   * welcome, so `away` is said again after every reconnect, and `online` never needs to be.
   */
  presence(state: PresenceFrame['state']): void {
    this.presenceState = state;
    this.sayPresence();
  }

  private sayPresence(): void {
    if (this.state !== 'connected' || this.presenceSaid === this.presenceState) return;
    this.presenceSaid = this.presenceState;
    this.write({ t: 'presence', state: this.presenceState });
  }

  private openUnlessWaiting(): void {
    if (this.state === 'disconnected' && !this.reconnectTimer) this.open();
  }

  private onPushedFrame(frame: MessagesFrame): void {
    const chat = formatChatCode(canonical(frame.chat));
    if (!this.watches.has(canonical(frame.chat))) return;
    const messages = frame.messages.map((m) => ({ chat, ...m }));
    for (const listener of this.pushListeners) listener(chat, messages);
  }

  /** Events of a watched chat (typing, read positions, presence), pushed because multicast does not reach us. */
  private onEventsFrame(frame: EventsFrame): void {
    if (!this.watches.has(canonical(frame.chat))) return;
    const chat = formatChatCode(canonical(frame.chat));
    for (const listener of this.eventListeners) listener(chat, frame.events);
  }

  close(): void {
    this.stopFollowing?.();
    this.setState('closed');
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    this.deadline?.cancel();
    this.keepAlive?.cancel();
    this.socket?.destroy();
    this.rejectAll(new Error('sender closed before the message was acknowledged'));
  }

  private open(): void {
    if (this.state === 'closed' || this.state === 'connecting' || this.state === 'connected') return;
    this.setState('connecting');
    this.decoder = new FrameDecoder();
    this.attemptFailure = undefined;
    let connection: SenderConnection | undefined;
    const mine = () => connection !== undefined && connection === this.socket;
    const servers = this.options.servers;
    this.endpoint = servers?.list.current;
    this.leaving = false;
    const transport = this.transport ?? servers!.transportTo(this.endpoint!);
    connection = transport.connect({
      ready: () => {
        if (mine()) this.hello(connection!);
      },
      data: (chunk) => {
        if (mine()) this.onData(connection!, chunk);
      },
      untrusted: (error) => {
        if (mine()) this.giveUp(error);
      },
      closed: () => {
        if (mine()) this.onClosed();
      },
    });
    this.socket = connection;
    const connectMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.armDeadline(connection, connectMs, `no ${transport.handshake} within ${seconds(connectMs)}`);
  }

  private onData(connection: SenderConnection, chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      connection.destroy();
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private hello(connection: SenderConnection): void {
    if (connection.destroyed) return;
    const welcomeMs = this.options.welcomeTimeoutMs ?? DEFAULT_WELCOME_TIMEOUT_MS;
    this.armDeadline(connection, welcomeMs, `no welcome within ${seconds(welcomeMs)}`);
    connection.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: this.options.token }));
  }

  /**
   * A server that accepts and then says nothing (hung, or not a Chorus server) must not hold the
   * sender for ever: past the deadline the attempt fails with "did not answer", and the sender
   * tries again (or, with nothing to send, tells the caller of connect()).
   */
  private armDeadline(connection: SenderConnection, ms: number, what: string): void {
    this.deadline?.cancel();
    this.deadline = this.clock.after(ms, () => {
      if (connection !== this.socket) return;
      this.attemptFailure = new ChorusError('UNREACHABLE', `the server at ${this.where} did not answer (${what})`);
      connection.destroy();
    });
  }

  private get where(): string {
    return this.endpoint?.url ?? `${this.options.host}:${this.options.port}`;
  }

  /**
   * The server list moved (to the next server, or home again): a connection to another server
   * is ended and made again to the one now in use, at once. Whatever it left unacknowledged is
   * sent again there, with the same ids.
   */
  private serverMoved(): void {
    if (this.state === 'closed' || this.fatal || this.endpoint === this.options.servers!.list.current) return;
    if (this.socket && !this.socket.destroyed && (this.state === 'connecting' || this.state === 'connected')) {
      this.leaving = true;
      this.socket.destroy();
    } else if (this.reconnectTimer) {
      this.reconnectTimer.cancel();
      this.reconnectTimer = undefined;
      this.open();
    }
  }

  private onFrame(frame: Frame): void {
    switch (frame.t) {
      case 'welcome':
        if (this.endpoint) this.options.servers!.list.reached(this.endpoint);
        this.deadline?.cancel();
        this.retryAfterMs = undefined;
        this.backoff.reset();
        this.serverTakesProgress = frame.progress === true;
        this.setState('connected');
        for (const w of this.settledWaiters.splice(0)) w.resolve();
        this.keepAlive?.cancel();
        this.keepAlive = this.clock.every(KEEPALIVE_INTERVAL_MS, () => this.write({ t: 'ping' }), { weak: true });
        // Resend what the last connection left unacknowledged, in the original order and ids.
        for (const o of this.unacked.values()) this.write({ t: 'send', id: o.id, chat: o.chat, text: o.text });
        // Pushes are per connection: ask again, from what has been delivered since.
        for (const [chat, after] of this.watches) this.write({ t: 'watch', chat: formatChatCode(chat), after: after() });
        this.presenceSaid = 'online';
        this.sayPresence();
        this.pump();
        return;
      case 'messages':
        return this.onPushedFrame(frame);
      case 'events':
        return this.onEventsFrame(frame);
      case 'probed': {
        const probe = this.probes.get(frame.nonce);
        this.probes.delete(frame.nonce);
        probe?.resolve({ latestSeq: frame.latestSeq });
        return;
      }
      case 'refusal': {
        const chat = canonical(frame.chat);
        const error = new ChorusError(frame.code, frame.message);
        // A typing refusal (too many, too big a chat) needs no answer: typing is best effort.
        if (frame.about === 'typing') return;
        if (frame.about === 'probe') {
          for (const [nonce, probe] of this.probes) {
            if (probe.chat !== chat) continue;
            this.probes.delete(nonce);
            probe.reject(error);
          }
          return;
        }
        if (!this.watches.delete(chat)) return;
        for (const listener of this.watchRefusedListeners) listener(formatChatCode(chat), error);
        return;
      }
      case 'ack': {
        const o = this.unacked.get(frame.id);
        if (!o) return;
        this.unacked.delete(frame.id);
        o.resolve({ seq: frame.seq, sentAt: frame.sentAt, chat: frame.chat, id: frame.id });
        this.pump();
        return;
      }
      case 'error': {
        const error = new ChorusError(frame.code, frame.message);
        if (frame.id !== undefined) {
          const o = this.unacked.get(frame.id);
          if (o) {
            this.unacked.delete(frame.id);
            // Both pass: too fast for now, or the server's database briefly away (UNAVAILABLE).
            if (error.code === 'RATE_LIMITED' || error.code === 'UNAVAILABLE') this.pauseForRate(o, frame.retryAfterMs ?? RATE_LIMITED_FALLBACK_MS);
            else o.reject(error);
            this.pump();
          }
          return;
        }
        // A connection-level refusal; the server closes the connection after it.
        if (FINAL_REFUSALS.has(error.code)) this.giveUp(error);
        else {
          this.attemptFailure = error;
          if (frame.retryAfterMs !== undefined) this.retryAfterMs = frame.retryAfterMs;
        }
        return;
      }
      case 'ping':
        this.write({ t: 'pong' });
        return;
      default:
        return;
    }
  }

  private pump(): void {
    if (this.state !== 'connected' || this.pauseTimer) return;
    const window = this.options.window ?? 512;
    while (this.queue.length > 0 && this.unacked.size < window) {
      const o = this.queue.shift()!;
      this.unacked.set(o.id, o);
      this.write({ t: 'send', id: o.id, chat: o.chat, text: o.text });
    }
  }

  private write(frame: Frame): void {
    if (this.socket && !this.socket.destroyed) this.socket.write(encodeFrame(frame));
  }

  private onClosed(): void {
    this.keepAlive?.cancel();
    this.deadline?.cancel();
    this.rejectProbes(new ChorusError('UNREACHABLE', 'the connection to the server was lost'));
    if (this.state === 'closed') return;
    const wasConnecting = this.state === 'connecting';
    const failure = this.attemptFailure;
    const leaving = this.leaving;
    this.leaving = false;
    this.setState('disconnected', this.fatal?.message ?? failure?.message);
    if (this.fatal) return;
    // UNAVAILABLE: the server is there but could not check the session just now; keep waiting.
    const serverBusy = failure instanceof ChorusError && failure.code === 'UNAVAILABLE';
    const nextServer = wasConnecting && !leaving && this.failOver(failure);
    if (wasConnecting && this.settledWaiters.length > 0 && this.pending === 0 && !serverBusy && !nextServer) {
      for (const w of this.settledWaiters.splice(0)) w.reject(failure ?? chorusError('UNREACHABLE', this.where));
      if (!this.options.holdConnection) return;
    }
    // Another server to try, or the list moved: at once. The same one again: after the backoff.
    if (nextServer || leaving) return this.open();
    const delay = Math.max(this.backoff.next(), this.retryAfterMs ?? 0);
    this.retryAfterMs = undefined;
    this.reconnectTimer = this.clock.after(delay, () => {
      this.reconnectTimer = undefined;
      this.open();
    });
  }

  /**
   * With several servers, an attempt that could not reach its server (no connection, no answer
   * in time; not a refusal, which is an answer) leaves it for the next. True when there is one
   * not yet tried since a server last welcomed us.
   */
  private failOver(failure: Error | undefined): boolean {
    const list = this.options.servers?.list;
    if (!list || !this.endpoint) return false;
    if (failure instanceof ChorusError && failure.code !== 'UNREACHABLE') return false;
    list.failed(this.endpoint);
    return list.current !== this.endpoint && !list.exhausted;
  }

  private giveUp(error: Error): void {
    this.fatal = error;
    this.deadline?.cancel();
    for (const w of this.settledWaiters.splice(0)) w.reject(error);
    this.rejectAll(error);
    this.socket?.destroy();
  }

  private rejectProbes(error: Error): void {
    for (const probe of this.probes.values()) probe.reject(error);
    this.probes.clear();
  }

  private rejectAll(error: Error): void {
    this.rejectProbes(error);
    this.pauseTimer?.cancel();
    this.pauseTimer = undefined;
    for (const o of [...this.unacked.values(), ...this.rateRefused, ...this.queue]) o.reject(error);
    this.unacked.clear();
    this.rateRefused.length = 0;
    this.queue.clear();
  }

  /**
   * The server refused a send for rate and said how long to wait. Nothing more is sent until
   * then (the server refuses the connection's later sends meanwhile too), and then the refused
   * messages go first, in their order, with their ids: a sender's own messages keep their order.
   */
  private pauseForRate(o: Outgoing, retryAfterMs: number): void {
    this.rateRefused.push(o);
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + retryAfterMs);
    this.pauseTimer?.cancel();
    this.pauseTimer = this.clock.after(this.pausedUntil - this.clock.now(), () => {
      this.pauseTimer = undefined;
      this.queue.unshiftAll(this.rateRefused.splice(0));
      this.pump();
    });
  }

  private setState(state: SenderState, detail?: string): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state, detail);
  }
}

/** Chats are keyed by their canonical code, whichever way the caller spelled them. */
function canonical(chat: string): string {
  return normalizeChatCode(chat) ?? chat;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

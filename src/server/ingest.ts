import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { ChorusError, type ErrorCode, chorusError, wireCode } from '../protocol/errors.js';
import { messageTextProblem } from '../protocol/message-text.js';
import type { ChatEvent } from '../protocol/events.js';
import { type EventsFrame, type Frame, FrameDecoder, FrameError, type MessagesFrame, type RefusalFrame, encodeFrame } from '../protocol/frames.js';
import {
  IDLE_TIMEOUT_MS,
  MAX_IN_FLIGHT_PER_CONNECTION,
  MAX_RETRY_AFTER_MS,
  MAX_TYPING_MEMBERS,
  MIN_PROTOCOL_VERSION,
  PROGRESS_BURST,
  PROGRESS_RATE_PER_SECOND,
  PROTOCOL_VERSION,
} from '../protocol/limits.js';
import { type Accounts, type User, hashToken } from './accounts.js';
import type { CodeGuessThrottle } from './code-guess-throttle.js';
import { type ConnectionLimits, ConnectionRegistry } from './connection-registry.js';
import type { MembershipCache } from './membership-cache.js';
import type { Presence } from './presence.js';
import type { PushHub, PushTarget } from './push.js';
import { RATE_LIMIT_GRACE_MS, SendRateLimiter } from './send-rate.js';
import type { MessageSink } from './sequencer.js';
import { SERVER_TLS_OPTIONS } from './tls/cipher-policy.js';
import { guardHandshakes } from './tls/handshake-guard.js';

// A peer that does not read its acks must not make us buffer without bound: past the socket's
// high-water mark we stop reading from it (backpressure); this is the last resort beyond that.
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/** What a `hello` whose session could not be looked up (the database slow or away) is told to wait. */
const LOOKUP_RETRY_AFTER_MS = 1000;
/** setTimeout's longest wait; a longer session expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface IngestDeps {
  accounts: Pick<Accounts, 'session'>;
  members: MembershipCache;
  /** Where sends go: the sequencer, or in a cluster the router to each chat's owner. */
  sequencer: MessageSink;
  logger: Logger;
  /** Messages per user, shared by all of the user's connections. */
  sendRate: SendRateLimiter;
  /** Probes per user, shared by all of the user's connections (PROBE_BURST, PROBE_RATE_PER_SECOND). */
  probeRate: SendRateLimiter;
  /** A frame begun must be complete within this, or the connection is closed (slow loris). */
  frameTimeoutMs: number;
  /** Sends to unknown codes count as guesses, as they do over HTTP (code-guess-throttle.ts). */
  guesses: CodeGuessThrottle;
  /** A connection must finish its TLS handshake within this, then say `hello` within it; the lookup that follows is not held to it. */
  helloTimeoutMs: number;
  /** A peer we stopped reading from (it does not read its answers) must drain them within this, or it is cut off. */
  drainTimeoutMs: number;
  /** Open connections per user and per address. */
  connectionLimits: ConnectionLimits;
  /** Pushes watched chats to connections (`watch`, `unwatch`). */
  push: PushHub;
  /** Multicasts a PROBE datagram on the chat's group; resolves with the latest seq multicast (`probe`). */
  probes: { probe(chatCode: string, nonce: string): Promise<number> };
  /** Typing and presence per user, shared by the user's connections (EVENT_BURST, EVENT_RATE_PER_SECOND). */
  eventRate: SendRateLimiter;
  /** Multicasts a chat's events and pushes them to its watchers (chat-events.ts). */
  events: { send(chatCode: string, events: readonly ChatEvent[]): void };
  /** Who is online, from the connections (presence.ts). */
  presence: Pick<Presence, 'connected' | 'changed' | 'disconnected'>;
  /** Where receivers' `progress` reports go: the fan-out, whose pace follows them (pace-control.ts). */
  pace: { reportProgress(reporter: object, repaired: number): void };
}

/** Counts for /api/metrics. */
export interface IngestStats {
  acked: number;
  /** Sends refused, by error code. */
  refused: Partial<Record<ErrorCode, number>>;
  /** `progress` frames: taken (handed to the pace), dropped past the connection's bucket, ignored (no such chat, or not a member). */
  progress: { taken: number; dropped: number; ignored: number };
}

/**
 * The TCP side: one persistent, authenticated connection per client. A `send` is checked
 * (membership, size, in-flight limit), handed to the sequencer, and acknowledged with its
 * sequence number only once committed. A refused send gets an error frame and the connection
 * stays usable; only protocol violations close it.
 */
export class Ingest {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly registry: ConnectionRegistry<Connection>;
  readonly stats: IngestStats = { acked: 0, refused: {}, progress: { taken: 0, dropped: 0, ignored: 0 } };

  /** With `tls` (PEM certificate and key) the port speaks TLS; a connection counts once its handshake is done. */
  constructor(
    private readonly deps: IngestDeps,
    tls?: { cert: string; key: string },
  ) {
    this.registry = new ConnectionRegistry(deps.connectionLimits);
    const accept = (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      const connection = new Connection(socket, deps, this.stats, this.registry, () => {
        this.connections.delete(connection);
        this.registry.releaseAddress(address, connection);
      });
      const admission = this.registry.admitAddress(address, connection);
      if (!admission.admitted) return connection.turnAway('TOO_MANY_CONNECTIONS', `At most ${deps.connectionLimits.perAddress} connections from one address`);
      this.connections.add(connection);
      admission.displaced?.turnAway('TOO_MANY_CONNECTIONS', `At most ${deps.connectionLimits.perAddress} connections from one address: this one had not said hello, and a newer one took its place`);
    };
    if (tls) {
      const server = createTlsServer({ ...SERVER_TLS_OPTIONS, cert: tls.cert, key: tls.key }, accept);
      // Before its handshake a socket is no connection yet: held to the hello's deadline, and
      // as many per address as connections.
      guardHandshakes(server, { perAddress: deps.connectionLimits.perAddress, timeoutMs: deps.helloTimeoutMs });
      this.server = server;
    } else {
      this.server = createServer(accept);
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Bytes written to connections and not yet taken by the operating system, all together. */
  get unsentBytes(): number {
    let bytes = 0;
    for (const c of this.connections) bytes += c.unsentBytes;
    return bytes;
  }

  /** Connections we have stopped reading from because their peer does not read (backpressure). */
  get pausedCount(): number {
    let count = 0;
    for (const c of this.connections) if (c.paused) count++;
    return count;
  }

  /** The session of `token` ended (logout): its connections are told so and closed. */
  endSession(token: string): void {
    for (const connection of this.registry.ofSession(hashToken(token))) connection.sessionEnded('You logged out');
  }

  /** Stops accepting, lets pending sends be acknowledged, then closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections].map((c) => c.finish()));
    await closed;
  }
}

class Connection implements PushTarget {
  private readonly decoder = new FrameDecoder();
  private user: User | undefined;
  /** The session's token hash, once welcomed: logout finds the connection by it. */
  private session: string | undefined;
  /** When the session expires (ms since the epoch): no send is taken from then on. */
  private expiresAt = Infinity;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Not reading, because the peer does not read what we write (see pause). */
  private readingPaused = false;
  /** The session ended: nothing more is read; the sends in flight are answered, then the connection closes. */
  private ending = false;
  private authenticating = false;
  private inFlight = 0;
  /** Sends before this time (ms since the epoch) are refused RATE_LIMITED: see rateWait. */
  private rateBlockedUntil = 0;
  private idleTimer: NodeJS.Timeout;
  private readonly authTimer: NodeJS.Timeout;
  private frameTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** Set once the connection is being closed for a protocol violation: nothing more is read. */
  private failed = false;
  private drained: (() => void)[] = [];
  private corked = false;
  /** The peer's address, for the code-guessing limit. */
  private readonly address: string;
  /** `watch` and `unwatch` take effect in the order they came, though a watch awaits its membership check. */
  private watchOrder: Promise<void> = Promise.resolve();
  /** `progress` frames this connection may send (one bucket, keyed 0): PROGRESS_BURST, then PROGRESS_RATE_PER_SECOND. */
  private readonly progressBudget = new SendRateLimiter({ perSecond: PROGRESS_RATE_PER_SECOND, burst: PROGRESS_BURST });

  constructor(
    private readonly socket: Socket,
    private readonly deps: IngestDeps,
    private readonly stats: IngestStats,
    private readonly registry: ConnectionRegistry<Connection>,
    private readonly onClose: () => void,
  ) {
    socket.setNoDelay(true);
    this.address = socket.remoteAddress ?? 'unknown';
    this.authTimer = setTimeout(() => this.fail('UNAUTHENTICATED', 'No hello within the time allowed'), deps.helloTimeoutMs);
    this.idleTimer = setTimeout(() => this.destroy(), IDLE_TIMEOUT_MS);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('drain', () => {
      this.resume();
      if (this.user) this.deps.push.drained(this);
    });
    socket.on('close', () => {
      clearTimeout(this.authTimer);
      clearTimeout(this.idleTimer);
      clearTimeout(this.frameTimer);
      clearTimeout(this.expiryTimer);
      clearTimeout(this.drainTimer);
      if (this.user && this.session) this.registry.releaseUser(this, this.user.id, this.session);
      if (this.user) this.deps.presence.disconnected(this, this.user.id);
      this.deps.push.closed(this);
      this.onClose();
      for (const resolve of this.drained.splice(0)) resolve();
    });
  }

  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  get paused(): boolean {
    return this.readingPaused;
  }

  get userId(): number {
    return this.user?.id ?? 0;
  }

  /** Whether push may still write here: not once the connection is closing or its session ended. */
  get writable(): boolean {
    return !this.failed && !this.ending && !this.socket.destroyed && this.socket.writable;
  }

  /**
   * A push frame. Unlike an answer, it neither pauses reading nor arms the drain deadline when
   * the socket's buffer is full: the push hub stops at PUSH_HIGH_WATER_BYTES by itself, and a
   * reader that is slow but reads must not be cut off for the volume of its chats.
   */
  writePush(frame: MessagesFrame | RefusalFrame | EventsFrame): void {
    if (!this.writable) return;
    this.corkForTick();
    this.socket.write(encodeFrame(frame));
  }

  /**
   * The session ended (logout, expiry): nothing more is taken; the sends already in flight get
   * their answers (an ack is a promise the message is stored, and a stored message must not be
   * reported lost), then SESSION_ENDED, and the connection closes. The client must log in again.
   */
  sessionEnded(why: string): void {
    if (this.failed || this.ending) return;
    // Nothing more is pushed to a session that ended.
    this.deps.push.closed(this);
    const end = () => this.fail('SESSION_ENDED', `${why}: your session ended; log in again`);
    if (this.inFlight === 0) return end();
    this.ending = true;
    clearTimeout(this.frameTimer);
    this.drained.push(end);
  }

  /** Resolves when every accepted send has been answered, then ends the connection. */
  async finish(): Promise<void> {
    if (this.inFlight > 0 && !this.socket.destroyed) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.failed || this.ending) return;
    this.idleTimer.refresh();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      const code: ErrorCode = error instanceof FrameError ? error.code : 'BAD_REQUEST';
      this.fail(code, error instanceof Error ? error.message : 'Malformed frame');
      return;
    }
    this.watchPartialFrame(frames.length > 0);
    for (const frame of frames) {
      if (this.failed || this.ending) break;
      this.onFrame(frame);
    }
  }

  /**
   * A peer that starts a frame must finish it in time: trickling a byte now and then keeps the
   * idle timer quiet but must not hold a connection and its buffer for ever. The clock starts
   * with the frame's first byte.
   */
  private watchPartialFrame(completedSome: boolean): void {
    if (this.decoder.bufferedBytes === 0) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    } else if (!this.frameTimer || completedSome) {
      clearTimeout(this.frameTimer);
      const seconds = this.deps.frameTimeoutMs / 1000;
      this.frameTimer = setTimeout(() => this.fail('BAD_REQUEST', `A frame was not completed within ${seconds} s`), this.deps.frameTimeoutMs);
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.t === 'ping') return this.write({ t: 'pong' });
    if (frame.t === 'pong') return;
    if (!this.user) {
      if (frame.t === 'hello' && !this.authenticating) {
        this.registry.saidHello(this);
        return void this.hello(frame.v, frame.token);
      }
      return this.fail('UNAUTHENTICATED', 'Say hello with a session token first');
    }
    if (frame.t === 'send') return void this.send(frame.id, frame.chat, frame.text);
    if (frame.t === 'probe') return void this.probe(frame.chat, frame.nonce);
    if (frame.t === 'watch') return this.inWatchOrder(() => this.watch(frame.chat, frame.after));
    if (frame.t === 'unwatch') return this.inWatchOrder(async () => this.unwatch(frame.chat));
    if (frame.t === 'typing') return void this.typing(frame.chat, frame.on);
    if (frame.t === 'presence') return this.deps.presence.changed(this, this.user.id, frame.state);
    if (frame.t === 'progress') return void this.progress(frame.chat, frame.repaired);
    this.fail('BAD_REQUEST', `Unexpected frame ${frame.t}`);
  }

  /**
   * The hello arrived in time, so the hello deadline stops here: a slow session lookup (a lock,
   * a busy database) is not the peer's fault and must not log it out. Only an explicit answer
   * (no such live session) is UNAUTHENTICATED; a lookup that fails is UNAVAILABLE, retryable.
   */
  private async hello(version: number, token: string): Promise<void> {
    if (version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION) {
      return this.fail('UNSUPPORTED_VERSION', `This server speaks protocol versions ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`);
    }
    clearTimeout(this.authTimer);
    this.authenticating = true;
    let session: { user: User; expiresAt: number };
    try {
      session = await this.deps.accounts.session(token);
    } catch (error) {
      if (error instanceof ChorusError && error.code === 'UNAUTHENTICATED') return this.fail('UNAUTHENTICATED', error.message);
      this.deps.logger.warn({ err: error }, 'session lookup failed');
      return this.fail('UNAVAILABLE', 'Your session could not be checked just now; try again shortly', LOOKUP_RETRY_AFTER_MS);
    } finally {
      this.authenticating = false;
    }
    if (this.failed || this.socket.destroyed) return;
    const tokenHash = hashToken(token);
    if (!this.registry.admitUser(this, session.user.id, tokenHash)) {
      return this.fail('TOO_MANY_CONNECTIONS', `At most ${this.deps.connectionLimits.perUser} connections per user; close another one first`);
    }
    this.user = session.user;
    this.session = tokenHash;
    this.expiresAt = session.expiresAt;
    this.watchExpiry();
    // The client's version: a version 2 client is spoken to as version 2 (it never asks for push).
    // `progress`: this server takes receivers' reports (a client that does not know it drops it).
    // `progress` reports are offered to clients of the current version only: a version 2 client
    // (before push) knows nothing of them, and gets the welcome it always got.
    this.write({ t: 'welcome', v: version, userId: this.user.id, ...(version >= PROTOCOL_VERSION ? { progress: true } : {}) });
    // A connection starts online: its client says `presence away` when idle or hidden.
    this.deps.presence.connected(this, this.user);
  }

  /** Ends the connection when its session expires (in steps: setTimeout waits at most ~24 days). */
  private watchExpiry(): void {
    const wait = this.expiresAt - Date.now();
    if (wait <= 0) return this.sessionEnded('Your session expired');
    this.expiryTimer = setTimeout(() => this.watchExpiry(), Math.min(wait, MAX_TIMER_MS));
  }

  private async send(id: string, chatInput: string, text: string): Promise<void> {
    const user = this.user!;
    // The expiry timer may run late (a busy event loop): no send is taken past the expiry.
    if (Date.now() >= this.expiresAt) return this.sessionEnded('Your session expired');
    if (this.inFlight >= MAX_IN_FLIGHT_PER_CONNECTION) {
      return this.refuse(id, 'TOO_MANY_IN_FLIGHT', `At most ${MAX_IN_FLIGHT_PER_CONNECTION} messages may await their ack`);
    }
    const waitMs = this.rateWait(user.id);
    if (waitMs > 0) {
      const { perSecond, burst } = this.deps.sendRate.policy;
      return this.refuse(id, 'RATE_LIMITED', `Sending too fast: at most ${perSecond} messages a second (bursts of ${burst}); try again in ${waitMs} ms`, waitMs);
    }
    this.inFlight++;
    try {
      // CHAT_NOT_FOUND and NOT_A_MEMBER tell codes that exist from codes that do not: the
      // same code-guessing limit as the HTTP API applies.
      const chatCode = await this.deps.guesses.guard({ user, address: this.address }, async () => {
        const code = normalizeChatCode(chatInput);
        if (!code) throw chorusError('CHAT_NOT_FOUND', chatInput.slice(0, 32));
        const problem = messageTextProblem(text);
        if (problem) throw problem;
        await this.deps.members.requireMember(code, user.id);
        return code;
      });
      const result = await this.deps.sequencer.submit({
        chatCode,
        senderId: user.id,
        senderName: user.name,
        clientMsgId: id,
        text,
        sentAt: Date.now(),
      });
      this.stats.acked++;
      this.write({ t: 'ack', id, chat: formatChatCode(chatCode), seq: result.seq, sentAt: new Date(result.sentAt).toISOString() });
    } catch (error) {
      if (error instanceof ChorusError) this.refuse(id, error.code, error.message, retryAfterMs(error));
      else {
        this.deps.logger.error({ err: error }, 'send failed');
        this.refuse(id, 'INTERNAL', 'The message could not be stored');
      }
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /**
   * `probe`: the fan-out multicasts a signed PROBE with the client's nonce on the chat's group,
   * and the client is told the latest seq multicast. Members only (an unknown code counts as a
   * guess, as for `send`), and within the user's probe bucket: each probe is a datagram to every
   * member of the chat.
   */
  private async probe(chatInput: string, nonce: string): Promise<void> {
    const waitMs = this.deps.probeRate.take(this.user!.id);
    if (waitMs > 0) {
      const { perSecond, burst } = this.deps.probeRate.policy;
      return this.refuseAbout('probe', chatInput, 'TOO_MANY_REQUESTS', `Probing too often: at most ${perSecond} probes a second (bursts of ${burst}); try again in ${waitMs} ms`, waitMs);
    }
    try {
      const chatCode = await this.memberChat(chatInput);
      const latestSeq = await this.deps.probes.probe(chatCode, nonce);
      this.write({ t: 'probed', chat: formatChatCode(chatCode), nonce, latestSeq });
    } catch (error) {
      this.refuseError('probe', chatInput, error);
    }
  }

  /**
   * `typing`: multicast as a typing event on the chat's group and pushed to its watchers; never
   * stored. Members only (an unknown code counts as a guess), within the user's event bucket, and
   * not in chats of more than MAX_TYPING_MEMBERS members (refused quietly: nothing is sent).
   */
  private async typing(chatInput: string, on: boolean): Promise<void> {
    const user = this.user!;
    const waitMs = this.deps.eventRate.take(user.id);
    if (waitMs > 0) {
      const { perSecond, burst } = this.deps.eventRate.policy;
      return this.refuseAbout('typing', chatInput, 'TOO_MANY_REQUESTS', `Typing and presence too often: at most ${perSecond} a second (bursts of ${burst}); try again in ${waitMs} ms`, waitMs);
    }
    try {
      const chatCode = await this.memberChat(chatInput);
      if ((await this.deps.members.memberCount(chatCode)) > MAX_TYPING_MEMBERS) {
        return this.refuseAbout('typing', chatInput, 'FORBIDDEN', `Chats of more than ${MAX_TYPING_MEMBERS} members carry no typing`);
      }
      this.deps.events.send(chatCode, [{ kind: 'typing', userId: user.id, name: user.name, on }]);
    } catch (error) {
      this.refuseError('typing', chatInput, error);
    }
  }

  /**
   * `progress`: a receiver's report of what it had to repair, handed to the fan-out's pace.
   * Never answered: a report is advice, and an answer would cost more than it. Within the
   * connection's bucket (extras are dropped and counted), and only for a chat the user is in
   * (the membership cache, as for `send`); anything else is ignored and counted.
   */
  private async progress(chatInput: string, repaired: number): Promise<void> {
    const counts = this.stats.progress;
    if (this.progressBudget.take(0) > 0) {
      counts.dropped++;
      return;
    }
    const chatCode = normalizeChatCode(chatInput);
    let member = false;
    try {
      member = chatCode !== undefined && (await this.deps.members.isMember(chatCode, this.user!.id));
    } catch {
      // No such chat, or the membership could not be read: a report is not worth an answer.
    }
    if (!member) {
      counts.ignored++;
      return;
    }
    counts.taken++;
    this.deps.pace.reportProgress(this, repaired);
  }

  private inWatchOrder(task: () => Promise<void>): void {
    this.watchOrder = this.watchOrder.then(task).catch((error) => this.deps.logger.error({ err: error }, 'watch failed'));
  }

  /** `watch`: push the chat's messages after `after` here (push.ts); members only. */
  private async watch(chatInput: string, after: number): Promise<void> {
    try {
      const chatCode = await this.memberChat(chatInput);
      if (!this.writable) return;
      this.deps.push.watch(this, chatCode, after);
    } catch (error) {
      this.refuseError('watch', chatInput, error);
    }
  }

  /** `unwatch`: a chat not watched (or not even a chat) is a no-op. */
  private unwatch(chatInput: string): void {
    const chatCode = normalizeChatCode(chatInput);
    if (chatCode) this.deps.push.unwatch(this, chatCode);
  }

  /** The chat's code, if the user is a member; unknown codes count towards the code-guessing limit, as for `send`. */
  private memberChat(chatInput: string): Promise<string> {
    const user = this.user!;
    return this.deps.guesses.guard({ user, address: this.address }, async () => {
      const code = normalizeChatCode(chatInput);
      if (!code) throw chorusError('CHAT_NOT_FOUND', chatInput.slice(0, 32));
      await this.deps.members.requireMember(code, user.id);
      return code;
    });
  }

  private refuseError(about: RefusalFrame['about'], chatInput: string, error: unknown): void {
    if (error instanceof ChorusError) return this.refuseAbout(about, chatInput, error.code, error.message, retryAfterMs(error));
    this.deps.logger.error({ err: error }, `${about} failed`);
    this.refuseAbout(about, chatInput, 'INTERNAL', `The ${about} failed`);
  }

  /** A `refusal`: the connection goes on. The chat as the client can match it: formatted when it is a code at all. */
  private refuseAbout(about: RefusalFrame['about'], chatInput: string, code: ErrorCode, message: string, retryAfterMs?: number): void {
    const normalized = normalizeChatCode(chatInput);
    const chat = normalized ? formatChatCode(normalized) : chatInput;
    const frame: RefusalFrame = { t: 'refusal', about, chat, code: wireCode(code), message: message.slice(0, 1024) };
    if (retryAfterMs !== undefined) frame.retryAfterMs = Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
    this.write(frame);
  }

  private refuse(id: string, code: ErrorCode, message: string, retryAfterMs?: number): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
    const sent = wireCode(code);
    this.write(retryAfterMs === undefined ? { t: 'error', id, code: sent, message } : { t: 'error', id, code: sent, message, retryAfterMs });
  }

  /**
   * How long this connection must wait before its next send is taken. Once one send is refused
   * for rate, every later send on the connection is refused until the token wait plus a grace
   * is over, even if a token refills meanwhile: sends the client pipelined before it read the
   * refusal arrive within a round trip, and must not slip in before the refused one is resent,
   * or a sender's own messages would be stored out of their order. The client is told the
   * whole wait (`retryAfterMs`), so it resends after the block ends.
   */
  private rateWait(userId: number): number {
    const now = Date.now();
    if (now < this.rateBlockedUntil) return this.rateBlockedUntil - now;
    const waitMs = this.deps.sendRate.take(userId);
    if (waitMs <= 0) return 0;
    this.rateBlockedUntil = now + waitMs + (this.deps.sendRate.policy.graceMs ?? RATE_LIMIT_GRACE_MS);
    return this.rateBlockedUntil - now;
  }

  /** Protocol violation, or the connection may not go on: say why, then close. */
  /** Closed before it is served, told why: past its address's limit, or its place taken by a newer connection (connection-registry.ts). */
  turnAway(code: ErrorCode, message: string): void {
    this.fail(code, message);
  }

  private fail(code: ErrorCode, message: string, retryAfterMs?: number): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.frameTimer);
    clearTimeout(this.expiryTimer);
    const sent = wireCode(code);
    this.write(retryAfterMs === undefined ? { t: 'error', code: sent, message } : { t: 'error', code: sent, message, retryAfterMs });
    this.socket.end();
    setTimeout(() => this.destroy(), 1000).unref();
  }

  private write(frame: Frame): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.writableLength > MAX_UNSENT_BYTES) return this.destroy();
    this.corkForTick();
    if (!this.socket.write(encodeFrame(frame))) this.pause();
  }

  /**
   * A commit resolves all of its sends at once: their acks (and its push frames) are written
   * while corked and go out together in one system call once the current tick's work is done.
   */
  private corkForTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  /**
   * Backpressure: the peer is not reading what we write (acks, refusals), so we stop reading
   * what it sends until the socket drains: a peer that pipelines sends and never reads the
   * answers then holds a socket's worth of them, not an ever-growing buffer. Frames already
   * read are still answered. The frame deadline waits meanwhile (the slowness is ours); a peer
   * that does not take its answers within the drain deadline is cut off, so it cannot hold the
   * connection and its buffer for ever either.
   */
  private pause(): void {
    if (this.readingPaused || this.socket.destroyed) return;
    this.readingPaused = true;
    this.socket.pause();
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    this.armDrainDeadline();
  }

  /**
   * The peer must take some of what waits for it within the drain deadline. Some, not all: a
   * connection with pushed messages queued ahead of an answer (up to PUSH_HIGH_WATER_BYTES) may
   * take longer than the deadline to drain on a slow link, and a reader that reads is not a peer
   * that holds its buffer for ever. One that takes nothing at all in that time is cut off.
   */
  private armDrainDeadline(): void {
    const taken = this.bytesTaken();
    this.drainTimer = setTimeout(() => {
      if (this.bytesTaken() > taken) this.armDrainDeadline();
      else this.destroy();
    }, this.deps.drainTimeoutMs);
  }

  /** Bytes written that the operating system has taken (bytesWritten counts those still buffered too). */
  private bytesTaken(): number {
    return (this.socket.bytesWritten ?? 0) - this.socket.writableLength;
  }

  private resume(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    clearTimeout(this.drainTimer);
    if (this.failed || this.socket.destroyed) return;
    this.watchPartialFrame(false);
    this.socket.resume();
  }

  private destroy(): void {
    this.socket.destroy();
  }
}

/** What a refusal tells the client to wait, if anything: within what an error frame may carry. */
function retryAfterMs(error: ChorusError): number | undefined {
  return error.retryAfterSeconds === undefined ? undefined : Math.min(error.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
}

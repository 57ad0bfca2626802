import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { ChorusError, type ErrorCode } from '../protocol/errors.js';
import { messageTextProblem } from '../protocol/message-text.js';
import { type Frame, FrameDecoder, FrameError, encodeFrame } from '../protocol/frames.js';
import {
  AUTH_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_IN_FLIGHT_PER_CONNECTION,
  MAX_RETRY_AFTER_MS,
  PROTOCOL_VERSION,
} from '../protocol/limits.js';
import type { Accounts, User } from './accounts.js';
import type { CodeGuessThrottle } from './code-guess-throttle.js';
import type { MembershipCache } from './membership-cache.js';
import { RATE_LIMIT_GRACE_MS, type SendRateLimiter } from './send-rate.js';
import type { Sequencer } from './sequencer.js';
import { SERVER_TLS_OPTIONS } from './tls/cipher-policy.js';

// A peer that does not read its acks must not make us buffer without bound.
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

export interface IngestDeps {
  accounts: Accounts;
  members: MembershipCache;
  sequencer: Sequencer;
  logger: Logger;
  /** Messages per user, shared by all of the user's connections. */
  sendRate: SendRateLimiter;
  /** A frame begun must be complete within this, or the connection is closed (slow loris). */
  frameTimeoutMs: number;
  /** Sends to unknown codes count as guesses, as they do over HTTP (code-guess-throttle.ts). */
  guesses: CodeGuessThrottle;
}

/**
 * The TCP side: one persistent, authenticated connection per client. A `send` is checked
 * (membership, size, in-flight limit), handed to the sequencer, and acknowledged with its
 * sequence number only once committed. A refused send gets an error frame and the connection
 * stays usable; only protocol violations close it.
 */
/** Counts for /api/metrics. */
export interface IngestStats {
  acked: number;
  /** Sends refused, by error code. */
  refused: Partial<Record<ErrorCode, number>>;
}

export class Ingest {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  readonly stats: IngestStats = { acked: 0, refused: {} };

  /** With `tls` (PEM certificate and key) the port speaks TLS; a connection counts once its handshake is done. */
  constructor(
    private readonly deps: IngestDeps,
    tls?: { cert: string; key: string },
  ) {
    const accept = (socket: Socket) => {
      const connection = new Connection(socket, deps, this.stats, () => this.connections.delete(connection));
      this.connections.add(connection);
    };
    this.server = tls ? createTlsServer({ ...SERVER_TLS_OPTIONS, cert: tls.cert, key: tls.key, handshakeTimeout: AUTH_TIMEOUT_MS }, accept) : createServer(accept);
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

  /** Stops accepting, lets pending sends be acknowledged, then closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections].map((c) => c.finish()));
    await closed;
  }
}

class Connection {
  private readonly decoder = new FrameDecoder();
  private user: User | undefined;
  private authenticating = false;
  private inFlight = 0;
  /** Sends before this time (ms since the epoch) are refused RATE_LIMITED: see rateWait. */
  private rateBlockedUntil = 0;
  private idleTimer: NodeJS.Timeout;
  private readonly authTimer: NodeJS.Timeout;
  private frameTimer: NodeJS.Timeout | undefined;
  /** Set once the connection is being closed for a protocol violation: nothing more is read. */
  private failed = false;
  private drained: (() => void)[] = [];
  private corked = false;
  /** The peer's address, for the code-guessing limit. */
  private readonly address: string;

  constructor(
    private readonly socket: Socket,
    private readonly deps: IngestDeps,
    private readonly stats: IngestStats,
    private readonly onClose: () => void,
  ) {
    socket.setNoDelay(true);
    this.address = socket.remoteAddress ?? 'unknown';
    this.authTimer = setTimeout(() => this.fail('UNAUTHENTICATED', 'No hello within the time allowed'), AUTH_TIMEOUT_MS);
    this.idleTimer = setTimeout(() => this.destroy(), IDLE_TIMEOUT_MS);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => {
      clearTimeout(this.authTimer);
      clearTimeout(this.idleTimer);
      clearTimeout(this.frameTimer);
      this.onClose();
      for (const resolve of this.drained.splice(0)) resolve();
    });
  }

  /** Resolves when every accepted send has been answered, then ends the connection. */
  async finish(): Promise<void> {
    if (this.inFlight > 0 && !this.socket.destroyed) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
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
      if (this.failed) break;
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
      if (frame.t === 'hello' && !this.authenticating) return void this.hello(frame.v, frame.token);
      return this.fail('UNAUTHENTICATED', 'Say hello with a session token first');
    }
    if (frame.t === 'send') return void this.send(frame.id, frame.chat, frame.text);
    this.fail('BAD_REQUEST', `Unexpected frame ${frame.t}`);
  }

  private async hello(version: number, token: string): Promise<void> {
    if (version !== PROTOCOL_VERSION) return this.fail('UNSUPPORTED_VERSION', `This server speaks protocol version ${PROTOCOL_VERSION}`);
    this.authenticating = true;
    try {
      this.user = await this.deps.accounts.authenticate(token);
      clearTimeout(this.authTimer);
      this.write({ t: 'welcome', v: PROTOCOL_VERSION, userId: this.user.id });
    } catch (error) {
      this.fail('UNAUTHENTICATED', error instanceof ChorusError ? error.message : 'Authentication failed');
    } finally {
      this.authenticating = false;
    }
  }

  private async send(id: string, chatInput: string, text: string): Promise<void> {
    const user = this.user!;
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
        if (!code) throw new ChorusError('CHAT_NOT_FOUND', `No chat with code ${chatInput.slice(0, 32)}`);
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

  private refuse(id: string, code: ErrorCode, message: string, retryAfterMs?: number): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
    this.write(retryAfterMs === undefined ? { t: 'error', id, code, message } : { t: 'error', id, code, message, retryAfterMs });
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

  /** Protocol violation: say why, then close. */
  private fail(code: ErrorCode, message: string): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.frameTimer);
    this.write({ t: 'error', code, message });
    this.socket.end();
    setTimeout(() => this.destroy(), 1000).unref();
  }

  private write(frame: Frame): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.writableLength > MAX_UNSENT_BYTES) return this.destroy();
    // A commit resolves all of its sends at once: their acks are written while corked and go
    // out together in one system call once the current tick's work is done.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeFrame(frame));
  }

  private destroy(): void {
    this.socket.destroy();
  }
}

/** What a refusal tells the client to wait, if anything: within what an error frame may carry. */
function retryAfterMs(error: ChorusError): number | undefined {
  return error.retryAfterSeconds === undefined ? undefined : Math.min(error.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
}

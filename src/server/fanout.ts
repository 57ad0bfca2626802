import { type Socket, createSocket } from 'node:dgram';
import type { Logger } from 'pino';
import {
  DATA_OVERHEAD_BYTES,
  type DatagramMessage,
  VOUCHED_DATA_OVERHEAD_BYTES,
  encodeData,
  encodeEvents,
  encodeHeartbeat,
  encodeProbe,
  encodeVouch,
  encodeVouchedData,
  fitsAlone,
  messageWireSize,
} from '../protocol/datagram.js';
import { type ChatEvent, MAX_EVENTS_PER_BATCH } from '../protocol/events.js';
import { MAX_DATAGRAM_BYTES, MAX_VOUCHED_DATAGRAMS } from '../protocol/limits.js';
import type { ChatKeys } from './chat-keys.js';
import type { MulticastConfig } from './config.js';
import { dataDatagramBytes } from './datagram-size.js';
import { EventStamps } from './event-stamps.js';
import { DEFAULT_PACE_POLICY, PaceControl, type PacePolicy } from './pace-control.js';
import { type Clock, type MulticastRate, Pacer, burstBytes, defaultMulticastRate } from './pacer.js';
import { type CommittedMessage, groupByChat } from './store/messages.js';
import type { ServerIdentity } from './server-identity.js';

export interface ChatAddress {
  group: string;
  port: number;
  /** The chat's stream id, which names it in every header (never its code: headers are in clear). */
  stream: string;
}

/**
 * After activity, heartbeats go out at growing intervals and then every 30 s, carrying the
 * chat's latest sequence number: a receiver that lost the last datagram learns of it quickly
 * after a burst, and an idle chat costs one datagram every 30 s.
 */
export const HEARTBEAT_DELAYS_MS = [50, 250, 1000, 5000];
export const HEARTBEAT_IDLE_MS = 30_000;

/**
 * A chat's queue may hold this much of the pace's output (the current pace, which receivers'
 * feedback may have lowered: the bound is on staleness). A backlog that long is no longer a
 * burst being spread but a load the link cannot carry: its oldest messages are skipped, and
 * receivers fetch them from history like any other loss. This bounds memory and how stale
 * multicast can get.
 */
export const MAX_BACKLOG_MS = 10_000;

/**
 * A chat that sent a DATA less than this long ago, and has less than a datagram queued, waits
 * out the rest of it before sending (once): a stream of small commits then packs into fuller
 * datagrams and runs, each costing receivers one signature check, instead of one signed datagram
 * per commit. The first message after a quiet spell goes at once.
 */
export const LINGER_MS = 2;
// What the next message may add to a datagram before it counts as full (a short message).
const LINGER_ROOM_BYTES = 60;

// Most messages in one DATA datagram (its count field is 16 bits).
const MAX_MESSAGES_PER_DATAGRAM = 0xffff;

/** How a datagram leaves: the socket's send, or a test's wrapper around it. */
export type SendDatagram = (datagram: Buffer, port: number, group: string, done: (error: Error | null) => void) => void;

/** For tests: another clock for the pacer, a shorter backlog, sends that fail on demand, another pace policy. */
export interface FanoutTuning {
  clock?: Clock;
  pacePolicy?: PacePolicy;
  maxBacklogMs?: number;
  wrapSend?: (send: SendDatagram) => SendDatagram;
}

interface Queued {
  message: DatagramMessage;
  /** Its bytes in a DATA body. */
  size: number;
}

/** A datagram of a run, waiting for its turn at the pace: VOUCHED DATA, or the run's VOUCH again (`count` 0). */
interface Sealed {
  datagram: Buffer;
  count: number;
  /** The last seq multicast once it has gone (a VOUCH's: that of the datagram before it). */
  lastSeq: number;
}

interface ChatState {
  code: string;
  address: ChatAddress;
  /** Committed messages not yet multicast, in sequence order; `head` is the next to go. */
  queue: Queued[];
  head: number;
  queuedBytes: number;
  /** The rest of a run whose VOUCH has gone: these go next, in order, before the queue. */
  sealed: Sealed[];
  /** The latest sequence number handed to the socket: what heartbeats announce. */
  sentSeq: number;
  timer?: NodeJS.Timeout;
  /** When its last DATA went (the pacer's clock), and its wait for more to fill the next one (LINGER_MS). */
  lastSentAt?: number;
  linger?: NodeJS.Timeout;
  /** It has waited once since its last DATA: what is queued goes now. */
  lingered: boolean;
}

/**
 * Multicast egress: every committed message goes out once, sealed and signed, to its chat's
 * group, in commit order, at the configured pace (pacer.ts). Commits never wait for it: they
 * queue here, and what queued while the pace held it back goes out packed into fuller
 * datagrams. Chats with a backlog take turns, one datagram each. The pace is lowered while
 * receivers report repairs, and comes back once they stop (pace-control.ts).
 *
 * One datagram's worth queued goes as a signed DATA. More goes as a run: up to
 * MAX_VOUCHED_DATAGRAMS datagrams are sealed at once, one signed VOUCH naming their digests goes
 * first, and then they go unsigned (VOUCHED DATA) at the pace: one signature for the run, which
 * is what a receiver's CPU is spent on under load (datagram.ts).
 */
export class Fanout {
  private readonly socket: Socket;
  private readonly chats = new Map<string, ChatState>();
  /** Chats with queued messages, in turn order. */
  private readonly ready = new Set<ChatState>();
  private readonly pacer: Pacer;
  /** Milliseconds, monotonic: the pacer's clock (a test's, or performance.now). */
  private readonly clock: Clock;
  /** The pace receivers' reports allow (the configured one until they report repairs). */
  private readonly paceControl: PaceControl;
  private readonly maxBacklogMs: number;
  /** Each EVENTS datagram's stamp, by which receivers tell a replay. */
  private readonly eventStamps = new EventStamps();
  private chain: Promise<void> = Promise.resolve();
  private pumping = false;
  private wake?: NodeJS.Timeout;
  private drained: (() => void)[] = [];
  private closed = false;
  /** close() has begun: nothing lingers any more (LINGER_MS). */
  private closing = false;
  /** Datagrams handed to the socket whose send has not called back; who waits for none. */
  private sending = 0;
  private sent: (() => void)[] = [];
  /** `datagrams`: DATA, signed or vouched; `vouches`: the VOUCHes of runs. */
  readonly stats = { datagrams: 0, vouches: 0, heartbeats: 0, probes: 0, events: 0, sendErrors: 0, skipped: 0 };
  /** The last send failed: said once in the log, and again once a send succeeds (see transmit). */
  private sendsFailing = false;
  private readonly send: SendDatagram;
  /** The largest DATA datagram the multicast interface carries whole (datagram-size.ts). */
  readonly datagramBytes: number;

  private constructor(
    private readonly config: MulticastConfig,
    private readonly keys: ChatKeys,
    private readonly identity: Pick<ServerIdentity, 'privateKey'>,
    private readonly addressOf: (chatCode: string) => Promise<ChatAddress>,
    private readonly logger: Logger,
    tuning: FanoutTuning,
  ) {
    this.socket = createSocket({ type: 'udp4' });
    const send: SendDatagram = (datagram, port, group, done) => this.socket.send(datagram, port, group, done);
    this.send = tuning.wrapSend ? tuning.wrapSend(send) : send;
    this.clock = tuning.clock ?? (() => performance.now());
    const rate = config.rate ?? defaultMulticastRate(config.interface);
    this.pacer = new Pacer(rate, this.clock);
    this.paceControl = new PaceControl(rate, tuning.pacePolicy ?? DEFAULT_PACE_POLICY, this.clock);
    this.maxBacklogMs = tuning.maxBacklogMs ?? MAX_BACKLOG_MS;
    this.datagramBytes = config.datagramBytes ?? dataDatagramBytes(config.interface, config.ttl);
  }

  /**
   * The most a DATA datagram may take now: what the interface carries, but no more than the
   * current pace's burst (pacer.ts: BURST_MS of it, at least MAX_DATAGRAM_BYTES), so that one
   * datagram never is a burst a slow pace would not allow. A message larger than that still goes, alone.
   */
  private get datagramLimit(): number {
    const rate = this.paceControl.current();
    if (rate.bytesPerSecond <= 0 || rate.datagramsPerSecond <= 0) return this.datagramBytes;
    return Math.min(this.datagramBytes, Math.floor(burstBytes(rate)));
  }

  /** MAX_BACKLOG_MS of the current pace: in bytes, the lower of its two limits, counting full datagrams. */
  private get backlogBytes(): number {
    const rate = this.paceControl.current();
    const datagramLimit = this.datagramLimit;
    const bytesPerSecond = Math.min(rate.bytesPerSecond, rate.datagramsPerSecond * datagramLimit);
    return Math.max(datagramLimit, (bytesPerSecond * this.maxBacklogMs) / 1000);
  }

  /**
   * A receiver's `progress` report (ingest.ts): it had to repair `repaired` messages since its
   * last one. `reporter` tells receivers apart (its connection). The pace follows (pace-control.ts).
   */
  reportProgress(reporter: object, repaired: number): void {
    this.paceControl.reported(reporter, repaired);
  }

  /** The pace now (lowered while receivers repair), its share of the configured one, and the reports that moved it. */
  get pace(): { rate: MulticastRate; share: number; stats: PaceControl['stats'] } {
    return { rate: this.paceControl.current(), share: this.paceControl.share, stats: this.paceControl.stats };
  }

  static async start(
    config: MulticastConfig,
    keys: ChatKeys,
    identity: Pick<ServerIdentity, 'privateKey'>,
    addressOf: (chatCode: string) => Promise<ChatAddress>,
    logger: Logger,
    tuning: FanoutTuning = {},
  ): Promise<Fanout> {
    const fanout = new Fanout(config, keys, identity, addressOf, logger, tuning);
    await new Promise<void>((resolve, reject) => {
      fanout.socket.once('error', reject);
      fanout.socket.bind(0, config.interface, () => {
        fanout.socket.off('error', reject);
        resolve();
      });
    });
    fanout.socket.setMulticastInterface(config.interface);
    fanout.socket.setMulticastTTL(config.ttl);
    fanout.socket.setMulticastLoopback(true);
    fanout.socket.on('error', (error) => logger.warn({ err: error }, 'multicast socket error'));
    return fanout;
  }

  /** Queues a committed batch; batches go out in commit order. Nothing once closed (in a cluster, batches from other servers may still arrive). */
  publish(batch: CommittedMessage[]): void {
    if (this.closed) return;
    this.chain = this.chain.then(() => this.enqueue(batch)).catch((error) => this.logger.error({ err: error }, 'fan-out failed'));
  }

  /** Sends a heartbeat now (after a key rotation, so receivers learn the new epoch). */
  nudge(chatCode: string): void {
    const state = this.chats.get(chatCode);
    if (state) void this.heartbeat(state).catch((error) => this.logger.warn({ err: error }, 'heartbeat failed'));
  }

  /**
   * Multicasts a signed PROBE carrying the client's nonce on the chat's group, now (not paced:
   * probes are few, each connection's are limited by the ingest), and returns the latest seq it
   * announces: the latest handed to the socket, as heartbeats say (0 before any).
   */
  async probe(chatCode: string, nonce: string): Promise<number> {
    const state = await this.stateOf(chatCode);
    const { epoch } = await this.keys.keyFor(chatCode);
    const latestSeq = state.sentSeq;
    this.transmit(encodeProbe({ stream: state.address.stream, epoch, latestSeq, nonce }, this.identity.privateKey), state.address);
    this.stats.probes++;
    return latestSeq;
  }

  /**
   * Multicasts the chat's events (typing, read, presence) now, sealed with the chat's current key
   * and signed, packed into as few EVENTS datagrams as fit, each with the next stamp. Not paced
   * like data: events are small and each user's are rate limited before they get here (ingest.ts,
   * presence.ts). Sealed and handed to the socket at once, so stamps go out in their order.
   */
  async events(chatCode: string, events: readonly ChatEvent[]): Promise<void> {
    if (this.closed || events.length === 0) return;
    const state = await this.stateOf(chatCode);
    const sealing = await this.keys.keyFor(chatCode);
    if (this.closed) return;
    for (const batch of packEvents(events)) {
      const stamp = this.eventStamps.next();
      const datagram = encodeEvents({ stream: state.address.stream, epoch: sealing.epoch, stamp, events: batch }, sealing.key, sealing.nonces.next(), this.identity.privateKey);
      this.transmit(datagram, state.address);
      this.stats.events++;
    }
  }

  /** Whether the latest multicast send failed (the server cannot multicast, or not now). */
  get sendingFails(): boolean {
    return this.sendsFailing;
  }

  /** Sends what is queued (at the pace), then closes the socket. Once: a second call returns. */
  async close(): Promise<void> {
    if (this.closing) return;
    // From now on nothing lingers, and lingering chats send what they hold.
    this.closing = true;
    await this.chain;
    for (const state of this.chats.values()) if (state.linger) this.endLinger(state);
    if (this.ready.size > 0 || this.pumping) await new Promise<void>((resolve) => this.drained.push(resolve));
    // A send resolves the group's address before it goes: closing the socket first would drop it.
    if (this.sending > 0) await new Promise<void>((resolve) => this.sent.push(resolve));
    this.closed = true;
    clearTimeout(this.wake);
    for (const state of this.chats.values()) clearTimeout(state.timer);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private async enqueue(batch: CommittedMessage[]): Promise<void> {
    for (const [chatCode, messages] of groupByChat(batch)) {
      const state = await this.stateOf(chatCode);
      for (const m of messages) {
        const message = toDatagramMessage(m, this.datagramBytes);
        const size = messageWireSize(message);
        state.queue.push({ message, size });
        state.queuedBytes += size;
      }
      if (this.pacer.paced) this.trimBacklog(state);
      this.ready.add(state);
    }
    void this.pump();
  }

  /** Skips the oldest queued messages past MAX_BACKLOG_MS of the pace (see there). */
  private trimBacklog(state: ChatState): void {
    const backlogBytes = this.backlogBytes;
    if (state.queuedBytes <= backlogBytes) return;
    const first = state.queue[state.head]!.message.seq;
    let skipped = 0;
    while (state.queuedBytes > backlogBytes && state.head < state.queue.length - 1) {
      state.queuedBytes -= state.queue[state.head]!.size;
      state.head++;
      skipped++;
    }
    this.stats.skipped += skipped;
    this.paceControl.skippedMessages(skipped);
    this.logger.warn({ chat: state.address.stream, from: first, to: state.queue[state.head]!.message.seq - 1 }, 'multicast backlog too long: oldest messages skipped (receivers repair them)');
  }

  /**
   * Sends datagrams while the pacer allows, one chat at a time in turn; when it says wait, sets
   * a timer and returns. One pump runs at a time.
   */
  private async pump(): Promise<void> {
    if (this.pumping || this.wake) return;
    this.pumping = true;
    try {
      while (this.ready.size > 0) {
        const state = this.ready.values().next().value!;
        if (state.sealed.length === 0) {
          const sealed = await this.sealNext(state);
          if (sealed === 'wait') return;
          if (sealed === 'linger') continue;
          if (sealed === 'nothing') {
            this.nextTurn(state);
            continue;
          }
        }
        const next = state.sealed[0]!;
        if (!this.mayGoNow(next.datagram.length)) return;
        state.sealed.shift();
        this.transmit(next.datagram, state.address);
        this.pacer.spend(next.datagram.length);
        this.paceControl.multicast(next.count);
        if (next.count > 0) this.sentData(state);
        else this.stats.vouches++;
        state.sentSeq = next.lastSeq;
        this.nextTurn(state);
      }
    } finally {
      this.pumping = false;
      if (this.ready.size === 0 && !this.wake) for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /**
   * Seals the chat's next datagram, or its next run (multicasting the run's VOUCH now), once the
   * pacer lets its first datagram go. `wait`: the pump must stop until the pacer's timer wakes it;
   * `nothing`: no key for the chat (its queue skipped) or nothing queued; `linger`: it waits
   * (LINGER_MS) for more to fill its datagram, out of the turn until then.
   */
  private async sealNext(state: ChatState): Promise<'sealed' | 'wait' | 'nothing' | 'linger'> {
    let sealing: Awaited<ReturnType<ChatKeys['keyFor']>>;
    try {
      sealing = await this.keys.keyFor(state.code);
    } catch (error) {
      this.logger.error({ err: error, chat: state.address.stream }, 'no key for the chat: its queued messages are skipped (receivers repair them)');
      this.stats.skipped += state.queue.length - state.head;
      this.takeAll(state);
      return 'nothing';
    }
    // Planned after the await: an enqueue meanwhile may have skipped the head. A run's datagrams
    // carry no signature, so each takes 64 bytes' worth more; what fits one of them is planned
    // again as a signed DATA (one, or two that then go as a run).
    const limit = this.datagramLimit;
    let run = planRun(state, VOUCHED_DATA_OVERHEAD_BYTES, limit);
    if (run.length === 1) run = planRun(state, DATA_OVERHEAD_BYTES, limit);
    if (run.length === 0) return 'nothing';
    if (run.length === 1 && this.startLinger(state, run[0]!.bytes)) return 'linger';
    if (!this.mayGoNow(run[0]!.bytes)) return 'wait';
    const stream = state.address.stream;
    const epoch = sealing.epoch;
    if (run.length === 1) {
      const messages = this.take(state, run[0]!);
      state.sealed.push({ datagram: encodeData({ stream, epoch, messages }, sealing.key, sealing.nonces.next(), this.identity.privateKey), count: messages.length, lastSeq: messages.at(-1)!.seq });
      return 'sealed';
    }
    for (const planned of run) {
      const messages = this.take(state, planned);
      state.sealed.push({ datagram: encodeVouchedData({ stream, epoch, messages }, sealing.key, sealing.nonces.next()), count: messages.length, lastSeq: messages.at(-1)!.seq });
    }
    // Before the datagrams it names, so that each is believed as it arrives; and once more after
    // the first of them, so that a lost VOUCH costs that one datagram rather than the run
    // (receivers spend no signature check on the copy: vouched-digests.ts).
    const vouch = encodeVouch({ stream, epoch }, state.sealed.map((s) => s.datagram), this.identity.privateKey);
    this.transmit(vouch, state.address);
    this.pacer.spend(vouch.length);
    this.stats.vouches++;
    if (run.length > 2) state.sealed.splice(1, 0, { datagram: vouch, count: 0, lastSeq: state.sealed[0]!.lastSeq });
    return 'sealed';
  }

  /** A DATA of the chat went: the next may linger again. */
  private sentData(state: ChatState): void {
    this.stats.datagrams++;
    state.lastSentAt = this.clock();
    state.lingered = false;
    clearTimeout(state.linger);
    state.linger = undefined;
  }

  /**
   * Whether the chat's next datagram (`bytes`, all it has queued) should wait for more first
   * (LINGER_MS); if so, it leaves the turn until its wait is over, or more is queued.
   */
  private startLinger(state: ChatState, bytes: number): boolean {
    if (this.closing || state.lingered || state.lastSentAt === undefined || bytes + LINGER_ROOM_BYTES > this.datagramLimit) return false;
    const left = state.lastSentAt + LINGER_MS - this.clock();
    if (left <= 0) return false;
    this.ready.delete(state);
    state.linger ??= setTimeout(() => this.endLinger(state), left);
    return true;
  }

  private endLinger(state: ChatState): void {
    clearTimeout(state.linger);
    state.linger = undefined;
    state.lingered = true;
    if (hasWork(state)) this.ready.add(state);
    void this.pump();
  }

  /** Whether a datagram of `bytes` may go now; if not, the pump is woken when it may. */
  private mayGoNow(bytes: number): boolean {
    this.pacer.setRate(this.paceControl.current());
    const delay = this.pacer.delayFor(bytes);
    if (delay <= 0) return true;
    this.wake = setTimeout(() => {
      this.wake = undefined;
      void this.pump();
    }, delay);
    return false;
  }

  /** Takes a planned datagram's messages off the chat's queue. */
  private take(state: ChatState, planned: PlannedDatagram): DatagramMessage[] {
    const messages = state.queue.slice(state.head, state.head + planned.count).map((q) => q.message);
    state.head += planned.count;
    state.queuedBytes -= planned.bytes - planned.overhead;
    // Compact now and then rather than shift() per message.
    if (state.head > 4096 && state.head * 2 > state.queue.length) {
      state.queue = state.queue.slice(state.head);
      state.head = 0;
    }
    return messages;
  }

  /** A datagram of the chat went: it goes to the back of the turn, or rests if it has nothing left. */
  private nextTurn(state: ChatState): void {
    this.ready.delete(state);
    if (hasWork(state)) this.ready.add(state);
    else this.takeAll(state);
  }

  /** Empties the chat's queue; heartbeats start from what was sent. */
  private takeAll(state: ChatState): void {
    state.queue = [];
    state.head = 0;
    state.queuedBytes = 0;
    state.sealed = [];
    clearTimeout(state.linger);
    state.linger = undefined;
    this.ready.delete(state);
    this.scheduleHeartbeats(state, 0);
  }

  /** Announces the latest sequence number sent, never one still queued: receivers would fetch it. */
  private async heartbeat(state: ChatState): Promise<void> {
    if (this.closed) return;
    const { epoch } = await this.keys.keyFor(state.code);
    if (this.closed) return;
    const datagram = encodeHeartbeat({ stream: state.address.stream, epoch, latestSeq: state.sentSeq }, this.identity.privateKey);
    // Not paced: heartbeats are few (four after a burst, then one per 30 s, and one per key
    // rotation) and small, and charging them could let rotations starve the data.
    this.transmit(datagram, state.address);
    this.stats.heartbeats++;
  }

  private scheduleHeartbeats(state: ChatState, step: number): void {
    clearTimeout(state.timer);
    if (this.closed) return;
    const delay = HEARTBEAT_DELAYS_MS[step] ?? HEARTBEAT_IDLE_MS;
    state.timer = setTimeout(() => {
      void this.heartbeat(state)
        .catch((error) => this.logger.warn({ err: error }, 'heartbeat failed'))
        .then(() => this.scheduleHeartbeats(state, step + 1));
    }, delay);
    state.timer.unref();
  }

  private async stateOf(chatCode: string): Promise<ChatState> {
    let state = this.chats.get(chatCode);
    if (!state) {
      const address = await this.addressOf(chatCode);
      // A probe and a batch may both have looked the chat up: the first one's state stays (with its queue).
      state = this.chats.get(chatCode) ?? { code: chatCode, address, queue: [], head: 0, queuedBytes: 0, sealed: [], sentSeq: 0, lingered: false };
      this.chats.set(chatCode, state);
    }
    return state;
  }

  private transmit(datagram: Buffer, address: ChatAddress): void {
    // The socket is gone: sending would throw ERR_SOCKET_DGRAM_NOT_RUNNING.
    if (this.closed) return;
    this.sending++;
    this.send(datagram, address.port, address.group, (error) => {
      if (--this.sending === 0) for (const resolve of this.sent.splice(0)) resolve();
      if (error) this.sendFailed(error, address);
      else if (this.sendsFailing) {
        this.sendsFailing = false;
        this.logger.info({ interface: this.config.interface }, 'multicast sends work again');
      }
    });
  }

  /**
   * Counted each time, said once: a server that cannot multicast at all would otherwise log
   * every datagram. Clients notice by themselves (their probes do not come back) and fall back
   * to push; the operator is told the likely cause and what to set.
   */
  private sendFailed(error: Error, address: ChatAddress): void {
    this.stats.sendErrors++;
    if (this.sendsFailing) return;
    this.sendsFailing = true;
    const code = (error as NodeJS.ErrnoException).code;
    this.logger.warn(
      { err: error, code, group: address.group, port: address.port, interface: this.config.interface },
      `multicast sends fail (${code ?? error.message}): ${likelyCause(code)}. Set --multicast-interface (CHORUS_MULTICAST_INTERFACE) to the IPv4 address of the interface on the members' network. Clients receive by server push meanwhile; this is said again once sends work`,
    );
  }
}

/** What a send error most likely means, in words an operator can act on. */
function likelyCause(code: string | undefined): string {
  switch (code) {
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return 'no route for multicast on the interface (no default route, or none for 224.0.0.0/4), or the interface is down';
    case 'EADDRNOTAVAIL':
      return 'the multicast interface address is not (or no longer) on this machine';
    case 'EPERM':
    case 'EACCES':
      return 'a firewall refuses outgoing multicast, or the system has not allowed this program on the local network';
    default:
      return 'the multicast interface cannot send to the chat groups';
  }
}

/** Whether the chat has anything to send: sealed datagrams of a run, or queued messages. */
function hasWork(state: ChatState): boolean {
  return state.sealed.length > 0 || state.head < state.queue.length;
}

interface PlannedDatagram {
  count: number;
  /** Its size: `overhead` (a DATA's, or a VOUCHED DATA's) and its messages. */
  bytes: number;
  overhead: number;
}

/**
 * The chat's next datagrams, from its queue: consecutive seqs up to `maxBytes` each, as
 * many as are queued up to MAX_VOUCHED_DATAGRAMS. Only the last may be less than full: packing
 * what is queued now is all a run takes, and what comes later packs into the next.
 */
function planRun(state: ChatState, overhead: number, maxBytes: number): PlannedDatagram[] {
  const run: PlannedDatagram[] = [];
  let count = 0;
  let bytes = overhead;
  for (let i = state.head; i < state.queue.length; i++) {
    const { message, size } = state.queue[i]!;
    if (count > 0 && (bytes + size > maxBytes || message.seq !== state.queue[i - 1]!.message.seq + 1 || count === MAX_MESSAGES_PER_DATAGRAM)) {
      run.push({ count, bytes, overhead });
      if (run.length === MAX_VOUCHED_DATAGRAMS) return run;
      count = 0;
      bytes = overhead;
    }
    count++;
    bytes += size;
  }
  if (count > 0) run.push({ count, bytes, overhead });
  return run;
}

/** The message as a datagram carries it: a text too large for one datagram of `maxBytes` is left out (fetched over HTTP). */
function toDatagramMessage(m: CommittedMessage, maxBytes: number): DatagramMessage {
  const message: DatagramMessage = {
    seq: m.seq,
    senderId: m.senderId,
    senderName: m.senderName,
    sentAt: m.sentAt,
    clientMsgId: m.clientMsgId,
    text: m.text,
    textOmitted: false,
  };
  return fitsAlone(message, maxBytes) ? message : { ...message, text: '', textOmitted: true };
}

/** Events in batches that each fit one EVENTS datagram (their JSON body within MAX_DATAGRAM_BYTES). */
export function packEvents(events: readonly ChatEvent[]): ChatEvent[][] {
  const room = MAX_DATAGRAM_BYTES - DATA_OVERHEAD_BYTES;
  const batches: ChatEvent[][] = [];
  let batch: ChatEvent[] = [];
  let bytes = 2; // the brackets of the JSON array
  for (const event of events) {
    const size = Buffer.byteLength(JSON.stringify(event), 'utf8') + 1;
    if (batch.length > 0 && (bytes + size > room || batch.length === MAX_EVENTS_PER_BATCH)) {
      batches.push(batch);
      batch = [];
      bytes = 2;
    }
    batch.push(event);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

import { type KeyObject, randomBytes } from 'node:crypto';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { type DataDatagram, type DropReason as DatagramDropReason, decodeDatagram, parseHeader } from '../protocol/datagram.js';
import type { ChatMessage } from '../protocol/message.js';
import { ChorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import { HISTORY_PAGE_MAX, PROBE_NONCE_BYTES } from '../protocol/limits.js';
import { isStreamId } from '../protocol/stream-id.js';
import { VouchedDigests } from '../protocol/vouched-digests.js';
import { type Clock, type Timer, systemClock } from './clock.js';
import { MulticastJoinError, groupSocketsOn } from './group-sockets.js';
import type { Arrival, MulticastTransport, MulticastTransportFactory } from './multicast-transport.js';
import { ChatOrdering } from './ordering.js';
import { DEFAULT_PROBE_TIMINGS, DeliveryPathMachine, type DeliveryState, type ProbeTimings } from './delivery-path.js';
import { ProgressReport } from './progress-report.js';
import type { ServerLink } from './server-link.js';
import { DEFAULT_VERIFY_BUDGET, VerifyBudget, type VerifyBudgetPolicy } from './verify-budget.js';

export type { DeliveryPath, DeliveryState } from './delivery-path.js';

/** A delivered message: the same shape the history API returns. */
export type { ChatMessage };
export { MulticastJoinError };

export interface ChatInfo {
  code: string;
  /** `streamId` names the chat in datagram headers: the receiver routes by it, never by the code. */
  multicast: { group: string; port: number; streamId: string; keyEpoch: number; key: string };
}

/** What the receiver needs from the server: the API client provides it. */
export interface ReceiverSource {
  chatInfo(code: string): Promise<ChatInfo>;
  history(code: string, page: { after: number; limit: number } | { latest: number }): Promise<{ messages: ChatMessage[]; latestSeq: number }>;
}

export interface ReceiverOptions {
  source: ReceiverSource;
  /** The server's pinned Ed25519 public key: only datagrams it signed are believed. */
  serverKey: KeyObject;
  /** Address of the interface to join groups on (127.0.0.1 by default, like the server). */
  interfaceAddress: string;
  /** How long a gap may wait for a late datagram before it is fetched. */
  reorderWindowMs?: number;
  /** Extra random wait before a repair, so that receivers missing the same datagram spread out. */
  repairJitterMs?: number;
  /** Signature checks each chat's datagrams may cost, see verify-budget.ts. */
  verifyBudget?: VerifyBudgetPolicy;
  /** How groups are joined: node:dgram sockets on `interfaceAddress` by default (group-sockets.ts); tests pass a fake. */
  multicast?: MulticastTransportFactory;
  /** Timers and time: the system's by default; tests pass a fake. */
  clock?: Clock;
  /** A number in [0, 1) for the repair jitter: Math.random by default. */
  random?: () => number;
  /**
   * The client's TCP connection to the server (the Sender): with it, each chat is probed to learn
   * whether multicast reaches us, and pushed over TCP when it does not (delivery-path.ts).
   * Without it the receiver relies on multicast and history alone, as before version 3.
   */
  link?: ServerLink;
  /** Shorter probe timers, for tests. */
  probeTimings?: Partial<ProbeTimings>;
}

/** `over-budget`: dropped unchecked, the chat's signature checks for now spent (verify-budget.ts). */
/** `stale-events`: an EVENTS datagram whose stamp is not above the last one taken under its epoch (a replay, or a late one). */
/** Why a datagram was dropped: the codec's reasons, one for another chat's stream, one past the verification budget, and stale events. */
export type DropReason = DatagramDropReason | 'other-chat' | 'over-budget' | 'stale-events';

// Signed datagrams under a newer epoch kept per chat while its key is fetched: so many, and so
// many bytes (DATA may be up to 16 KiB where the interface allows it: server/datagram-size.ts).
const MAX_HELD_FOR_KEY = 2048;
const MAX_HELD_FOR_KEY_BYTES = 4 * 1024 * 1024;
// How long after a rotation datagrams under the previous key are still accepted.
const PREVIOUS_KEY_GRACE_MS = 10_000;
// While a chat's datagrams are dropped unchecked, how often its history is asked for what they
// may have carried: heartbeats are dropped too, so they cannot be relied on to tell.
const OVER_BUDGET_CATCH_UP_MS = 1000;

/**
 * A chat's key under one epoch. `eventsAfter`: the highest EVENTS stamp taken under it (0: none
 * yet); an epoch is one server process's (chat-keys.ts), whose stamps only go up.
 */
interface EpochKey {
  key: Buffer;
  until: number;
  eventsAfter: number;
}

interface Subscription {
  code: string;
  stream: string;
  ordering: ChatOrdering<ChatMessage>;
  /** While history loads: live messages and hints that arrived, replayed once it is in. */
  early?: { messages: ChatMessage[]; latest: number };
  keys: Map<number, EpochKey>;
  currentEpoch: number;
  port: number;
  group: string;
  repairTimer?: Timer;
  repairing: boolean;
  refreshingKey?: Promise<void>;
  /** True while the chat's key is being fetched. */
  fetchingKey: boolean;
  /** Signed datagrams under an epoch newer than ours, replayed once its key is in. */
  heldForKey: Buffer[];
  heldForKeyBytes: number;
  /** Its group is joined (and must be left). */
  listening: boolean;
  verifyBudget: VerifyBudget;
  /** Digests of its VOUCHED DATA that the server's VOUCHes named (datagram.ts). */
  vouched: VouchedDigests;
  /** The last VOUCH checked: the fan-out sends each twice, and the copy needs no second check. */
  lastVouch?: Buffer;
  /** Its delivery path, with a link: started once history is in. */
  delivery?: DeliveryPathMachine;
  /** What it had to repair while on multicast, told to the server (progress-report.ts), and when next. */
  progress: ProgressReport;
  progressTimer?: Timer;
}

/**
 * The multicast receiver: joins each chat's group, believes only what the server signed and
 * the chat's key opens, and delivers every chat's messages exactly once and in order. Gaps (a
 * later sequence number, or a heartbeat ahead of us) wait a short reorder window, then are
 * fetched from the history API: the server's log is the retransmission buffer.
 *
 * This class is the policy only: groups are joined through a MulticastTransport (node:dgram by
 * default) and timers come from a Clock, so that tests can drive it without a socket.
 */
export class Receiver {
  private readonly sockets: MulticastTransport;
  private readonly clock: Clock;
  /** By canonical code, for callers; by stream id, for datagrams. */
  private readonly chats = new Map<string, Subscription>();
  private readonly streams = new Map<string, Subscription>();
  private readonly listeners: ((message: ChatMessage) => void)[] = [];
  private readonly errorListeners: ((error: unknown) => void)[] = [];
  private readonly joinFailureListeners: ((chat: string, error: MulticastJoinError) => void)[] = [];
  private readonly accessEndedListeners: ((chat: string, error: ChorusError) => void)[] = [];
  private readonly pathListeners: ((state: DeliveryState) => void)[] = [];
  private readonly eventListeners: ((chat: string, events: ChatEvent[]) => void)[] = [];
  private readonly timings: ProbeTimings;
  private closed = false;
  /** The key datagrams must be signed with: the pinned key of the server in use. */
  private serverKey: KeyObject;
  /** Counts moves to another server: a chat key fetched from the one before is not taken. */
  private serverGeneration = 0;
  readonly drops: Record<DropReason, number> = {
    malformed: 0,
    'bad-signature': 0,
    unvouched: 0,
    'unknown-key': 0,
    undecryptable: 0,
    'other-chat': 0,
    'over-budget': 0,
    'stale-events': 0,
  };
  /** `heldForKey`: datagrams under a new epoch that waited for its key (then read, or dropped). */
  /** `vouches`: VOUCHes checked; `vouchCopies`: a VOUCH's second copy, known by its bytes. */
  readonly counts = { datagrams: 0, vouches: 0, vouchCopies: 0, heartbeats: 0, repairs: 0, repairedMessages: 0, heldForKey: 0, pushedMessages: 0, probes: 0, othersProbes: 0, progressReports: 0 };

  constructor(private readonly options: ReceiverOptions) {
    this.clock = options.clock ?? systemClock;
    this.serverKey = options.serverKey;
    this.sockets = (options.multicast ?? groupSocketsOn(options.interfaceAddress))({
      datagram: (datagram, arrival) => this.onDatagram(datagram, arrival),
      error: (error) => this.reportError(error),
    });
    this.timings = { ...DEFAULT_PROBE_TIMINGS, ...options.probeTimings };
    options.link?.onPushed((chat, messages) => this.onPushed(chat, messages));
    options.link?.onEvents((chat, events) => this.onPushedEvents(chat, events));
    options.link?.onWatchRefused((chat, error) => {
      this.reportError(error);
      this.endAccess(chat, error);
    });
  }

  /** UDP sockets open: more than one per port once a port carries more chats than one socket may join. */
  get socketCount(): number {
    return this.sockets.socketCount;
  }

  onMessage(listener: (message: ChatMessage) => void): void {
    this.listeners.push(listener);
  }

  /** Repair failures (the server unreachable…): reported, and retried on the next hint. */
  onError(listener: (error: unknown) => void): void {
    this.errorListeners.push(listener);
  }

  /**
   * A chat's group could not be joined (its port taken by another program, the interface
   * wrong…): the chat is not received live. `join` rejects with the same error; this tells
   * whoever shows the person what is wrong without wrapping every join.
   */
  onJoinFailure(listener: (chat: string, error: MulticastJoinError) => void): void {
    this.joinFailureListeners.push(listener);
  }

  /**
   * The server said this user may no longer read a chat being received (removed by its creator,
   * or the chat is gone): a watch, a key or a history page refused. The receiver has stopped
   * receiving it by then; told once per chat, whichever refusal came first.
   */
  onAccessEnded(listener: (chat: string, error: ChorusError) => void): void {
    this.accessEndedListeners.push(listener);
  }

  /** With a link: each chat's first verdict (multicast or server push), and every change of path after it. */
  onPathChange(listener: (state: DeliveryState) => void): void {
    this.pathListeners.push(listener);
  }

  /** How the chat's messages reach us now; undefined without a link, or before the first verdict. */
  deliveryOf(codeInput: string): DeliveryState | undefined {
    return this.chats.get(normalizeChatCode(codeInput) ?? codeInput)?.delivery?.current;
  }

  /**
   * Starts receiving a chat. The group is joined first and only then history loaded, so
   * nothing falls between the two: live messages that arrive meanwhile wait in order.
   * `from`: `{ latest: N }` delivers the last N messages first; `{ after: S }` everything after S.
   */
  async join(codeInput: string, from: { latest: number } | { after: number } = { latest: 0 }): Promise<void> {
    const code = normalizeChatCode(codeInput) ?? codeInput;
    if (this.chats.has(code)) return;
    const info = await this.options.source.chatInfo(formatChatCode(code));
    if (!isStreamId(info.multicast.streamId)) throw new Error(`the server gave chat ${formatChatCode(code)} no valid stream id`);
    const startAfter = 'after' in from ? from.after : 0;
    const sub: Subscription = {
      code,
      stream: info.multicast.streamId,
      ordering: new ChatOrdering<ChatMessage>(startAfter, (m) => this.emit(m)),
      keys: new Map([[info.multicast.keyEpoch, { key: Buffer.from(info.multicast.key, 'base64'), until: Infinity, eventsAfter: 0 }]]),
      currentEpoch: info.multicast.keyEpoch,
      port: info.multicast.port,
      group: info.multicast.group,
      repairing: false,
      fetchingKey: false,
      heldForKey: [],
      heldForKeyBytes: 0,
      listening: false,
      verifyBudget: new VerifyBudget(this.options.verifyBudget ?? DEFAULT_VERIFY_BUDGET, this.clock.monotonic()),
      vouched: new VouchedDigests(() => this.clock.monotonic()),
      early: 'latest' in from ? { messages: [], latest: 0 } : undefined,
      progress: new ProgressReport(),
    };
    this.chats.set(code, sub);
    this.streams.set(sub.stream, sub);
    // With a link a group that cannot be joined is not the end: the chat is pushed instead.
    let joinProblem: string | undefined;
    try {
      await this.listen(sub, this.options.link === undefined);
    } catch (error) {
      if (this.options.link === undefined || !(error instanceof MulticastJoinError)) throw error;
      joinProblem = error.message;
    }
    if (this.chats.get(code) !== sub) return;
    if ('latest' in from) {
      const page = await this.options.source.history(formatChatCode(code), { latest: from.latest });
      const first = page.messages[0]?.seq ?? page.latestSeq + 1;
      // Start just before the first message we show; older history is not this receiver's job.
      sub.ordering = new ChatOrdering<ChatMessage>(first - 1, (m) => this.emit(m));
      sub.ordering.offer(page.messages);
      sub.ordering.noteLatest(page.latestSeq);
      const early = sub.early!;
      sub.early = undefined;
      sub.ordering.offer(early.messages);
      sub.ordering.noteLatest(early.latest);
    } else {
      this.scheduleRepair(sub, 0, true);
    }
    this.checkGap(sub);
    this.startDelivery(sub, joinProblem);
  }

  /** Stops receiving a chat. */
  leave(codeInput: string): void {
    const code = normalizeChatCode(codeInput) ?? codeInput;
    const sub = this.chats.get(code);
    if (!sub) return;
    sub.repairTimer?.cancel();
    sub.progressTimer?.cancel();
    sub.delivery?.stop();
    this.chats.delete(code);
    if (this.streams.get(sub.stream) === sub) this.streams.delete(sub.stream);
    if (sub.listening) this.sockets.leave(sub.group, sub.port);
    sub.listening = false;
  }

  /**
   * The client now talks to another server (server-list.ts), whose pinned key is `serverKey`:
   * from now on only datagrams it signed are believed (the last one's are dropped as forged:
   * each server signs with its own key), each chat's key is asked of it (a server's chat keys
   * are its own), and each chat's delivery path starts over (delivery-path.ts), since the last
   * server's multicast has stopped and the new one's may not reach us. Repairs need nothing:
   * the source is the API client on the same server list.
   */
  serverChanged(serverKey: KeyObject): void {
    this.serverKey = serverKey;
    this.serverGeneration++;
    for (const sub of this.chats.values()) {
      sub.keys.clear();
      // Any epoch the new server signs is newer than this: its datagrams wait for its key.
      sub.currentEpoch = 0;
      sub.heldForKey.length = 0;
      sub.heldForKeyBytes = 0;
      sub.refreshingKey = undefined;
      void this.refreshKey(sub);
      sub.delivery?.serverChanged();
    }
  }

  lastDelivered(codeInput: string): number | undefined {
    return this.chats.get(normalizeChatCode(codeInput) ?? codeInput)?.ordering.lastDelivered;
  }

  close(): void {
    this.closed = true;
    for (const sub of this.chats.values()) {
      sub.repairTimer?.cancel();
      sub.progressTimer?.cancel();
      sub.delivery?.stop();
    }
    this.sockets.close();
    this.chats.clear();
    this.streams.clear();
  }

  /**
   * Joins the chat's group. If it cannot, the join-failure listeners are told why, and without a
   * link (`forget`) the chat is forgotten: it could not be received at all.
   */
  private async listen(sub: Subscription, forget = true): Promise<void> {
    try {
      await this.sockets.join(sub.group, sub.port);
    } catch (error) {
      if (forget && this.chats.get(sub.code) === sub) this.leave(sub.code);
      if (error instanceof MulticastJoinError) for (const listener of this.joinFailureListeners) listener(formatChatCode(sub.code), error);
      throw error;
    }
    // Left while joining: give the membership back.
    if (this.chats.get(sub.code) !== sub) this.sockets.leave(sub.group, sub.port);
    else sub.listening = true;
  }

  /** With a link: probes the chat (or, its group not joined, asks for push at once). */
  private startDelivery(sub: Subscription, joinProblem: string | undefined): void {
    const link = this.options.link;
    if (!link || this.closed || this.chats.get(sub.code) !== sub) return;
    sub.delivery = new DeliveryPathMachine({
      chat: formatChatCode(sub.code),
      link,
      clock: this.clock,
      timings: this.timings,
      newNonce: () => {
        this.counts.probes++;
        return randomBytes(PROBE_NONCE_BYTES).toString('base64url');
      },
      lastDelivered: () => sub.ordering.lastDelivered,
      serverHead: (latestSeq) => {
        if (this.chats.get(sub.code) !== sub) return;
        sub.ordering.noteLatest(latestSeq);
        this.checkGap(sub);
      },
      changed: (state) => {
        for (const listener of this.pathListeners) listener(state);
      },
      rejoin: async () => {
        try {
          await this.listen(sub, false);
          return undefined;
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
      },
    });
    sub.delivery.start(joinProblem);
  }

  /** Messages the server pushed over TCP: into the same ordering as multicast's, which drops what came twice. */
  private onPushed(chat: string, messages: ChatMessage[]): void {
    const sub = this.chats.get(normalizeChatCode(chat) ?? chat);
    const last = messages.at(-1);
    if (!sub || !last || this.closed) return;
    this.counts.pushedMessages += messages.length;
    if (sub.early) {
      sub.early.messages.push(...messages);
      return;
    }
    sub.ordering.offer(messages);
    sub.ordering.noteLatest(last.seq);
    this.checkGap(sub);
  }

  /** Events the server pushed over TCP: handed on like multicast ones, for chats we receive. */
  private onPushedEvents(chat: string, events: ChatEvent[]): void {
    const sub = this.chats.get(normalizeChatCode(chat) ?? chat);
    if (!sub || this.closed) return;
    this.emitEvents(formatChatCode(sub.code), events);
  }

  /**
   * Each socket of a port's pool gets every datagram sent to the port: read it only on the one
   * holding its chat's group, and count what no chat of ours claims only once, on the first.
   */
  private onDatagram(datagram: Buffer, arrival: Arrival): void {
    if (this.closed) return;
    const header = parseHeader(datagram);
    const sub = 'reason' in header ? undefined : this.streams.get(header.stream);
    if (sub?.port === arrival.port) {
      if (!arrival.groups.has(sub.group)) return;
    } else if (!arrival.first) return;
    this.counts.datagrams++;
    this.handleDatagram(datagram, true);
  }

  /** `mayHold`: a datagram under a newer epoch may wait for its key (once, not on replay). */
  private handleDatagram(datagram: Buffer, mayHold: boolean): void {
    const header = parseHeader(datagram);
    if ('reason' in header) {
      this.drops.malformed++;
      return;
    }
    const sub = this.streams.get(header.stream);
    if (!sub) {
      this.drops['other-chat']++;
      return;
    }
    // Every member's probes reach every member: the ones that are not ours cost no signature check.
    if (header.type === 'probe' && !sub.delivery?.expects(header.nonce.toString('base64url'))) {
      this.counts.othersProbes++;
      return;
    }
    // EVENTS with a stamp not above the last taken under its epoch: a replay, or a late one.
    // Dropped before the signature check: genuine or not it would go, so replays cost no check.
    if (header.type === 'events' && !eventsFresh(sub.keys.get(header.epoch), header.firstSeq)) {
      this.drops['stale-events']++;
      return;
    }
    if (header.type === 'vouch' && sub.lastVouch?.equals(datagram)) {
      // The same bytes passed the signature check: its digests are in already.
      this.counts.vouchCopies++;
      sub.delivery?.multicastArrived();
      return;
    }
    // Held datagrams were checked once already: only what arrives counts against the budget. A
    // VOUCHED DATA costs a digest, not a signature check: it spends none.
    if (mayHold && header.type !== 'vouched-data' && !sub.verifyBudget.take(this.clock.monotonic())) {
      this.drops['over-budget']++;
      this.catchUpWhileOverBudget(sub);
      return;
    }
    const now = this.clock.now();
    const result = decodeDatagram(datagram, (_stream, epoch) => {
      const entry = sub.keys.get(epoch);
      return entry && entry.until > now ? entry.key : undefined;
    }, this.serverKey, sub.vouched);
    if (!result.ok) {
      // A signed datagram under an epoch we do not know yet: the key was rotated (or the server
      // restarted). Fetch the new key and keep the datagram until it is in: every datagram of a
      // burst after a restart would otherwise be fetched again over HTTP.
      const newerEpoch = result.reason === 'unknown-key' && header.epoch > sub.currentEpoch;
      if (newerEpoch) void this.refreshKey(sub);
      if (newerEpoch && mayHold && sub.fetchingKey && sub.heldForKey.length < MAX_HELD_FOR_KEY && sub.heldForKeyBytes + datagram.length <= MAX_HELD_FOR_KEY_BYTES) {
        sub.heldForKey.push(Buffer.from(datagram));
        sub.heldForKeyBytes += datagram.length;
        this.counts.heldForKey++;
        return;
      }
      this.drops[result.reason]++;
      // Not to be read after all: what it carried is fetched as a gap.
      if (newerEpoch && !sub.early) {
        sub.ordering.noteLatest(header.type === 'data' || header.type === 'vouched-data' ? header.firstSeq + header.count - 1 : header.firstSeq);
        this.checkGap(sub);
      }
      return;
    }
    const d = result.datagram;
    if (d.type === 'vouch') {
      // Its digests are in sub.vouched now: the datagrams it names follow.
      this.counts.vouches++;
      sub.lastVouch = Buffer.from(datagram);
      sub.delivery?.multicastArrived();
      return;
    }
    if (d.type === 'events') {
      // Ephemeral, never ordered or repaired: handed on as they come, each stamp once (eventsFresh
      // passed above; only a datagram that passed every check moves the mark).
      const entry = sub.keys.get(d.epoch);
      if (entry) entry.eventsAfter = Math.max(entry.eventsAfter, d.stamp);
      sub.delivery?.multicastArrived();
      return this.emitEvents(formatChatCode(sub.code), d.events);
    }
    if (d.type === 'probe') sub.delivery?.probeArrived(d.nonce);
    else sub.delivery?.multicastArrived();
    if (sub.early) {
      if (d.type !== 'data') sub.early.latest = Math.max(sub.early.latest, d.latestSeq);
      else sub.early.messages.push(...toChatMessages(d, sub.code).filter((m) => m !== undefined));
      return;
    }
    if (d.type !== 'data') {
      if (d.type === 'heartbeat') this.counts.heartbeats++;
      sub.ordering.noteLatest(d.latestSeq);
    } else {
      sub.ordering.offer(toChatMessages(d, sub.code).filter((m) => m !== undefined));
      // A message too large for a datagram was only announced: its seq counts as known.
      sub.ordering.noteLatest(d.firstSeq + d.messages.length - 1);
    }
    this.checkGap(sub);
  }

  private checkGap(sub: Subscription): void {
    if (sub.early || !sub.ordering.missing() || sub.repairTimer || sub.repairing) return;
    const window = this.options.reorderWindowMs ?? 20;
    const jitter = (this.options.random ?? Math.random)() * (this.options.repairJitterMs ?? 10);
    this.scheduleRepair(sub, window + jitter);
  }

  /** A dropped datagram may have been genuine: fetch what is new now and then, until the flood ends. */
  private catchUpWhileOverBudget(sub: Subscription): void {
    if (sub.early || sub.repairTimer || sub.repairing || this.closed) return;
    this.scheduleRepair(sub, OVER_BUDGET_CATCH_UP_MS, true);
  }

  private scheduleRepair(sub: Subscription, delayMs: number, catchUp = false): void {
    sub.repairTimer?.cancel();
    sub.repairTimer = this.clock.after(delayMs, () => {
      sub.repairTimer = undefined;
      void this.repair(sub, catchUp);
    });
  }

  /**
   * Fetches from history what was missing when the repair began, hole by hole, and only the
   * holes: not the messages already waiting, and not gaps that open while it fetches. Those get
   * their own reorder window, for their datagrams are most likely still on the way. (Fetching
   * from the first gap until nothing was missing pulled a whole burst over HTTP: at 10% loss a
   * receiver fetched ~1800 of 2000 messages, test/netns/messaging-loss.test.ts.)
   * `catchUp`: after a join from a known position, fetch up to the chat's latest message, which
   * the first page tells.
   */
  private async repair(sub: Subscription, catchUp = false): Promise<void> {
    if (sub.repairing || this.closed) return;
    sub.repairing = true;
    this.counts.repairs++;
    try {
      let target = catchUp ? Infinity : (sub.ordering.missing()?.upTo ?? 0);
      while (sub.ordering.lastDelivered < target) {
        const after = sub.ordering.lastDelivered;
        const hole = sub.ordering.firstHole(HISTORY_PAGE_MAX) ?? { after, upTo: after + HISTORY_PAGE_MAX };
        const page = await this.options.source.history(formatChatCode(sub.code), { after, limit: hole.upTo - after });
        if (!this.chats.has(sub.code)) return;
        this.counts.repairedMessages += page.messages.length;
        this.countRepaired(sub, page.messages.length);
        if (target === Infinity) target = page.latestSeq;
        // Only a catch-up takes the page's latest seq as known: that is the latest *committed*,
        // and messages still queued for multicast would be fetched over HTTP as if lost.
        if (catchUp) sub.ordering.noteLatest(page.latestSeq);
        sub.ordering.offer(page.messages);
        // Nothing came that was due: stop rather than ask again (the next hint retries).
        if (sub.ordering.lastDelivered === after) break;
      }
    } catch (error) {
      this.reportError(error);
      // Try again later: the next datagram or heartbeat would, but an idle chat needs a nudge.
      if (!this.endAccess(sub.code, error) && !this.closed) this.scheduleRepair(sub, 1000, catchUp);
    } finally {
      sub.repairing = false;
    }
    if (!sub.repairTimer) this.checkGap(sub);
  }

  /**
   * Repairs on multicast are news for the server's pace (a `progress` report, docs/protocol.md);
   * those on push, or before the first verdict (a join's catch-up), are not.
   */
  private countRepaired(sub: Subscription, messages: number): void {
    if (!this.options.link || messages === 0 || sub.delivery?.current?.path !== 'multicast') return;
    sub.progress.repaired(messages);
    this.scheduleProgress(sub);
  }

  private scheduleProgress(sub: Subscription): void {
    if (sub.progressTimer || !sub.progress.pending || this.closed) return;
    const wait = sub.progress.waitMs(this.clock.monotonic());
    sub.progressTimer = this.clock.after(
      wait,
      () => {
        sub.progressTimer = undefined;
        this.reportProgress(sub);
      },
      { weak: true },
    );
  }

  /** Sends the chat's report if one is due, and looks again a report's interval later while there is news. */
  private reportProgress(sub: Subscription): void {
    if (this.closed || this.chats.get(sub.code) !== sub) return;
    if (sub.delivery?.current?.path !== 'multicast') return sub.progress.forget();
    const now = this.clock.monotonic();
    const report = sub.progress.due(now, sub.ordering.lastDelivered);
    if (!report) return sub.progress.settle();
    // Not connected, or a server that takes no reports: nothing is said, and old repairs are no news later.
    if (!this.options.link!.progress(formatChatCode(sub.code), report.delivered, report.repaired)) return sub.progress.forget();
    this.counts.progressReports++;
    sub.progress.sent(report, now);
    this.scheduleProgress(sub);
  }

  private refreshKey(sub: Subscription): Promise<void> {
    sub.refreshingKey ??= (async () => {
      sub.fetchingKey = true;
      const generation = this.serverGeneration;
      try {
        const info = await this.options.source.chatInfo(formatChatCode(sub.code));
        const { keyEpoch, key } = info.multicast;
        if (keyEpoch > sub.currentEpoch && generation === this.serverGeneration) {
          const previous = sub.keys.get(sub.currentEpoch);
          sub.keys.clear();
          if (previous) sub.keys.set(sub.currentEpoch, { ...previous, until: this.clock.now() + PREVIOUS_KEY_GRACE_MS });
          sub.keys.set(keyEpoch, { key: Buffer.from(key, 'base64'), until: Infinity, eventsAfter: 0 });
          sub.currentEpoch = keyEpoch;
        }
      } catch (error) {
        this.reportError(error);
        this.endAccess(sub.code, error);
      } finally {
        sub.fetchingKey = false;
        // With the key or without it: what waited is read now, or dropped and fetched as a gap.
        const held = sub.heldForKey.splice(0);
        sub.heldForKeyBytes = 0;
        if (this.chats.get(sub.code) === sub && !this.closed) for (const datagram of held) this.handleDatagram(datagram, false);
        // Allow another refresh, but not more than one a second.
        this.clock.after(1000, () => (sub.refreshingKey = undefined), { weak: true });
      }
    })();
    return sub.refreshingKey;
  }

  /** Typing, read positions and presence of the chat's members, as multicast (or pushed) events. */
  onEvents(listener: (chat: string, events: ChatEvent[]) => void): void {
    this.eventListeners.push(listener);
  }

  private emitEvents(chat: string, events: ChatEvent[]): void {
    for (const listener of this.eventListeners) listener(chat, events);
  }

  private emit(message: ChatMessage): void {
    for (const listener of this.listeners) listener(message);
  }

  private reportError(error: unknown): void {
    for (const listener of this.errorListeners) listener(error);
  }

  /** Stops receiving the chat if `error` says access to it ended (then true), and says so once. */
  private endAccess(codeInput: string, error: unknown): boolean {
    if (!accessEnded(error)) return false;
    const code = normalizeChatCode(codeInput) ?? codeInput;
    if (!this.chats.has(code)) return true;
    this.leave(code);
    for (const listener of this.accessEndedListeners) listener(formatChatCode(code), error);
    return true;
  }
}

/**
 * Whether an EVENTS stamp is new under its epoch: above the last taken. Stamp 0 comes from a
 * server before stamps, and is taken (with no replay protection) while the epoch has shown no
 * stamp. Without a key for the epoch there is nothing to compare: decoding drops it, or holds it
 * for the key, and it comes back here.
 */
function eventsFresh(epochKey: EpochKey | undefined, stamp: number): boolean {
  if (!epochKey) return true;
  return stamp > epochKey.eventsAfter || (stamp === 0 && epochKey.eventsAfter === 0);
}

/**
 * The server says this user may no longer read the chat (removed, or the chat is gone): asking
 * again cannot help, so the receiver stops receiving it. Listeners learn why from onError.
 */
function accessEnded(error: unknown): error is ChorusError {
  const code = error instanceof ChorusError ? error.code : undefined;
  return code === 'NOT_A_MEMBER' || code === 'BANNED' || code === 'CHAT_NOT_FOUND';
}

function toChatMessages(d: DataDatagram, code: string): (ChatMessage | undefined)[] {
  const chat = formatChatCode(code);
  // The messages of one commit share their time: formatted once for all of them.
  let sentAtMs = NaN;
  let sentAt = '';
  return d.messages.map((m) => {
    if (m.textOmitted) return undefined;
    if (m.sentAt !== sentAtMs) {
      sentAtMs = m.sentAt;
      sentAt = new Date(m.sentAt).toISOString();
    }
    return { chat, seq: m.seq, sender: { id: m.senderId, name: m.senderName }, text: m.text, sentAt, clientMsgId: m.clientMsgId };
  });
}

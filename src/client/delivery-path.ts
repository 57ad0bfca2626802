import {
  PROBE_BACK_INTERVAL_MS,
  PROBE_CONFIRM_INTERVAL_MS,
  PROBE_FAILURES_TO_PUSH,
  PROBE_INTERVAL_MS,
  PROBE_RETRY_MS,
  PROBE_SUCCESSES_TO_MULTICAST,
  PROBE_TIMEOUT_MS,
} from '../protocol/limits.js';
import type { Clock, Timer } from './clock.js';
import type { ServerLink } from './server-link.js';

/** How a chat's messages reach this client now: by multicast, or pushed by the server over TCP. */
export type DeliveryPath = 'multicast' | 'server';

export interface DeliveryState {
  /** XXXXX-XXXXX */
  chat: string;
  path: DeliveryPath;
  /** Whether multicast was found working (false on push). */
  multicast: boolean;
  /** Why the messages come through the server, for the person; '' on multicast. */
  reason: string;
  /** When this path was taken (ms since the epoch). */
  since: number;
}

/** The timers of docs/protocol.md (Delivery); tests may shorten them. */
export interface ProbeTimings {
  timeoutMs: number;
  retryMs: number;
  intervalMs: number;
  failuresToPush: number;
  backIntervalMs: number;
  confirmIntervalMs: number;
  successesToMulticast: number;
}

export const DEFAULT_PROBE_TIMINGS: ProbeTimings = {
  timeoutMs: PROBE_TIMEOUT_MS,
  retryMs: PROBE_RETRY_MS,
  intervalMs: PROBE_INTERVAL_MS,
  failuresToPush: PROBE_FAILURES_TO_PUSH,
  backIntervalMs: PROBE_BACK_INTERVAL_MS,
  confirmIntervalMs: PROBE_CONFIRM_INTERVAL_MS,
  successesToMulticast: PROBE_SUCCESSES_TO_MULTICAST,
};

export interface DeliveryPathDeps {
  /** XXXXX-XXXXX */
  chat: string;
  link: ServerLink;
  clock: Clock;
  timings: ProbeTimings;
  newNonce(): string;
  /** Where a push starts: the last seq delivered in order (asked again at every reconnect). */
  lastDelivered(): number;
  /** The latest seq multicast, as the server answered a probe: what multicast should have brought by now. */
  serverHead(latestSeq: number): void;
  changed(state: DeliveryState): void;
  /** After the chat's group could not be joined: try again; resolves with why not, or undefined once joined. */
  rejoin(): Promise<string | undefined>;
}

/**
 * starting   → probes at join; the first verdict (multicast, or push).
 * multicast  → a probe now and then; PROBE_FAILURES_TO_PUSH failures in a row → push.
 * push       → watched by the server; a probe every PROBE_BACK_INTERVAL_MS; a success → confirming.
 * confirming → still on push, probes PROBE_CONFIRM_INTERVAL_MS apart; PROBE_SUCCESSES_TO_MULTICAST
 *              in a row → multicast (unwatch); one failure → push.
 */
type Phase = 'starting' | 'multicast' | 'push' | 'confirming' | 'stopped';

interface Round {
  nonces: Set<string>;
  /** The server said at least one of the round's probes went out: a silence then means multicast. */
  sent: boolean;
  deadline: Timer;
  retry?: Timer;
}

/**
 * One chat's delivery path: finds out, by probes the server multicasts with a nonce we chose,
 * whether the chat's datagrams reach us, and moves the chat to server push when they do not
 * and back when they do again, with hysteresis so that a flaky network does not flap. The
 * Receiver feeds it the probes that arrive; the ordering behind it makes the switch seamless
 * (push starts after the last seq delivered, and duplicates are dropped by seq).
 */
export class DeliveryPathMachine {
  private phase: Phase = 'starting';
  private state: DeliveryState | undefined;
  private round: Round | undefined;
  private next: Timer | undefined;
  private failures = 0;
  private successes = 0;
  /** Why the group cannot be joined, while it cannot: no probe can arrive until it is. */
  private joinProblem: string | undefined;
  /** A datagram of the chat, signed by the server, arrived since the last probe round was due. */
  private carried = false;

  constructor(private readonly deps: DeliveryPathDeps) {}

  get current(): DeliveryState | undefined {
    return this.state;
  }

  /** Begins with probes, or, when the group could not be joined, on push at once. */
  start(joinProblem?: string): void {
    if (joinProblem === undefined) return this.startRound();
    this.joinProblem = joinProblem;
    this.toPush(`cannot join the chat's multicast group: ${joinProblem}`);
  }

  /** A PROBE datagram for this chat arrived, signed by the server: it answers a probe of ours, or nothing. */
  probeArrived(nonce: string): void {
    if (this.round?.nonces.has(nonce)) this.roundSucceeded();
  }

  /**
   * Whether a PROBE with this nonce would answer a probe of ours. Every member's probes reach
   * every member: the others' are dropped by this, before their signature is checked.
   */
  expects(nonce: string): boolean {
    return this.round?.nonces.has(nonce) ?? false;
  }

  /** Multicast carried a datagram of the chat (data or heartbeat, signed by the server): on multicast, no probe is needed while it does. */
  multicastArrived(): void {
    this.carried = true;
  }

  /**
   * The client now talks to another server (server-list.ts). Its multicast is another server's:
   * whether it reaches us says nothing of the last one's, so a chat on multicast is probed again
   * from the start, at once (the old server's datagrams have stopped, and no heartbeat will tell
   * of what the new one sequences). A chat on push stays on push: the Sender asks the new server
   * for it at its welcome, from what was delivered.
   */
  serverChanged(): void {
    if (this.phase === 'stopped') return;
    this.endRound();
    this.next?.cancel();
    this.failures = 0;
    this.successes = 0;
    this.carried = false;
    if (this.phase === 'push' || this.phase === 'confirming') {
      this.phase = 'push';
      return this.schedule(this.deps.timings.backIntervalMs);
    }
    this.phase = 'starting';
    if (this.joinProblem === undefined) this.startRound();
    else this.schedule(0);
  }

  stop(): void {
    if (this.phase === 'push' || this.phase === 'confirming') this.deps.link.unwatch(this.deps.chat);
    this.phase = 'stopped';
    this.endRound();
    this.next?.cancel();
  }

  private startRound(): void {
    if (this.phase === 'stopped') return;
    const { timings } = this.deps;
    this.round = { nonces: new Set(), sent: false, deadline: this.deps.clock.after(timings.timeoutMs, () => this.roundEnded(), { weak: true }) };
    this.sendProbe();
    // At the start one lost datagram must not decide: a second probe follows shortly.
    if (this.phase === 'starting') this.round.retry = this.deps.clock.after(timings.retryMs, () => this.sendProbe(), { weak: true });
  }

  private sendProbe(): void {
    const round = this.round;
    if (!round) return;
    const nonce = this.deps.newNonce();
    round.nonces.add(nonce);
    this.deps.link.probe(this.deps.chat, nonce).then(
      ({ latestSeq }) => {
        if (this.phase === 'stopped') return;
        if (this.round === round) round.sent = true;
        this.deps.serverHead(latestSeq);
      },
      // Refused, or the connection lost: this probe tells nothing about multicast.
      () => {},
    );
  }

  private endRound(): void {
    this.round?.deadline.cancel();
    this.round?.retry?.cancel();
    this.round = undefined;
  }

  private roundSucceeded(): void {
    this.endRound();
    switch (this.phase) {
      case 'starting':
        return this.toMulticast();
      case 'multicast':
        this.failures = 0;
        return this.schedule(this.deps.timings.intervalMs);
      case 'push':
      case 'confirming':
        this.phase = 'confirming';
        this.successes++;
        if (this.successes >= this.deps.timings.successesToMulticast) return this.toMulticast();
        return this.schedule(this.deps.timings.confirmIntervalMs);
    }
  }

  /** The round's time is up without its datagram. */
  private roundEnded(): void {
    const sent = this.round?.sent ?? false;
    this.endRound();
    const { timings } = this.deps;
    // The server never said it sent the probe (not connected, or refused): no verdict; ask again.
    if (!sent) return this.schedule(this.phase === 'starting' ? timings.timeoutMs : timings.intervalMs);
    switch (this.phase) {
      case 'starting':
        return this.toPush(`no probe came back by multicast within ${seconds(timings.timeoutMs)}`);
      case 'multicast':
        this.failures++;
        if (this.failures >= timings.failuresToPush) return this.toPush(`multicast stopped arriving (${this.failures} probes in a row did not come back)`);
        return this.schedule(timings.retryMs);
      case 'confirming':
        this.phase = 'push';
        this.successes = 0;
        return this.schedule(timings.backIntervalMs);
      case 'push':
        return this.schedule(timings.backIntervalMs);
    }
  }

  private toPush(reason: string): void {
    this.phase = 'push';
    this.successes = 0;
    this.deps.link.watch(this.deps.chat, () => this.deps.lastDelivered());
    this.publish('server', reason);
    this.schedule(this.deps.timings.backIntervalMs);
  }

  private toMulticast(): void {
    const wasPushed = this.phase === 'push' || this.phase === 'confirming';
    this.phase = 'multicast';
    this.failures = 0;
    this.successes = 0;
    if (wasPushed) this.deps.link.unwatch(this.deps.chat);
    this.publish('multicast', '');
    this.schedule(this.deps.timings.intervalMs);
  }

  private schedule(ms: number): void {
    this.next?.cancel();
    this.next = this.deps.clock.after(ms, () => void this.nextRound(), { weak: true });
  }

  private async nextRound(): Promise<void> {
    if (this.phase === 'stopped') return;
    // On multicast, datagrams that keep coming say as much as a probe would: a busy chat costs no probes.
    if (this.phase === 'multicast' && this.carried && this.failures === 0) {
      this.carried = false;
      return this.schedule(this.deps.timings.intervalMs);
    }
    this.carried = false;
    if (this.joinProblem !== undefined) {
      this.joinProblem = await this.deps.rejoin();
      // Stopped while it tried (the chat was left).
      if ((this.phase as Phase) === 'stopped') return;
      if (this.joinProblem !== undefined) return this.schedule(this.deps.timings.backIntervalMs);
    }
    this.startRound();
  }

  private publish(path: 'multicast' | 'server', reason: string): void {
    if (this.state?.path === path) return;
    this.state = { chat: this.deps.chat, path, multicast: path === 'multicast', reason, since: this.deps.clock.now() };
    this.deps.changed(this.state);
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

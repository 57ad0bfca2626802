import { type Socket, createSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { type DatagramMessage, encodeData, encodeHeartbeat, packMessages } from '../protocol/datagram.js';
import type { ChatKeys } from './chat-keys.js';
import type { MulticastConfig } from './config.js';
import type { CommittedMessage } from './sequencer.js';
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

interface ChatState {
  address: ChatAddress;
  latestSeq: number;
  step: number;
  timer?: NodeJS.Timeout;
}

/** Multicast egress: every committed message goes out once, sealed and signed, to its chat's group. */
export class Fanout {
  private readonly socket: Socket;
  private readonly chats = new Map<string, ChatState>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats = { datagrams: 0, heartbeats: 0, sendErrors: 0 };

  private constructor(
    private readonly config: MulticastConfig,
    private readonly keys: ChatKeys,
    private readonly identity: ServerIdentity,
    private readonly addressOf: (chatCode: string) => Promise<ChatAddress>,
    private readonly logger: Logger,
  ) {
    this.socket = createSocket({ type: 'udp4' });
  }

  static async start(
    config: MulticastConfig,
    keys: ChatKeys,
    identity: ServerIdentity,
    addressOf: (chatCode: string) => Promise<ChatAddress>,
    logger: Logger,
  ): Promise<Fanout> {
    const fanout = new Fanout(config, keys, identity, addressOf, logger);
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

  /** Queues a committed batch; batches go out in commit order. */
  publish(batch: CommittedMessage[]): void {
    this.chain = this.chain.then(() => this.send(batch)).catch((error) => this.logger.error({ err: error }, 'fan-out failed'));
  }

  /** Sends a heartbeat now (after a key rotation, so receivers learn the new epoch). */
  nudge(chatCode: string): void {
    const state = this.chats.get(chatCode);
    if (state) this.chain = this.chain.then(() => this.heartbeat(chatCode, state)).catch(() => {});
  }

  async close(): Promise<void> {
    await this.chain;
    this.closed = true;
    for (const state of this.chats.values()) clearTimeout(state.timer);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private async send(batch: CommittedMessage[]): Promise<void> {
    for (const [chatCode, messages] of groupByChat(batch)) {
      const state = await this.stateOf(chatCode);
      const { epoch, key, nonces } = await this.keys.keyFor(chatCode);
      for (const group of packMessages(messages.map(toDatagramMessage))) {
        const datagram = encodeData({ stream: state.address.stream, epoch, messages: group }, key, nonces.next(), this.identity.privateKey);
        this.transmit(datagram, state.address);
        this.stats.datagrams++;
      }
      state.latestSeq = Math.max(state.latestSeq, messages.at(-1)!.seq);
      this.scheduleHeartbeats(chatCode, state, 0);
    }
  }

  private async heartbeat(chatCode: string, state: ChatState): Promise<void> {
    if (this.closed) return;
    const { epoch } = await this.keys.keyFor(chatCode);
    const datagram = encodeHeartbeat({ stream: state.address.stream, epoch, latestSeq: state.latestSeq }, this.identity.privateKey);
    this.transmit(datagram, state.address);
    this.stats.heartbeats++;
  }

  private scheduleHeartbeats(chatCode: string, state: ChatState, step: number): void {
    clearTimeout(state.timer);
    if (this.closed) return;
    state.step = step;
    const delay = HEARTBEAT_DELAYS_MS[step] ?? HEARTBEAT_IDLE_MS;
    state.timer = setTimeout(() => {
      this.chain = this.chain
        .then(() => this.heartbeat(chatCode, state))
        .catch((error) => this.logger.warn({ err: error }, 'heartbeat failed'))
        .then(() => this.scheduleHeartbeats(chatCode, state, step + 1));
    }, delay);
    state.timer.unref();
  }

  private async stateOf(chatCode: string): Promise<ChatState> {
    let state = this.chats.get(chatCode);
    if (!state) {
      state = { address: await this.addressOf(chatCode), latestSeq: 0, step: 0 };
      this.chats.set(chatCode, state);
    }
    return state;
  }

  private transmit(datagram: Buffer, address: ChatAddress): void {
    this.socket.send(datagram, address.port, address.group, (error) => {
      if (error) {
        this.stats.sendErrors++;
        this.logger.warn({ err: error, group: address.group, port: address.port }, 'multicast send failed');
      }
    });
  }
}

function groupByChat(batch: CommittedMessage[]): Map<string, CommittedMessage[]> {
  const byChat = new Map<string, CommittedMessage[]>();
  for (const m of batch) {
    const list = byChat.get(m.chatCode);
    if (list) list.push(m);
    else byChat.set(m.chatCode, [m]);
  }
  return byChat;
}

function toDatagramMessage(m: CommittedMessage): DatagramMessage {
  return {
    seq: m.seq,
    senderId: m.senderId,
    senderName: m.senderName,
    sentAt: m.sentAt,
    clientMsgId: m.clientMsgId,
    text: m.text,
    textOmitted: false,
  };
}

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChatEvent } from '../../protocol/events.js';
import type { ClusterConfig } from '../config.js';
import type { MembershipChange } from '../membership-cache.js';
import type { CommittedMessage } from '../store/messages.js';
import type { Store } from '../store/store.js';
import { Bus, busSizedParts } from './bus.js';
import { ChatLeases } from './leases.js';
import type { MessageSink } from '../sequencer.js';
import { MessageRouter } from './router.js';
import type { ThrottleChannel, ThrottleEvent } from './shared-throttles.js';
import { SiteFeed } from './site-feed.js';

/** How often a server compares what it delivered with the database (bus traffic lost). */
const SWEEP_MS = 1_000;

/** What the cluster acts on in this server once its parts exist (compose.ts). */
export interface LocalParts {
  /** The sequencer: commits of the chats this server owns. */
  local: MessageSink;
  /** Hands messages to this site: recent window, multicast, push. */
  deliver(batch: CommittedMessage[]): void;
  members: {
    apply(change: MembershipChange): void;
    onChange(listener: (change: MembershipChange) => void): void;
    forget(chatCode: string): void;
    forgetAll(): void;
    cachedChats(): string[];
  };
  keys: { rotateIfHeld(chatCode: string): Promise<unknown> | undefined; heldChats(): string[] };
  /** Tells the fan-out a chat's key changed (it seals with the new one from now on). */
  keyRotated(chatCode: string): void;
  /** Events relayed from another server, sent at this site only. */
  eventsHere(chatCode: string, events: readonly ChatEvent[]): void;
  /** A member removed (or gone) at another server: their watches here end. */
  memberRemoved(chatCode: string, userId: number): void;
  /** What another server announced of a user's presence there. */
  presenceElsewhere(serverId: string, userId: number, state: 'online' | 'away' | 'offline'): void;
}

/**
 * This server as one of a cluster (docs/architecture.md, The cluster): its leases, the bus, the
 * router that takes its clients' sends to each chat's owner, and the feed that multicasts every
 * chat's messages at this site in order. Everything else of the server is as on a single one.
 */
export class Cluster {
  private router: MessageRouter | undefined;
  private feed: SiteFeed | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    readonly leases: ChatLeases,
    private readonly prefix: string,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
  ) {}

  static async start(config: ClusterConfig, store: Store, logger: Pick<Logger, 'warn' | 'info'>): Promise<Cluster> {
    const self = { id: `${config.site}-${randomBytes(6).toString('hex')}`, site: config.site };
    const identity = await store.cluster.identity();
    const prefix = `chorus.${identity.id}`;
    const bus = await Bus.connect(config.natsUrl, `chorus ${self.id}`, identity.secret, logger);
    const leases = new ChatLeases(store.cluster, self, config.leaseTtlMs, logger);
    try {
      await leases.start();
    } catch (error) {
      await bus.close();
      throw error;
    }
    return new Cluster(store, bus, leases, prefix, logger);
  }

  get serverId(): string {
    return this.leases.self.id;
  }

  get site(): string {
    return this.leases.self.site;
  }

  /** Where this server's clients' sends go (ingest's sink). */
  get sink(): MessageSink {
    if (!this.router) throw new Error('cluster not connected to its parts');
    return this.router;
  }

  get stats() {
    return {
      forwarded: this.router?.stats.forwarded ?? 0,
      forwardRequests: this.router?.stats.forwardRequests ?? 0,
      served: this.router?.stats.served ?? 0,
      rerouted: this.router?.stats.rerouted ?? 0,
      repaired: this.feed?.stats.repaired ?? 0,
      leasesHeld: this.leases.heldCount,
      liveServers: this.leases.liveServers.length,
      busRejected: this.bus.stats.rejected,
    };
  }

  /** Connects the server's parts: sends, committed batches, membership and events between servers. */
  connect(parts: LocalParts): void {
    const subject = (name: string) => `${this.prefix}.${name}`;
    const feed = new SiteFeed({
      deliver: parts.deliver,
      readAfter: (code, after, limit) => this.store.messages.page(code, { after, limit }),
      progress: (codes) => this.store.cluster.progress(codes),
      watchedChats: () => new Set([...parts.members.cachedChats(), ...parts.keys.heldChats()]),
      membershipMoved: (code) => this.forgetChat(parts, code),
      logger: this.logger,
    });
    this.feed = feed;
    this.router = new MessageRouter({ leases: this.leases, local: parts.local, bus: this.bus, subjectOf: (id) => subject(`send.${id}`), logger: this.logger });
    this.router.listen();

    this.bus.subscribe(subject('committed'), (value) => {
      const { from, batch } = value as { from: string; batch: CommittedMessage[] };
      if (from !== this.serverId && Array.isArray(batch) && batch.length > 0) feed.offer(batch);
    });
    this.bus.subscribe(subject('events'), (value) => {
      const { from, chatCode, events } = value as { from: string; chatCode: string; events: ChatEvent[] };
      if (from === this.serverId || !Array.isArray(events)) return;
      parts.eventsHere(chatCode, events);
      for (const event of events) if (event.kind === 'presence') parts.presenceElsewhere(from, event.userId, event.state);
    });
    this.bus.subscribe(subject('members'), (value) => {
      const { from, change } = value as { from: string; change: MembershipChange };
      if (from === this.serverId) return;
      parts.members.apply(change);
      if (change.change === 'removed') {
        feed.removalSeen(change.chatCode);
        this.rotate(parts, change.chatCode);
        parts.memberRemoved(change.chatCode, change.userId);
      }
    });
    parts.members.onChange((change) => {
      if (change.change === 'removed') feed.removalSeen(change.chatCode);
      this.bus.publish(subject('members'), { from: this.serverId, change });
    });
    this.relayEvents = (chatCode, events) => this.bus.publish(subject('events'), { from: this.serverId, chatCode, events });
    this.publishCommitted = (batch) => {
      feed.offer(batch);
      for (const part of busSizedParts(batch, (m) => m.text)) this.bus.publish(subject('committed'), { from: this.serverId, batch: part });
    };

    // While the bus was down, removals elsewhere were not heard: forget every cached member and
    // key (new epochs, from the database's members), and read what was missed.
    this.bus.onReconnect(() => {
      parts.members.forgetAll();
      for (const code of parts.keys.heldChats()) this.rotate(parts, code);
      void feed.sweep(true);
    });
    this.sweeper = setInterval(() => void feed.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** The throttles' events between servers (cluster/shared-throttles.ts); usable before `connect`. */
  get throttleChannel(): ThrottleChannel {
    const subject = `${this.prefix}.throttles`;
    return {
      publish: (event) => this.bus.publish(subject, { from: this.serverId, event }),
      subscribe: (apply) =>
        this.bus.subscribe(subject, (value) => {
          const { from, event } = value as { from: string; event: ThrottleEvent };
          if (from !== this.serverId && event && typeof event === 'object') apply(event);
        }),
    };
  }

  /** A batch this server's sequencer committed: to this site, and to the others over the bus. */
  publishCommitted: (batch: CommittedMessage[]) => void = () => {
    throw new Error('cluster not connected to its parts');
  };

  /** Events said at this server, for the other sites. */
  relayEvents: (chatCode: string, events: readonly ChatEvent[]) => void = () => {};

  /** Stops taking forwarded sends and bus traffic and gives the leases up; once, however often called. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweeper);
      await this.feed?.settled();
      await this.leases.stop();
      await this.bus.close();
    })();
    return this.closing;
  }

  private forgetChat(parts: LocalParts, chatCode: string): void {
    parts.members.forget(chatCode);
    this.rotate(parts, chatCode);
  }

  private rotate(parts: LocalParts, chatCode: string): void {
    const rotated = parts.keys.rotateIfHeld(chatCode);
    if (!rotated) return;
    rotated.then(
      () => parts.keyRotated(chatCode),
      (error) => this.logger.warn({ err: error }, 'key rotation after a removal elsewhere failed'),
    );
  }
}

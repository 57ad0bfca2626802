import type { Logger } from 'pino';
import { formatChatCode } from '../../protocol/chat-code.js';
import { chorusError } from '../../protocol/errors.js';
import type { ClusterServer, ClusterStore } from '../store/cluster.js';
import type { Fence } from '../store/messages.js';
import { placementOf } from './placement.js';

/** Where a chat's sends go: this server (it holds the lease), or another. */
export type Route = 'self' | { owner: string };

/**
 * This server's side of the chats' leases (the rows are in the database, store/cluster.ts). A
 * server is alive while it renews its row every third of the lease's time; every chat it holds
 * is held as long as that. Holding a lease makes this server the chat's one sequencer: its
 * commits name the epoch they hold (the fence), and fail once another server took over.
 */
export class ChatLeases {
  /** Chat code → the epoch this server took it at. */
  private readonly owned = new Map<string, number>();
  /** One lookup per chat at a time: sends that arrive meanwhile wait for it, and keep their order. */
  private readonly resolving = new Map<string, Promise<Route>>();
  private live: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ClusterStore,
    readonly self: ClusterServer,
    private readonly ttlMs: number,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
  ) {}

  /** Says this server is alive, learns the others, and keeps doing so. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().catch(() => {}), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing and gives every lease up at once (a clean stop: no one waits for an expiry). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.owned.clear();
    await this.store.leave(this.self.id).catch((error) => this.logger.warn({ err: error }, 'could not leave the cluster cleanly'));
  }

  get heldCount(): number {
    return this.owned.size;
  }

  get liveServers(): readonly string[] {
    return this.live;
  }

  /** The fence of a commit of these chats: the epochs held (a chat no longer held can never match). */
  fence(chatCodes: readonly string[]): Fence {
    return { owner: this.self.id, epochs: new Map(chatCodes.map((code) => [code, this.owned.get(code) ?? -1])) };
  }

  /** A commit found these chats taken over. */
  lost(chatCodes: readonly string[]): void {
    for (const code of chatCodes) {
      if (this.owned.delete(code)) {
        this.logger.warn({ chat: formatChatCode(code) }, 'lease taken over by another server: its sends go there now');
      }
    }
  }

  /**
   * Where the chat's sends go. A live holder keeps its chat; with none, the server placement
   * picks (rendezvous over the live servers) takes the lease, or, with `take` (a send forwarded
   * here by a server that picked this one), this server takes it.
   */
  route(chatCode: string, take = false): Promise<Route> {
    if (this.owned.has(chatCode)) return Promise.resolve('self');
    let pending = this.resolving.get(chatCode);
    if (!pending) {
      pending = this.resolve(chatCode, take).finally(() => this.resolving.delete(chatCode));
      this.resolving.set(chatCode, pending);
    }
    return pending;
  }

  private async resolve(chatCode: string, take: boolean): Promise<Route> {
    const holder = await this.store.holder(chatCode);
    if (!holder) throw chorusError('CHAT_NOT_FOUND', formatChatCode(chatCode));
    if (holder.owner && holder.ownerAlive && holder.owner !== this.self.id) return { owner: holder.owner };
    const candidates = this.live.includes(this.self.id) ? this.live : [...this.live, this.self.id];
    const placed = take ? this.self.id : placementOf(chatCode, candidates)!;
    if (placed !== this.self.id) return { owner: placed };
    const epoch = await this.store.acquire(chatCode, this.self.id);
    if (epoch === undefined) {
      // Another server took it between the two queries: its sends go there.
      const now = await this.store.holder(chatCode);
      if (now?.owner && now.owner !== this.self.id) return { owner: now.owner };
      throw chorusError('CHAT_NOT_FOUND', formatChatCode(chatCode));
    }
    this.owned.set(chatCode, epoch);
    this.logger.info({ chat: formatChatCode(chatCode), epoch }, 'lease taken: this server sequences the chat');
    return 'self';
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.store.heartbeat(this.self, this.ttlMs);
      this.live = (await this.store.liveServers()).map((s) => s.id);
    } catch (error) {
      this.logger.warn({ err: error }, 'cluster heartbeat failed: leases may expire');
      throw error;
    }
  }
}

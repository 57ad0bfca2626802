import type { Logger } from 'pino';
import type { PresenceState } from '../protocol/events.js';
import { OFFLINE_AFTER_MS } from '../protocol/limits.js';

/** What a connection says of its client: active, or away (idle, or its window hidden). */
export type ConnectionPresence = 'online' | 'away';

export interface PresenceDeps {
  /** Whether the user may announce a change now: 0, or the milliseconds to wait (the per-user event bucket). */
  take(userId: number): number;
  /** Told of each change once the bucket allows it (an EVENTS datagram to each of the user's chats). */
  announce(user: { id: number; name: string }, state: PresenceState): void;
  logger?: Pick<Logger, 'warn'>;
  /** How long after its last connection closed a user is offline (OFFLINE_AFTER_MS; shorter in tests). */
  offlineAfterMs?: number;
  /** Cluster mode: whether a server is alive; what a dead server said of its users no longer counts. */
  isLive?: (serverId: string) => boolean;
}

/** What another server of a cluster last said of a user connected to it. */
interface HeardElsewhere {
  state: PresenceState;
  /** When the user was last online there (now while online). */
  lastOnlineAt: number | undefined;
}

interface UserPresence {
  id: number;
  name: string;
  connections: Map<object, ConnectionPresence>;
  state: PresenceState;
  /** The state last announced (changes wait for the bucket; flapping in between costs nothing). */
  announced: PresenceState;
  /** When the user was last online: now while online, else when they stopped being. */
  lastOnlineAt: number | undefined;
  offlineTimer?: NodeJS.Timeout;
  announceTimer?: NodeJS.Timeout;
}

/**
 * Who is online, from the connections the ingest holds: a user is online while at least one of
 * their connections says so (a connection starts online at its welcome), away when all say away,
 * and offline once their last connection has been closed for offlineAfterMs (so a reconnect does
 * not flap). Kept in memory only: after a restart everyone is offline until they connect, and
 * lastSeenAt is not known for users not seen since.
 */
export class Presence {
  private readonly users = new Map<number, UserPresence>();
  /** Cluster mode: user → server → what that server announced. */
  private readonly elsewhere = new Map<number, Map<string, HeardElsewhere>>();
  private closed = false;

  constructor(private readonly deps: PresenceDeps) {}

  connected(connection: object, user: { id: number; name: string }): void {
    const u = this.userOf(user);
    clearTimeout(u.offlineTimer);
    u.offlineTimer = undefined;
    u.connections.set(connection, 'online');
    this.update(u);
  }

  changed(connection: object, userId: number, state: ConnectionPresence): void {
    const u = this.users.get(userId);
    if (!u?.connections.has(connection)) return;
    u.connections.set(connection, state);
    this.update(u);
  }

  disconnected(connection: object, userId: number): void {
    const u = this.users.get(userId);
    if (!u?.connections.delete(connection)) return;
    if (u.connections.size > 0) return this.update(u);
    // Still shown as before until the grace is over: a client reconnecting meanwhile does not flap.
    if (u.state === 'online') u.lastOnlineAt = Date.now();
    u.offlineTimer = setTimeout(() => {
      u.offlineTimer = undefined;
      this.setState(u, 'offline');
    }, this.deps.offlineAfterMs ?? OFFLINE_AFTER_MS);
    u.offlineTimer.unref();
  }

  /**
   * The user's presence, and when they were last online (ISO; null if not seen since the server
   * started). In a cluster, the liveliest of this server's view and what the other live servers
   * announced of the user's connections there.
   */
  of(userId: number): { presence: PresenceState; lastSeenAt: string | null } {
    const u = this.users.get(userId);
    const views: HeardElsewhere[] = u ? [{ state: u.state, lastOnlineAt: u.lastOnlineAt }] : [];
    for (const [server, heard] of this.elsewhere.get(userId) ?? []) if (this.deps.isLive?.(server) ?? true) views.push(heard);
    if (views.length === 0) return { presence: 'offline', lastSeenAt: null };
    const presence = views.some((v) => v.state === 'online') ? 'online' : views.some((v) => v.state === 'away') ? 'away' : 'offline';
    const times = views.map((v) => (v.state === 'online' ? Date.now() : v.lastOnlineAt)).filter((t): t is number => t !== undefined);
    return { presence, lastSeenAt: times.length === 0 ? null : new Date(Math.max(...times)).toISOString() };
  }

  /** Cluster mode: another server announced a user's presence there (a relayed presence event). */
  heardElsewhere(serverId: string, userId: number, state: PresenceState): void {
    let servers = this.elsewhere.get(userId);
    if (!servers) {
      servers = new Map();
      this.elsewhere.set(userId, servers);
    }
    const before = servers.get(serverId);
    const lastOnlineAt = state === 'online' ? undefined : before?.state === 'online' ? Date.now() : before?.lastOnlineAt;
    servers.set(serverId, { state, lastOnlineAt });
  }

  close(): void {
    this.closed = true;
    for (const u of this.users.values()) {
      clearTimeout(u.offlineTimer);
      clearTimeout(u.announceTimer);
    }
  }

  private userOf(user: { id: number; name: string }): UserPresence {
    let u = this.users.get(user.id);
    if (!u) {
      u = { id: user.id, name: user.name, connections: new Map(), state: 'offline', announced: 'offline', lastOnlineAt: undefined };
      this.users.set(user.id, u);
    }
    u.name = user.name;
    return u;
  }

  /** The state the connections say, while there is one. */
  private update(u: UserPresence): void {
    if (u.connections.size === 0) return;
    const states = [...u.connections.values()];
    this.setState(u, states.includes('online') ? 'online' : 'away');
  }

  private setState(u: UserPresence, state: PresenceState): void {
    if (u.state === 'online' && state !== 'online') u.lastOnlineAt = Date.now();
    u.state = state;
    this.announce(u);
  }

  /** Announces the current state if it is not the one last announced, as soon as the user's event bucket allows. */
  private announce(u: UserPresence): void {
    if (this.closed || u.announceTimer || u.state === u.announced) return;
    const waitMs = this.deps.take(u.id);
    if (waitMs > 0) {
      u.announceTimer = setTimeout(() => {
        u.announceTimer = undefined;
        this.announce(u);
      }, waitMs);
      u.announceTimer.unref();
      return;
    }
    u.announced = u.state;
    try {
      this.deps.announce({ id: u.id, name: u.name }, u.state);
    } catch (error) {
      this.deps.logger?.warn({ err: error }, 'presence could not be announced');
    }
  }
}

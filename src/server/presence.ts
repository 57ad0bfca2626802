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

  /** The user's presence, and when they were last online (ISO; null if not seen since the server started). */
  of(userId: number): { presence: PresenceState; lastSeenAt: string | null } {
    const u = this.users.get(userId);
    if (!u) return { presence: 'offline', lastSeenAt: null };
    const last = u.state === 'online' ? Date.now() : u.lastOnlineAt;
    return { presence: u.state, lastSeenAt: last === undefined ? null : new Date(last).toISOString() };
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

/** How many TCP connections one user, and one address, may hold open at once. */
export interface ConnectionLimits {
  perUser: number;
  perAddress: number;
}

/**
 * The ingest's open connections, counted per address (from accept) and per user and session
 * (from welcome): so that one user or one address cannot hold connections without bound, and
 * so that every connection of a session can be ended when the session is (logout, expiry).
 *
 * Every local user of a machine shares its address (127.0.0.1 most of all), so a full address
 * must not lock out the others: a connection that has not said hello yet is only a claim on a
 * place, and the newest arrival takes the place of the oldest such claim. Holding the address's
 * places then takes that many sessions, not just sockets opened in a loop.
 */
export class ConnectionRegistry<C> {
  private readonly byAddress = new Map<string, Set<C>>();
  /** Connections that have not said hello, oldest first (a Set keeps insertion order). */
  private readonly withoutHello = new Set<C>();
  private readonly byUser = new Map<number, Set<C>>();
  private readonly bySession = new Map<string, Set<C>>();

  constructor(private readonly limits: ConnectionLimits) {}

  /**
   * Counts a new connection from `address`. At the address's limit, its oldest connection that
   * has not said hello gives up its place: returned as `displaced`, for the caller to close. Not
   * admitted (and not counted) when every connection of the address has said hello.
   */
  admitAddress(address: string, connection: C): { admitted: true; displaced?: C } | { admitted: false } {
    const ofAddress = this.byAddress.get(address) ?? new Set<C>();
    let displaced: C | undefined;
    if (ofAddress.size >= this.limits.perAddress) {
      displaced = this.oldestWithoutHello(ofAddress);
      if (displaced === undefined) return { admitted: false };
      ofAddress.delete(displaced);
      this.withoutHello.delete(displaced);
    }
    ofAddress.add(connection);
    this.byAddress.set(address, ofAddress);
    this.withoutHello.add(connection);
    return displaced === undefined ? { admitted: true } : { admitted: true, displaced };
  }

  /** The connection said hello: it holds its place from now on. */
  saidHello(connection: C): void {
    this.withoutHello.delete(connection);
  }

  /** The connection closed (a displaced one is no longer counted: nothing happens). */
  releaseAddress(address: string, connection: C): void {
    this.withoutHello.delete(connection);
    const ofAddress = this.byAddress.get(address);
    if (!ofAddress) return;
    ofAddress.delete(connection);
    if (ofAddress.size === 0) this.byAddress.delete(address);
  }

  private oldestWithoutHello(ofAddress: Set<C>): C | undefined {
    for (const connection of this.withoutHello) if (ofAddress.has(connection)) return connection;
    return undefined;
  }

  /** Counts an authenticated connection; false (and not counted) when the user is at its limit. */
  admitUser(connection: C, userId: number, session: string): boolean {
    const mine = this.byUser.get(userId) ?? new Set<C>();
    if (mine.size >= this.limits.perUser) return false;
    mine.add(connection);
    this.byUser.set(userId, mine);
    const ofSession = this.bySession.get(session) ?? new Set<C>();
    ofSession.add(connection);
    this.bySession.set(session, ofSession);
    return true;
  }

  releaseUser(connection: C, userId: number, session: string): void {
    removeFrom(this.byUser, userId, connection);
    removeFrom(this.bySession, session, connection);
  }

  /** The connections authenticated with this session (by its token hash). */
  ofSession(session: string): C[] {
    return [...(this.bySession.get(session) ?? [])];
  }
}

function removeFrom<K, C>(map: Map<K, Set<C>>, key: K, connection: C): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(connection);
  if (set.size === 0) map.delete(key);
}

/** How many TCP connections one user, and one address, may hold open at once. */
export interface ConnectionLimits {
  perUser: number;
  perAddress: number;
}

/**
 * The ingest's open connections, counted per address (from accept) and per user and session
 * (from welcome): so that one user or one address cannot hold connections without bound, and
 * so that every connection of a session can be ended when the session is (logout, expiry).
 */
export class ConnectionRegistry<C> {
  private readonly byAddress = new Map<string, number>();
  private readonly byUser = new Map<number, Set<C>>();
  private readonly bySession = new Map<string, Set<C>>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Counts a new connection from `address`; false (and not counted) when the address is at its limit. */
  admitAddress(address: string): boolean {
    const count = this.byAddress.get(address) ?? 0;
    if (count >= this.limits.perAddress) return false;
    this.byAddress.set(address, count + 1);
    return true;
  }

  releaseAddress(address: string): void {
    const count = (this.byAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.byAddress.delete(address);
    else this.byAddress.set(address, count);
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

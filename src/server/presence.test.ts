import { describe, expect, it } from 'vitest';
import type { PresenceState } from '../protocol/events.js';
import { Presence } from './presence.js';

const ANA = { id: 1, name: 'Ana' };
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls until `check` holds (10 s at most): timers fire on their own, however busy the machine. */
async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check() && waited < 10_000; waited += 10) await wait(10);
}

function presence(take: () => number = () => 0, offlineAfterMs = 50) {
  const announced: PresenceState[] = [];
  const p = new Presence({ take, announce: (_user, state) => announced.push(state), offlineAfterMs });
  return { p, announced };
}

describe('Presence', () => {
  it('is online while one connection says so, away when all do, offline after the grace once all are closed', async () => {
    const { p, announced } = presence();
    const [one, two] = [{}, {}];
    expect(p.of(ANA.id)).toEqual({ presence: 'offline', lastSeenAt: null });
    p.connected(one, ANA);
    p.connected(two, ANA);
    p.changed(one, ANA.id, 'away');
    expect(p.of(ANA.id).presence).toBe('online');
    p.changed(two, ANA.id, 'away');
    expect(p.of(ANA.id).presence).toBe('away');
    p.disconnected(one, ANA.id);
    p.disconnected(two, ANA.id);
    expect(p.of(ANA.id).presence).toBe('away');
    await until(() => p.of(ANA.id).presence === 'offline');
    expect(p.of(ANA.id).lastSeenAt).not.toBeNull();
    expect(announced).toEqual(['online', 'away', 'offline']);
    p.close();
  });

  it('does not flap when a connection comes back within the grace', async () => {
    const { p, announced } = presence();
    const [one, two] = [{}, {}];
    p.connected(one, ANA);
    p.disconnected(one, ANA.id);
    p.connected(two, ANA);
    await wait(150);
    expect(announced).toEqual(['online']);
    p.close();
  });

  it('announces only the latest state once the bucket allows, and nothing when it settled back', async () => {
    let tokens = 1;
    const { p, announced } = presence(() => (tokens-- > 0 ? 0 : 40));
    const c = {};
    p.connected(c, ANA);
    p.changed(c, ANA.id, 'away');
    p.changed(c, ANA.id, 'online');
    p.changed(c, ANA.id, 'away');
    expect(announced).toEqual(['online']);
    tokens = 1;
    await until(() => announced.length === 2);
    expect(announced).toEqual(['online', 'away']);
    p.close();
  });

  it('in a cluster: is the liveliest of its own view and what live servers announced, forgetting a dead server', () => {
    const live = new Set(['b']);
    const p = new Presence({ take: () => 0, announce: () => {}, offlineAfterMs: 50, isLive: (server) => live.has(server) });
    p.heardElsewhere('b', ANA.id, 'away');
    expect(p.of(ANA.id)).toEqual({ presence: 'away', lastSeenAt: null });
    p.heardElsewhere('c', ANA.id, 'online'); // c is not alive: not believed
    expect(p.of(ANA.id).presence).toBe('away');
    p.heardElsewhere('b', ANA.id, 'online');
    expect(p.of(ANA.id).presence).toBe('online');
    p.heardElsewhere('b', ANA.id, 'offline');
    expect(p.of(ANA.id).presence).toBe('offline');
    expect(p.of(ANA.id).lastSeenAt).not.toBeNull();
    p.heardElsewhere('b', ANA.id, 'online');
    live.delete('b'); // b died without saying so
    expect(p.of(ANA.id).presence).toBe('offline');
  });
});

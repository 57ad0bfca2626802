import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.fake.js';
import { DEFAULT_PROBE_TIMINGS, DeliveryPathMachine, type DeliveryState } from './delivery-path.js';
import { FakeLink } from './server-link.fake.js';

const CHAT = 'ABCDE-12345';
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function machine(options: { rejoin?: () => Promise<string | undefined>; joinProblem?: string } = {}) {
  const clock = new FakeClock();
  const link = new FakeLink();
  const states: DeliveryState[] = [];
  const heads: number[] = [];
  let nonce = 0;
  const m = new DeliveryPathMachine({
    chat: CHAT,
    link,
    clock,
    timings: DEFAULT_PROBE_TIMINGS,
    newNonce: () => `nonce-${++nonce}`,
    lastDelivered: () => 41,
    serverHead: (seq) => heads.push(seq),
    changed: (state) => states.push(state),
    rejoin: options.rejoin ?? (async () => undefined),
  });
  m.start(options.joinProblem);
  /** The server answers the latest probe (it went out) and, if `arrives`, its datagram reaches us. */
  const answer = async (arrives: boolean, latestSeq = 7) => {
    const probe = link.lastProbe!;
    probe.answer(latestSeq);
    await settle();
    if (arrives) m.probeArrived(probe.nonce);
  };
  return { clock, link, states, heads, m, answer };
}

describe('DeliveryPathMachine', () => {
  it('stays on multicast when the first probe comes back, and tells the server head', async () => {
    const { link, states, heads, answer } = machine();
    expect(link.probes).toHaveLength(1);
    await answer(true, 12);
    expect(states.map((s) => s.path)).toEqual(['multicast']);
    expect(heads).toEqual([12]);
    expect(link.calls).toEqual([]);
  });

  it('a second probe at the start covers one lost datagram', async () => {
    const { clock, link, states, m } = machine();
    link.lastProbe!.answer(3);
    clock.advance(DEFAULT_PROBE_TIMINGS.retryMs);
    expect(link.probes).toHaveLength(2);
    m.probeArrived(link.probes[1]!.nonce);
    expect(states.map((s) => s.path)).toEqual(['multicast']);
  });

  it('falls back to push within the probe timeout, from the last delivered seq, saying why', async () => {
    const { clock, link, states, answer } = machine();
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({ chat: CHAT, path: 'server', multicast: false });
    expect(states[0]!.reason).toMatch(/no probe came back by multicast within 2 s/);
    expect(link.calls).toEqual([`watch ${CHAT} after 41`]);
  });

  it('gives no verdict while the server does not say the probe went out (not connected, refused)', async () => {
    const { clock, link, states } = machine();
    link.lastProbe!.refuse(new Error('not connected'));
    await settle();
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(states).toEqual([]);
    expect(link.calls).toEqual([]);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(link.probes.length).toBeGreaterThan(2);
  });

  it('on multicast, one failed probe is not a verdict; two in a row move the chat to push', async () => {
    const { clock, link, states, answer } = machine();
    await answer(true);
    clock.advance(DEFAULT_PROBE_TIMINGS.intervalMs);
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(states.map((s) => s.path)).toEqual(['multicast']);
    // The retry comes sooner than the interval, and a success resets the count.
    clock.advance(DEFAULT_PROBE_TIMINGS.retryMs);
    await answer(true);
    clock.advance(DEFAULT_PROBE_TIMINGS.intervalMs);
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs + DEFAULT_PROBE_TIMINGS.retryMs);
    expect(states.map((s) => s.path)).toEqual(['multicast']);
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(states.map((s) => s.path)).toEqual(['multicast', 'server']);
    expect(states[1]!.reason).toMatch(/stopped arriving \(2 probes/);
    expect(link.calls).toEqual([`watch ${CHAT} after 41`]);
  });

  it('on multicast, a chat whose datagrams keep coming is not probed; a silent one is', async () => {
    const { clock, link, m, answer } = machine();
    await answer(true);
    const probes = link.probes.length;
    m.multicastArrived();
    clock.advance(DEFAULT_PROBE_TIMINGS.intervalMs);
    expect(link.probes.length).toBe(probes);
    // Nothing since: the next interval probes.
    clock.advance(DEFAULT_PROBE_TIMINGS.intervalMs);
    expect(link.probes.length).toBe(probes + 1);
  });

  it('expects only the nonces of its current round', async () => {
    const { link, m, answer } = machine();
    const first = link.lastProbe!.nonce;
    expect(m.expects(first)).toBe(true);
    expect(m.expects('someone-elses')).toBe(false);
    await answer(true);
    expect(m.expects(first)).toBe(false);
  });

  it('on push, probes gently, and goes back to multicast only after it has worked several times in a row', async () => {
    const t = DEFAULT_PROBE_TIMINGS;
    const { clock, link, states, answer } = machine();
    await answer(false);
    clock.advance(t.timeoutMs);
    const probesOnPush = link.probes.length;
    clock.advance(t.backIntervalMs - 1);
    expect(link.probes.length).toBe(probesOnPush);
    clock.advance(1);
    expect(link.probes.length).toBe(probesOnPush + 1);
    // Works once, then fails: still on push, no flapping, and the gentle pace again.
    await answer(true);
    clock.advance(t.confirmIntervalMs);
    await answer(false);
    clock.advance(t.timeoutMs);
    expect(states.map((s) => s.path)).toEqual(['server']);
    clock.advance(t.backIntervalMs);
    for (let i = 0; i < t.successesToMulticast; i++) {
      await answer(true);
      if (i < t.successesToMulticast - 1) {
        expect(states.map((s) => s.path)).toEqual(['server']);
        clock.advance(t.confirmIntervalMs);
      }
    }
    expect(states.map((s) => s.path)).toEqual(['server', 'multicast']);
    expect(link.calls).toEqual([`watch ${CHAT} after 41`, `unwatch ${CHAT}`]);
  });

  it('a group that cannot be joined means push at once, and joining is tried again before probing', async () => {
    const attempts: number[] = [];
    const results = ['EADDRNOTAVAIL', undefined];
    const { clock, link, states } = machine({
      joinProblem: 'EADDRNOTAVAIL',
      rejoin: async () => {
        attempts.push(attempts.length);
        return results.shift();
      },
    });
    expect(states.at(-1)).toMatchObject({ path: 'server' });
    expect(states.at(-1)!.reason).toMatch(/cannot join .*EADDRNOTAVAIL/);
    clock.advance(DEFAULT_PROBE_TIMINGS.backIntervalMs);
    await settle();
    expect(attempts).toHaveLength(1);
    expect(link.probes).toHaveLength(0);
    clock.advance(DEFAULT_PROBE_TIMINGS.backIntervalMs);
    await settle();
    expect(attempts).toHaveLength(2);
    expect(link.probes).toHaveLength(1);
  });

  it('stopping on push gives the watch back and ends the timers', async () => {
    const { clock, link, m, answer } = machine();
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    m.stop();
    expect(link.calls).toEqual([`watch ${CHAT} after 41`, `unwatch ${CHAT}`]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('DeliveryPathMachine after a move to another server', () => {
  it('a chat on multicast is probed again at once, and goes to push when the new server\'s multicast does not reach us', async () => {
    const { clock, link, states, m, answer } = machine();
    await answer(true);
    const before = link.probes.length;
    m.serverChanged();
    expect(link.probes.length).toBe(before + 1);
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    expect(states.map((s) => s.path)).toEqual(['multicast', 'server']);
    expect(link.calls).toEqual([`watch ${CHAT} after 41`]);
  });

  it('a chat on multicast stays so, saying nothing, when the new server\'s multicast reaches us too', async () => {
    const { link, states, m, answer } = machine();
    await answer(true);
    m.serverChanged();
    await answer(true);
    expect(states.map((s) => s.path)).toEqual(['multicast']);
    expect(link.calls).toEqual([]);
  });

  it('a chat on push stays on push (the new server is asked by the Sender at its welcome), and probes later', async () => {
    const { clock, link, states, m, answer } = machine();
    await answer(false);
    clock.advance(DEFAULT_PROBE_TIMINGS.timeoutMs);
    const probes = link.probes.length;
    m.serverChanged();
    expect(link.probes.length).toBe(probes);
    expect(link.calls).toEqual([`watch ${CHAT} after 41`]);
    clock.advance(DEFAULT_PROBE_TIMINGS.backIntervalMs);
    expect(link.probes.length).toBe(probes + 1);
    expect(states.map((s) => s.path)).toEqual(['server']);
  });
});

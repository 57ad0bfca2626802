import { describe, expect, it } from 'vitest';
import type { Submission } from '../sequencer.js';
import { type Committed, LeaseLostError } from '../store/messages.js';
import type { Bus } from './bus.js';
import { BusUnreachable } from './bus.js';
import type { ChatLeases, Route } from './leases.js';
import { MessageRouter } from './router.js';

const message = (i: number): Submission => ({ chatCode: 'C', senderId: 1, senderName: 'Ann', clientMsgId: `m${i}`, text: `text ${i}`, sentAt: i });

/** A router whose owner is `route()`, whose bus answers with `remote`, and whose own sequencer records what it commits. */
function setUp() {
  const state: { route: Route; remote: (messages: Submission[]) => Promise<unknown>; localFails: number } = {
    route: { owner: 'X' },
    remote: async () => {
      throw new BusUnreachable('send.X', 'nobody answers');
    },
    localFails: 0,
  };
  const committed: string[] = [];
  let seq = 0;
  const local = {
    submit: async (m: Submission): Promise<Committed> => {
      if (state.localFails > 0) {
        state.localFails--;
        throw new LeaseLostError(['C']);
      }
      committed.push(m.clientMsgId);
      return { seq: ++seq, sentAt: m.sentAt, duplicate: false };
    },
  };
  const leases = { self: { id: 'me', site: 's' }, route: async () => state.route } as unknown as ChatLeases;
  const bus = { request: async (_subject: string, value: { messages: Submission[] }) => state.remote(value.messages), subscribe: () => {} } as unknown as Bus;
  const router = new MessageRouter({ leases, local, bus, subjectOf: (id) => `send.${id}`, logger: { warn: () => {} } }, { holdMs: 5_000 });
  return { state, router, committed };
}

describe('MessageRouter', () => {
  it("keeps a sender's order across a failover: sends that must try again go ahead of those that came meanwhile", async () => {
    const { state, router, committed } = setUp();
    const first = Array.from({ length: 5 }, (_, i) => router.submit(message(i)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The owner is gone; more sends arrive while the first ones wait to try again.
    const later = Array.from({ length: 5 }, (_, i) => router.submit(message(5 + i)));
    state.route = 'self';
    state.localFails = 10; // the first commit here is fenced off (all ten in it), the next one holds
    const acks = await Promise.all([...first, ...later]);
    expect(committed).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(router.stats.rerouted).toBeGreaterThanOrEqual(5);
  });

  it("forwards the sends that came together in one request, and gives each the owner's answer", async () => {
    const { state, router } = setUp();
    const requests: string[][] = [];
    state.remote = async (messages) => {
      requests.push(messages.map((m) => m.clientMsgId));
      return { answers: messages.map((m, i) => (i === 1 ? { refused: { code: 'CLIENT_ID_REUSED', message: 'reused' } } : { committed: { seq: i + 1, sentAt: m.sentAt, duplicate: false } })) };
    };
    const results = await Promise.allSettled([0, 1, 2].map((i) => router.submit(message(i))));
    expect(requests).toEqual([['m0', 'm1', 'm2']]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.seq : r.reason.code))).toEqual([1, 'CLIENT_ID_REUSED', 3]);
  });

  it('refuses UNAVAILABLE, all together, sends that found no owner for the whole hold time', async () => {
    const { router } = setUp();
    const quick = new MessageRouter(
      {
        leases: { self: { id: 'me', site: 's' }, route: async () => ({ owner: 'X' }) } as unknown as ChatLeases,
        local: { submit: async () => ({ seq: 1, sentAt: 1, duplicate: false }) },
        bus: { request: async () => Promise.reject(new BusUnreachable('send.X', 'nobody answers')), subscribe: () => {} } as unknown as Bus,
        subjectOf: (id) => `send.${id}`,
        logger: { warn: () => {} },
      },
      { holdMs: 150 },
    );
    void router;
    const results = await Promise.allSettled([0, 1].map((i) => quick.submit(message(i))));
    expect(results.map((r) => (r.status === 'rejected' ? r.reason.code : 'ok'))).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
  });
});

import { describe, expect, it } from 'vitest';
import { ChorusError } from '../protocol/errors.js';
import { HashQueue } from './hash-queue.js';

/** Work that finishes when the test says so, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { work: async () => { started.push(name); await done; return name; }, finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('HashQueue', () => {
  it('runs at most maxConcurrent at once, and refuses work past the queue at once with TOO_MANY_REQUESTS and a retry-after', async () => {
    const queue = new HashQueue({ maxConcurrent: 2, maxWaitingLogins: 1, maxWaitingRegistrations: 1 });
    const started: string[] = [];
    const gates = ['r1', 'r2', 'r3', 'l1'].map((n) => gate(started, n));
    const [r1, r2, r3, l1] = gates as [ReturnType<typeof gate>, ReturnType<typeof gate>, ReturnType<typeof gate>, ReturnType<typeof gate>];
    const results = [queue.run('registration', r1.work), queue.run('registration', r2.work), queue.run('registration', r3.work), queue.run('login', l1.work)];
    await tick();
    expect(started).toEqual(['r1', 'r2']);

    const refused = await queue.run('registration', async () => 'r4').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ChorusError);
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 1 });
    await expect(queue.run('login', async () => 'l2')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });

    // A finished hash hands its slot to the waiting login first, then to the registration.
    r1.finish();
    await tick();
    expect(started).toEqual(['r1', 'r2', 'l1']);
    r2.finish();
    await tick();
    expect(started).toEqual(['r1', 'r2', 'l1', 'r3']);
    l1.finish();
    r3.finish();
    expect(await Promise.all(results)).toEqual(['r1', 'r2', 'r3', 'l1']);

    // Drained: work runs at once again, and a failure frees its slot too.
    await expect(queue.run('registration', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await Promise.all([queue.run('registration', async () => 1), queue.run('registration', async () => 2)])).toEqual([1, 2]);
  });
});

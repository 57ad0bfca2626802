import { describe, expect, it } from 'vitest';
import { ChorusError, chorusError } from '../protocol/errors.js';
import { type Caller, CodeGuessThrottle } from './code-guess-throttle.js';

const WINDOW_MS = 60_000;

function throttleAt(start: number) {
  const clock = { t: start };
  const throttle = new CodeGuessThrottle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 5, windowSeconds: WINDOW_MS / 1000 }, () => clock.t);
  return { throttle, clock };
}

const as = (id: number, address: string): Caller => ({ user: { id }, address });
const notFound = () => Promise.reject(chorusError('CHAT_NOT_FOUND', 'ZZZZZ-ZZZZZ'));
const notAMember = () => Promise.reject(new ChorusError('NOT_A_MEMBER', 'You are not a member'));
const found = () => Promise.resolve('the chat');

/** The code of what `guard` threw, or 'ok'. */
async function outcome(throttle: CodeGuessThrottle, caller: Caller, request: () => Promise<unknown>): Promise<string> {
  try {
    await throttle.guard(caller, request);
    return 'ok';
  } catch (error) {
    return (error as ChorusError).code;
  }
}

describe('CodeGuessThrottle', () => {
  it('counts unknown codes per user: past the limit, unknown codes and chats one is not in answer alike', async () => {
    const { throttle } = throttleAt(0);
    const mallory = as(7, '10.0.0.1');
    for (let i = 0; i < 3; i++) expect(await outcome(throttle, mallory, notFound)).toBe('CHAT_NOT_FOUND');
    expect(await outcome(throttle, mallory, notFound)).toBe('TOO_MANY_REQUESTS');
    expect(await outcome(throttle, mallory, notAMember)).toBe('TOO_MANY_REQUESTS');
    expect(() => throttle.refuseWhileThrottled(mallory)).toThrow(expect.objectContaining({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 60 }));
    // The same user from another address is refused too.
    expect(await outcome(throttle, as(7, '10.0.0.2'), notFound)).toBe('TOO_MANY_REQUESTS');
    // Their own chats still answer.
    expect(await outcome(throttle, mallory, found)).toBe('ok');
  });

  it('counts unknown codes per address, across users', async () => {
    const { throttle } = throttleAt(0);
    for (let user = 1; user <= 5; user++) expect(await outcome(throttle, as(user, '10.0.0.1'), notFound)).toBe('CHAT_NOT_FOUND');
    expect(await outcome(throttle, as(6, '10.0.0.1'), notFound)).toBe('TOO_MANY_REQUESTS');
    expect(throttle.retryAfterSeconds(as(6, '10.0.0.1'))).toBe(60);
    // Another user elsewhere is not affected.
    expect(throttle.retryAfterSeconds(as(6, '10.0.0.2'))).toBe(0);
    expect(await outcome(throttle, as(6, '10.0.0.2'), notFound)).toBe('CHAT_NOT_FOUND');
  });

  it('does not count chats that exist, refused attempts, or other errors', async () => {
    const { throttle, clock } = throttleAt(0);
    const caller = as(1, '10.0.0.1');
    for (let i = 0; i < 10; i++) {
      expect(await outcome(throttle, caller, notAMember)).toBe('NOT_A_MEMBER');
      expect(await outcome(throttle, caller, found)).toBe('ok');
      expect(await outcome(throttle, caller, () => Promise.reject(new ChorusError('BANNED')))).toBe('BANNED');
    }
    expect(throttle.retryAfterSeconds(caller)).toBe(0);
    for (let i = 0; i < 3; i++) await outcome(throttle, caller, notFound);
    const wait = throttle.retryAfterSeconds(caller);
    // Retrying while refused does not move the end of the wait.
    for (let i = 0; i < 20; i++) {
      clock.t += 1000;
      expect(await outcome(throttle, caller, notFound)).toBe('TOO_MANY_REQUESTS');
    }
    expect(throttle.retryAfterSeconds(caller)).toBe(wait - 20);
  });

  it('refuses only until one window after the failures', async () => {
    const { throttle, clock } = throttleAt(1_000_000);
    const caller = as(1, '10.0.0.1');
    for (let i = 0; i < 3; i++) {
      await outcome(throttle, caller, notFound);
      clock.t += 1000;
    }
    const wait = throttle.retryAfterSeconds(caller);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    clock.t += wait * 1000;
    expect(throttle.retryAfterSeconds(caller)).toBe(0);
    expect(await outcome(throttle, caller, notFound)).toBe('CHAT_NOT_FOUND');
  });
});

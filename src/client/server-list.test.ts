import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.fake.js';
import { HOME_RETRY_MS, type ServerEndpoint, ServerList } from './server-list.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const A: ServerEndpoint = { url: 'https://10.0.1.5:6789', tlsFingerprint: 'AA', serverKey: 'key-a' };
const B: ServerEndpoint = { url: 'https://10.0.2.5:6789', tlsFingerprint: 'BB', serverKey: 'key-b' };
const C: ServerEndpoint = { url: 'http://10.0.3.5:6789' };

function setup(endpoints = [A, B], answers: (home: ServerEndpoint) => Promise<boolean> = async () => false) {
  const clock = new FakeClock();
  const asked: string[] = [];
  const list = new ServerList(endpoints, {
    clock,
    homeAnswers: (home) => {
      asked.push(home.url);
      return answers(home);
    },
  });
  const moves: [string, string][] = [];
  list.onChange((current, previous) => moves.push([previous.url, current.url]));
  return { clock, list, moves, asked };
}

describe('ServerList', () => {
  it('starts at home', () => {
    const { list } = setup();
    expect(list.current).toBe(A);
    expect(list.atHome).toBe(true);
    expect(list.exhausted).toBe(false);
  });

  it('moves to the next server when the current one fails, and wraps round to home', () => {
    const { list, moves } = setup([A, B, C]);
    list.failed(A);
    expect(list.current).toBe(B);
    list.failed(B);
    expect(list.current).toBe(C);
    list.failed(C);
    expect(list.current).toBe(A);
    expect(moves).toEqual([
      [A.url, B.url],
      [B.url, C.url],
      [C.url, A.url],
    ]);
  });

  it('ignores a failure of a server already left (a late report from another part of the client)', () => {
    const { list, moves } = setup();
    list.failed(A);
    list.failed(A);
    expect(list.current).toBe(B);
    expect(moves).toHaveLength(1);
  });

  it('is exhausted once every server failed in a row, and not after one answered', () => {
    const { list } = setup();
    list.failed(A);
    expect(list.exhausted).toBe(false);
    list.failed(B);
    expect(list.exhausted).toBe(true);
    list.reached(A);
    expect(list.exhausted).toBe(false);
  });

  it('with one server, a failure moves nowhere and says nothing, and it is exhausted', () => {
    const { list, moves } = setup([A]);
    list.failed(A);
    expect(list.current).toBe(A);
    expect(moves).toEqual([]);
    expect(list.exhausted).toBe(true);
  });

  it('while away, asks home every 30 s, and goes home once it answers', async () => {
    let homeUp = false;
    const { list, clock, asked, moves } = setup([A, B], async () => homeUp);
    list.failed(A);
    clock.advance(HOME_RETRY_MS - 1);
    expect(asked).toEqual([]);
    clock.advance(1);
    await settle();
    expect(asked).toEqual([A.url]);
    expect(list.current).toBe(B);
    homeUp = true;
    clock.advance(HOME_RETRY_MS);
    await settle();
    expect(asked).toEqual([A.url, A.url]);
    expect(list.current).toBe(A);
    expect(moves).toEqual([
      [A.url, B.url],
      [B.url, A.url],
    ]);
    // At home, nobody is asked any more.
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts a question that fails as no answer, and does not ask again while one is open', async () => {
    let release: (answer: boolean) => void = () => {};
    const { list, clock, asked } = setup([A, B], () => new Promise((resolve) => (release = resolve)));
    list.failed(A);
    clock.advance(HOME_RETRY_MS * 3);
    await settle();
    expect(asked).toHaveLength(1);
    release(false);
    await settle();
    expect(list.current).toBe(B);

    const failing = setup([A, B], async () => {
      throw new Error('refused');
    });
    failing.list.failed(A);
    failing.clock.advance(HOME_RETRY_MS);
    await settle();
    expect(failing.list.current).toBe(B);
  });

  it('stops asking home once home is back by wrapping round, and once closed', async () => {
    const { list, clock, asked } = setup();
    list.failed(A);
    list.failed(B);
    expect(list.current).toBe(A);
    expect(clock.pendingTimers).toBe(0);
    list.failed(A);
    list.close();
    clock.advance(HOME_RETRY_MS * 2);
    await settle();
    expect(asked).toEqual([]);
  });
});

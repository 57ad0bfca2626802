import { describe, expect, it } from 'vitest';
import { chorusError } from '../protocol/errors.js';
import { FakeClock } from './clock.fake.js';
import { Sender } from './sender.js';
import { FakeSenderTransport, ack, sentIds, track, welcomeOn } from './sender-transport.fake.js';
import { HOME_RETRY_MS, type ServerEndpoint, ServerList } from './server-list.js';

/** The Sender on several servers (server-list.ts): fake transports, one per server, and a fake clock. */

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const A: ServerEndpoint = { url: 'https://a.example:6789' };
const B: ServerEndpoint = { url: 'https://b.example:6789' };

function setup(options: { homeAnswers?: () => Promise<boolean> } = {}) {
  const clock = new FakeClock();
  const list = new ServerList([A, B], { clock, homeAnswers: options.homeAnswers });
  const transports = new Map([
    [A, new FakeSenderTransport('TLS handshake')],
    [B, new FakeSenderTransport('TLS handshake')],
  ]);
  const sender = new Sender({ token: 'tok', clock, servers: { list, transportTo: (endpoint) => transports.get(endpoint)! } });
  return { clock, list, sender, a: transports.get(A)!, b: transports.get(B)! };
}


describe('Sender on several servers', () => {
  it('connects to home first', async () => {
    const { sender, a, b } = setup();
    const connected = sender.connect();
    welcomeOn(a.last);
    await connected;
    expect(a.connections).toHaveLength(1);
    expect(b.connections).toHaveLength(0);
  });

  it('home lost and refusing: the next server at once, where the unacknowledged are sent again with their ids, then the rest', async () => {
    const { sender, list, clock, a, b } = setup();
    void sender.connect();
    welcomeOn(a.last);
    const outcomes = ['m1', 'm2', 'm3'].map((id) => track(sender.send('AAAAA-11111', id, id)));
    a.last.reply(ack('m1', 1));
    a.last.drop();
    await settle();
    const later = track(sender.send('AAAAA-11111', 'm4', 'm4'));
    // Home is tried again first (after the backoff): a lost connection is not a server gone.
    clock.advance(100);
    expect(a.connections).toHaveLength(2);
    a.last.drop(); // refused
    await settle();
    expect(list.current).toBe(B);
    expect(b.connections).toHaveLength(1);
    welcomeOn(b.last);
    expect(sentIds(b.last)).toEqual(['m2', 'm3', 'm4']);
    b.last.reply(ack('m2', 2), ack('m3', 3), ack('m4', 4));
    await settle();
    expect([...outcomes, later].map((o) => o.ack?.seq)).toEqual([1, 2, 3, 4]);
    expect(sender.pending).toBe(0);
  });

  it('connect() with nothing to send tries every server once before it fails', async () => {
    const { sender, a, b } = setup();
    const connected = sender.connect();
    a.last.drop();
    await settle();
    expect(b.connections).toHaveLength(1);
    b.last.drop();
    await expect(connected).rejects.toMatchObject({ code: 'UNREACHABLE' });
    expect(a.connections).toHaveLength(1);
  });

  it('a home that accepts and never answers is left at the connect deadline', async () => {
    const { sender, clock, a, b } = setup();
    const connected = sender.connect();
    clock.advance(10_000);
    await settle();
    expect(b.connections).toHaveLength(1);
    welcomeOn(b.last);
    await connected;
    expect(a.last.destroyed).toBe(true);
  });

  it('a certificate that is not the pinned one is an error, never a reason to move on', async () => {
    const { sender, list, clock, a, b } = setup();
    const connected = sender.connect();
    a.last.untrusted(chorusError('CERTIFICATE_CHANGED', A.url, 'AA', 'BB'));
    await expect(connected).rejects.toMatchObject({ code: 'CERTIFICATE_CHANGED' });
    clock.advance(60_000);
    await settle();
    expect(list.current).toBe(A);
    expect(b.connections).toHaveLength(0);
    await expect(sender.send('AAAAA-11111', 'x')).rejects.toMatchObject({ code: 'CERTIFICATE_CHANGED' });
  });

  it('a refusal at hello (UNAVAILABLE) is an answer: the same server is tried again', async () => {
    const { sender, list, clock, a, b } = setup();
    void sender.send('AAAAA-11111', 'x', 'x');
    a.last.accept();
    a.last.reply({ t: 'error', code: 'UNAVAILABLE', message: 'the database is away', retryAfterMs: 1000 });
    a.last.drop();
    await settle();
    clock.advance(1000);
    expect(a.connections).toHaveLength(2);
    expect(b.connections).toHaveLength(0);
    expect(list.current).toBe(A);
  });

  it('goes home once home answers again: the connection moves, and what was unacknowledged is sent there', async () => {
    let homeUp = false;
    const { sender, list, clock, a, b } = setup({ homeAnswers: async () => homeUp });
    const states: string[] = [];
    void sender.send('AAAAA-11111', 'm1', 'm1');
    a.last.drop();
    await settle();
    welcomeOn(b.last);
    expect(sentIds(b.last)).toEqual(['m1']);
    sender.onStateChange((state) => states.push(state));
    clock.advance(HOME_RETRY_MS);
    await settle();
    expect(list.current).toBe(B);
    homeUp = true;
    clock.advance(HOME_RETRY_MS);
    await settle();
    expect(list.current).toBe(A);
    expect(b.last.destroyed).toBe(true);
    expect(a.connections).toHaveLength(2);
    welcomeOn(a.last);
    expect(sentIds(a.last)).toEqual(['m1']);
    expect(states).toEqual(['disconnected', 'connecting', 'connected']);
  });

  it('both servers down while messages wait: keeps trying, with the backoff between rounds, and sends once one answers', async () => {
    const { sender, clock, a, b } = setup();
    const outcome = track(sender.send('AAAAA-11111', 'm1', 'm1'));
    a.last.drop();
    await settle();
    b.last.drop();
    await settle();
    // Back round to home, after the backoff: no tight loop between two dead servers.
    expect(a.connections).toHaveLength(1);
    clock.advance(200);
    expect(a.connections).toHaveLength(2);
    a.last.drop();
    await settle();
    clock.advance(400);
    expect(b.connections).toHaveLength(2);
    welcomeOn(b.last);
    b.last.reply(ack('m1', 1));
    await settle();
    expect(outcome.ack?.seq).toBe(1);
  });
});

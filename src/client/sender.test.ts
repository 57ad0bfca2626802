import { describe, expect, it } from 'vitest';
import { KEEPALIVE_INTERVAL_MS, PROTOCOL_VERSION } from '../protocol/limits.js';
import { FakeClock } from './clock.fake.js';
import { validateFrame } from '../protocol/frames.js';
import { Sender, type SenderOptions, type SenderState, newClientMessageId } from './sender.js';
import { FakeSenderTransport, ack, sentIds, track, welcome, welcomeOn } from './sender-transport.fake.js';

/** The Sender's policy with a fake transport and a fake clock: no socket, no real waiting. */

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Partial<SenderOptions> = {}) {
  const clock = new FakeClock();
  const transport = new FakeSenderTransport(options.tls ? 'TLS handshake' : 'connection');
  const sender = new Sender({ host: '127.0.0.1', port: 7000, token: 'tok', transport, clock, ...options } as SenderOptions);
  const states: [SenderState, string | undefined][] = [];
  sender.onStateChange((state, detail) => states.push([state, detail]));
  return { clock, transport, sender, states };
}


describe('newClientMessageId', () => {
  it('never repeats, and every id is one a send frame may carry', () => {
    const ids = Array.from({ length: 100_000 }, () => newClientMessageId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [ids[0]!, ids.at(-1)!]) expect(validateFrame({ t: 'send', id, chat: 'ABCDEFGHJK', text: 'x' })).toMatchObject({ id });
  });
});

describe('Sender: hello and welcome', () => {
  it('says hello with the token once connected, and connect() resolves at the welcome', async () => {
    const { sender, transport, states } = setup();
    const connected = sender.connect();
    expect(transport.last.frames).toEqual([]);
    transport.last.accept();
    expect(transport.last.frames).toEqual([{ t: 'hello', v: PROTOCOL_VERSION, token: 'tok' }]);
    transport.last.reply(welcome);
    await connected;
    expect(sender.connectionState).toBe('connected');
    expect(states).toEqual([
      ['connecting', undefined],
      ['connected', undefined],
    ]);
  });

  it('answers a ping, and pings every keep-alive interval', async () => {
    const { sender, transport, clock } = setup();
    const connected = sender.connect();
    welcomeOn(transport.last);
    await connected;
    transport.last.reply({ t: 'ping' });
    expect(transport.last.sent('pong')).toHaveLength(1);
    clock.advance(KEEPALIVE_INTERVAL_MS * 2);
    expect(transport.last.sent('ping')).toHaveLength(2);
  });
});

describe('Sender: reconnect and resend order', () => {
  it('resends the unacknowledged messages after a reconnect, in order, with the same ids, before newer ones', async () => {
    const { sender, transport, clock } = setup();
    void sender.connect();
    welcomeOn(transport.last);
    const outcomes = ['a', 'b', 'c'].map((id) => track(sender.send('AAAAA-11111', `text ${id}`, id)));
    const first = transport.last;
    expect(sentIds(first)).toEqual(['a', 'b', 'c']);
    first.reply(ack('a', 1));
    first.drop();
    await settle();
    expect(sender.connectionState).toBe('disconnected');
    // Sent while away: it waits behind what the lost connection left unacknowledged.
    const later = track(sender.send('AAAAA-11111', 'text d', 'd'));
    clock.advance(99);
    expect(transport.connections).toHaveLength(1);
    clock.advance(1);
    expect(transport.connections).toHaveLength(2);
    const second = transport.last;
    welcomeOn(second);
    expect(sentIds(second)).toEqual(['b', 'c', 'd']);
    expect(second.sent('send').map((f) => f.text)).toEqual(['text b', 'text c', 'text d']);
    second.reply(ack('b', 2), ack('c', 3), ack('d', 4));
    await settle();
    expect([...outcomes, later].map((o) => o.ack?.seq)).toEqual([1, 2, 3, 4]);
    expect(sender.pending).toBe(0);
  });

  it('waits longer after each failed attempt (doubling to the ceiling), and starts over after a welcome', async () => {
    const { sender, transport, clock } = setup({ minBackoffMs: 100, maxBackoffMs: 400 });
    void sender.connect();
    welcomeOn(transport.last);
    void sender.send('AAAAA-11111', 'x', 'x').catch(() => {});
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      transport.last.drop();
      await settle();
      const start = clock.now();
      const opened = transport.connections.length;
      while (transport.connections.length === opened) clock.advance(1);
      waits.push(clock.now() - start);
    }
    expect(waits).toEqual([100, 200, 400, 400]);
    welcomeOn(transport.last);
    transport.last.drop();
    await settle();
    const opened = transport.connections.length;
    clock.advance(100);
    expect(transport.connections.length).toBe(opened + 1);
  });

  it('keeps at most `window` messages unacknowledged', () => {
    const { sender, transport } = setup({ window: 2 });
    void sender.connect();
    welcomeOn(transport.last);
    for (const id of ['a', 'b', 'c', 'd']) void sender.send('AAAAA-11111', id, id);
    expect(sentIds(transport.last)).toEqual(['a', 'b']);
    expect(sender.pending).toBe(4);
    transport.last.reply(ack('a', 1));
    expect(sentIds(transport.last)).toEqual(['a', 'b', 'c']);
  });
});

describe('Sender: rate-limit pause', () => {
  for (const code of ['RATE_LIMITED', 'UNAVAILABLE'] as const) {
    it(`${code} with retryAfterMs: nothing is sent until then, and the refused go first, in order, with their ids`, async () => {
      const { sender, transport, clock } = setup();
      void sender.connect();
      welcomeOn(transport.last);
      const outcomes = ['a', 'b', 'c'].map((id) => track(sender.send('AAAAA-11111', id, id)));
      const c = transport.last;
      c.reply({ t: 'error', id: 'a', code, message: 'slow down', retryAfterMs: 500 }, { t: 'error', id: 'b', code, message: 'slow down', retryAfterMs: 500 }, ack('c', 1));
      void sender.send('AAAAA-11111', 'd', 'd');
      expect(sentIds(c)).toEqual(['a', 'b', 'c']);
      clock.advance(499);
      expect(sentIds(c)).toEqual(['a', 'b', 'c']);
      clock.advance(1);
      expect(sentIds(c)).toEqual(['a', 'b', 'c', 'a', 'b', 'd']);
      c.reply(ack('a', 2), ack('b', 3));
      await settle();
      expect(outcomes.map((o) => o.ack?.seq)).toEqual([2, 3, 1]);
      expect(outcomes.every((o) => o.error === undefined)).toBe(true);
    });
  }

  it('RATE_LIMITED without retryAfterMs (an older server) pauses a second', () => {
    const { sender, transport, clock } = setup();
    void sender.connect();
    welcomeOn(transport.last);
    void sender.send('AAAAA-11111', 'a', 'a');
    transport.last.reply({ t: 'error', id: 'a', code: 'RATE_LIMITED', message: 'slow down' });
    clock.advance(999);
    expect(sentIds(transport.last)).toEqual(['a']);
    clock.advance(1);
    expect(sentIds(transport.last)).toEqual(['a', 'a']);
  });

  it('a refusal of one message for another reason fails that message only', async () => {
    const { sender, transport } = setup();
    void sender.connect();
    welcomeOn(transport.last);
    const refused = track(sender.send('AAAAA-11111', 'a', 'a'));
    const fine = track(sender.send('AAAAA-11111', 'b', 'b'));
    transport.last.reply({ t: 'error', id: 'a', code: 'NOT_A_MEMBER', message: 'not a member' }, ack('b', 1));
    await settle();
    expect(refused.error).toMatchObject({ code: 'NOT_A_MEMBER' });
    expect(fine.ack?.seq).toBe(1);
  });
});

describe('Sender: final errors', () => {
  it('SESSION_ENDED on an open connection: every message fails, the sender gives up and never reconnects', async () => {
    const { sender, transport, clock, states } = setup();
    void sender.connect();
    welcomeOn(transport.last);
    const outcomes = ['a', 'b'].map((id) => track(sender.send('AAAAA-11111', id, id)));
    transport.last.reply({ t: 'error', code: 'SESSION_ENDED', message: 'the session ended' });
    await settle();
    expect(outcomes.map((o) => o.error)).toEqual([expect.objectContaining({ code: 'SESSION_ENDED' }), expect.objectContaining({ code: 'SESSION_ENDED' })]);
    expect(sender.failure).toMatchObject({ code: 'SESSION_ENDED' });
    expect(states.at(-1)).toEqual(['disconnected', 'the session ended']);
    clock.advance(60_000);
    expect(transport.connections).toHaveLength(1);
    await expect(sender.send('AAAAA-11111', 'c', 'c')).rejects.toMatchObject({ code: 'SESSION_ENDED' });
  });

  it('a refused hello (UNAUTHENTICATED) rejects connect() with the refusal', async () => {
    const { sender, transport } = setup();
    const connected = sender.connect();
    transport.last.accept();
    transport.last.reply({ t: 'error', code: 'UNAUTHENTICATED', message: 'unknown session' });
    await expect(connected).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('an untrusted certificate: gives up, with the reason, and never reconnects', async () => {
    const { sender, transport, clock } = setup({ tls: {} });
    const connected = sender.connect();
    const send = track(sender.send('AAAAA-11111', 'a', 'a'));
    transport.last.untrusted(new Error('not the pinned certificate'));
    await expect(connected).rejects.toThrow('not the pinned certificate');
    await settle();
    expect(send.error).toBeInstanceOf(Error);
    expect(transport.last.sent('hello')).toEqual([]);
    clock.advance(60_000);
    expect(transport.connections).toHaveLength(1);
  });

  it('UNAVAILABLE at hello: tries again, no sooner than the server asked', async () => {
    const { sender, transport, clock } = setup();
    const connected = sender.connect();
    transport.last.accept();
    transport.last.reply({ t: 'error', code: 'UNAVAILABLE', message: 'try later', retryAfterMs: 2000 });
    transport.last.drop();
    await settle();
    clock.advance(1999);
    expect(transport.connections).toHaveLength(1);
    clock.advance(1);
    expect(transport.connections).toHaveLength(2);
    welcomeOn(transport.last);
    await connected;
  });
});

describe('Sender: connect and welcome deadlines', () => {
  it('no connection within the connect deadline: connect() rejects with "did not answer"', async () => {
    const { sender, transport, clock } = setup({ connectTimeoutMs: 10_000 });
    const connected = sender.connect();
    clock.advance(9_999);
    expect(transport.last.destroyed).toBe(false);
    clock.advance(1);
    await expect(connected).rejects.toThrow('the server at 127.0.0.1:7000 did not answer (no connection within 10 s)');
  });

  it('over TLS the deadline names the handshake', async () => {
    const { sender, clock } = setup({ tls: {}, connectTimeoutMs: 250 });
    const connected = sender.connect();
    clock.advance(250);
    await expect(connected).rejects.toThrow('did not answer (no TLS handshake within 250 ms)');
  });

  it('no welcome within its deadline after the hello: connect() rejects with "did not answer"', async () => {
    const { sender, transport, clock } = setup({ connectTimeoutMs: 1000, welcomeTimeoutMs: 30_000 });
    const connected = sender.connect();
    clock.advance(900);
    transport.last.accept();
    // The connect deadline no longer applies once connected: the welcome's does.
    clock.advance(29_999);
    expect(transport.last.destroyed).toBe(false);
    clock.advance(1);
    await expect(connected).rejects.toThrow('did not answer (no welcome within 30 s)');
  });

  it('with messages waiting, a missed deadline is one more failed attempt: the sender tries again and sends them', async () => {
    const { sender, transport, clock } = setup({ welcomeTimeoutMs: 1000, minBackoffMs: 100 });
    const connected = sender.connect();
    const sent = track(sender.send('AAAAA-11111', 'a', 'a'));
    transport.last.accept();
    clock.advance(1000);
    await settle();
    clock.advance(100);
    expect(transport.connections).toHaveLength(2);
    welcomeOn(transport.last);
    await connected;
    transport.last.reply(ack('a', 1));
    await settle();
    expect(sent.ack?.seq).toBe(1);
  });
});

describe('Sender: a first attempt that fails with nothing to send', () => {
  it('is left to the caller by default: connect() rejects and no other attempt follows', async () => {
    const { sender, transport, clock } = setup({ minBackoffMs: 100 });
    const connected = sender.connect();
    transport.last.drop();
    await expect(connected).rejects.toThrow();
    clock.advance(60_000);
    expect(transport.connections).toHaveLength(1);
    expect(sender.connectionState).toBe('disconnected');
  });

  it('with holdConnection, connect() rejects but the sender keeps trying until welcomed', async () => {
    const { sender, transport, clock, states } = setup({ minBackoffMs: 100, holdConnection: true });
    const connected = sender.connect();
    transport.last.drop();
    await expect(connected).rejects.toThrow();
    clock.advance(100);
    expect(transport.connections).toHaveLength(2);
    transport.last.drop();
    await settle();
    clock.advance(200);
    expect(transport.connections).toHaveLength(3);
    welcomeOn(transport.last);
    expect(sender.connectionState).toBe('connected');
    expect(states.map(([state]) => state)).toEqual(['connecting', 'disconnected', 'connecting', 'disconnected', 'connecting', 'connected']);
    sender.close();
  });
});

describe('Sender: close', () => {
  it('rejects what is pending and stops every timer', async () => {
    const { sender, transport, clock } = setup();
    void sender.connect();
    welcomeOn(transport.last);
    const sent = track(sender.send('AAAAA-11111', 'a', 'a'));
    sender.close();
    await settle();
    expect(sent.error).toBeInstanceOf(Error);
    expect(sender.connectionState).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Sender as the server link: probes and push', () => {
  const NONCE = 'MDEyMzQ1Njc4OWFi';
  const pushed = (seq: number) => ({ seq, sender: { id: 2, name: 'Bea' }, text: `m${seq}`, sentAt: '2024-05-01T12:00:00.000Z', clientMsgId: `c${seq}` });

  it('watches after the welcome, and asks again at every reconnect from what was delivered since', async () => {
    const { sender, transport, clock } = setup();
    let delivered = 4;
    sender.watch('aaaaa11111', () => delivered);
    welcomeOn(transport.last);
    expect(transport.last.sent('watch')).toEqual([{ t: 'watch', chat: 'AAAAA-11111', after: 4 }]);
    delivered = 9;
    transport.last.drop();
    await settle();
    clock.advance(5000);
    welcomeOn(transport.last);
    expect(transport.connections).toHaveLength(2);
    expect(transport.last.sent('watch')).toEqual([{ t: 'watch', chat: 'AAAAA-11111', after: 9 }]);
    sender.unwatch('AAAAA-11111');
    expect(transport.last.sent('unwatch')).toEqual([{ t: 'unwatch', chat: 'AAAAA-11111' }]);
  });

  it('hands pushed messages of watched chats on, with their chat; others are ignored', async () => {
    const { sender, transport } = setup();
    const got: [string, number[]][] = [];
    sender.onPushed((chat, messages) => got.push([chat, messages.map((m) => m.seq)]));
    sender.watch('AAAAA-11111', () => 0);
    welcomeOn(transport.last);
    transport.last.reply({ t: 'messages', chat: 'AAAAA-11111', messages: [pushed(1), pushed(2)] });
    transport.last.reply({ t: 'messages', chat: 'BBBBB-22222', messages: [pushed(1)] });
    expect(got).toEqual([['AAAAA-11111', [1, 2]]]);
  });

  it('a probe resolves with the latest seq when the server says it went out; a refusal rejects it', async () => {
    const { sender, transport } = setup();
    const connected = sender.connect();
    welcomeOn(transport.last);
    await connected;
    const answered = sender.probe('AAAAA-11111', NONCE);
    expect(transport.last.sent('probe')).toEqual([{ t: 'probe', chat: 'AAAAA-11111', nonce: NONCE }]);
    transport.last.reply({ t: 'probed', chat: 'AAAAA-11111', nonce: NONCE, latestSeq: 17 });
    await expect(answered).resolves.toEqual({ latestSeq: 17 });
    const refused = sender.probe('AAAAA-11111', NONCE);
    transport.last.reply({ t: 'refusal', about: 'probe', chat: 'AAAAA-11111', code: 'TOO_MANY_REQUESTS', message: 'slow down', retryAfterMs: 100 });
    await expect(refused).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
  });

  it('a probe while disconnected, or cut by a lost connection, rejects: it says nothing about multicast', async () => {
    const { sender, transport } = setup();
    await expect(sender.probe('AAAAA-11111', NONCE)).rejects.toThrow(/not connected/);
    welcomeOn(transport.last);
    const cut = sender.probe('AAAAA-11111', NONCE);
    transport.last.drop();
    await expect(cut).rejects.toThrow(/lost/);
  });

  it('a watch refused by the server is dropped (not asked again) and reported', async () => {
    const { sender, transport, clock } = setup();
    const refused: string[] = [];
    sender.onWatchRefused((chat, error) => refused.push(`${chat} ${error.code}`));
    sender.watch('AAAAA-11111', () => 0);
    welcomeOn(transport.last);
    transport.last.reply({ t: 'refusal', about: 'watch', chat: 'AAAAA-11111', code: 'NOT_A_MEMBER', message: 'removed' });
    expect(refused).toEqual(['AAAAA-11111 NOT_A_MEMBER']);
    transport.last.drop();
    await settle();
    clock.advance(5000);
    welcomeOn(transport.last);
    expect(transport.last.sent('watch')).toEqual([]);
  });
});

describe('Sender: typing, presence and pushed events', () => {
  const typingEvent = { kind: 'typing' as const, userId: 2, name: 'Bea', on: true };

  it('sends typing frames only while connected: nothing is queued for the next connection', async () => {
    const { sender, transport, clock } = setup();
    sender.typing('AAAAA-11111', true);
    const connected = sender.connect();
    welcomeOn(transport.last);
    await connected;
    expect(transport.last.sent('typing')).toEqual([]);
    sender.typing('AAAAA-11111', true);
    sender.typing('AAAAA-11111', false);
    expect(transport.last.sent('typing')).toEqual([
      { t: 'typing', chat: 'AAAAA-11111', on: true },
      { t: 'typing', chat: 'AAAAA-11111', on: false },
    ]);
    transport.last.drop();
    await settle();
    clock.advance(5000);
    welcomeOn(transport.last);
    expect(transport.connections).toHaveLength(2);
    expect(transport.last.sent('typing')).toEqual([]);
  });

  it('says away when it is so (again after every reconnect); online only when leaving away, since a connection starts online', async () => {
    const { sender, transport, clock } = setup();
    const reconnect = async () => {
      transport.last.drop();
      await settle();
      clock.advance(5000);
      welcomeOn(transport.last);
    };
    sender.presence('online');
    sender.presence('away');
    const connected = sender.connect();
    welcomeOn(transport.last);
    await connected;
    expect(transport.last.sent('presence')).toEqual([{ t: 'presence', state: 'away' }]);
    sender.presence('online');
    sender.presence('online');
    expect(transport.last.sent('presence')).toEqual([
      { t: 'presence', state: 'away' },
      { t: 'presence', state: 'online' },
    ]);
    await reconnect();
    expect(transport.connections).toHaveLength(2);
    expect(transport.last.sent('presence')).toEqual([]);
    sender.presence('away');
    await reconnect();
    expect(transport.last.sent('presence')).toEqual([{ t: 'presence', state: 'away' }]);
  });

  it('hands pushed events of watched chats on, with their chat in its displayed form; others are ignored', async () => {
    const { sender, transport } = setup();
    const got: [string, unknown[]][] = [];
    sender.onEvents((chat, events) => got.push([chat, events]));
    sender.watch('aaaaa11111', () => 0);
    welcomeOn(transport.last);
    transport.last.reply({ t: 'events', chat: 'aaaaa-11111', events: [typingEvent] });
    transport.last.reply({ t: 'events', chat: 'BBBBB-22222', events: [typingEvent] });
    expect(got).toEqual([['AAAAA-11111', [typingEvent]]]);
  });

  it('a typing refusal is ignored: the connection and its watches go on', async () => {
    const { sender, transport } = setup();
    const refused: string[] = [];
    sender.onWatchRefused((chat) => refused.push(chat));
    sender.watch('AAAAA-11111', () => 0);
    welcomeOn(transport.last);
    transport.last.reply({ t: 'refusal', about: 'typing', chat: 'AAAAA-11111', code: 'RATE_LIMITED', message: 'slow down' });
    const got: string[] = [];
    sender.onEvents((chat) => got.push(chat));
    transport.last.reply({ t: 'events', chat: 'AAAAA-11111', events: [typingEvent] });
    expect(refused).toEqual([]);
    expect(got).toEqual(['AAAAA-11111']);
    expect(sender.connectionState).toBe('connected');
  });
});

describe('Sender: progress reports', () => {
  it('sends `progress` only to a server whose welcome said it takes reports, and only while connected', async () => {
    const { sender, transport } = setup();
    void sender.connect();
    welcomeOn(transport.last); // a welcome without `progress`: a server from before reports
    expect(sender.progress('AAAAA-11111', 10, 3)).toBe(false);
    expect(transport.last.sent('progress')).toEqual([]);
    transport.last.drop();
    await settle();
    expect(sender.progress('AAAAA-11111', 10, 3)).toBe(false);
    void sender.connect();
    transport.last.accept();
    transport.last.reply({ t: 'welcome', v: PROTOCOL_VERSION, userId: 1, progress: true });
    expect(sender.progress('AAAAA-11111', 12, 4)).toBe(true);
    expect(transport.last.sent('progress')).toEqual([{ t: 'progress', chat: 'AAAAA-11111', delivered: 12, repaired: 4 }]);
    transport.last.drop();
    await settle();
    expect(sender.progress('AAAAA-11111', 13, 1)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { NonceSource, newChatKey, newSigningKeyPair } from '../protocol/crypto.js';
import { type DatagramMessage, encodeData, encodeEvents, encodeHeartbeat, encodeProbe, encodeVouch, encodeVouchedData } from '../protocol/datagram.js';
import { ChorusError } from '../protocol/errors.js';
import type { ChatEvent } from '../protocol/events.js';
import type { ChatMessage } from '../protocol/message.js';
import { FakeClock } from './clock.fake.js';
import { MulticastJoinError } from './group-sockets.js';
import { FakeMulticast } from './multicast-transport.fake.js';
import { type ChatInfo, type DeliveryState, Receiver, type ReceiverOptions, type ReceiverSource } from './receiver.js';
import { FakeLink } from './server-link.fake.js';

/** The Receiver's policy with fake multicast, a fake server and a fake clock: no socket, no real waiting. */

const CODE = 'ABCDE-12345';
const STREAM = '0123456789abcdef0a1b';
const GROUP = '239.1.2.3';
const PORT = 5000;
const server = newSigningKeyPair();
const nonces = new NonceSource();
const SENT_AT = 1_714_564_800_000;

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The server as the Receiver sees it: its log, the chat's key epochs, and what was asked of it. */
class FakeServer implements ReceiverSource {
  /** `signer`: the server's signing key pair; `log`: the chat's messages, which servers on one database share. */
  constructor(
    readonly signer = server,
    readonly log: ChatMessage[] = [],
  ) {}

  readonly keys = new Map<number, Buffer>([[1, newChatKey()]]);
  epoch = 1;
  readonly historyCalls: { after: number; limit: number }[] = [];
  chatInfoCalls = 0;
  /** While set, chatInfo waits for it (a key on its way). */
  gate: Promise<void> | undefined;
  failHistory = false;

  post(count: number): void {
    for (let i = 0; i < count; i++) {
      const seq = this.log.length + 1;
      this.log.push({ chat: CODE, seq, sender: { id: 7, name: 'Ada' }, text: `m${seq}`, sentAt: new Date(SENT_AT + seq).toISOString(), clientMsgId: `c${seq}` });
    }
  }

  rotate(): void {
    this.epoch++;
    this.keys.set(this.epoch, newChatKey());
  }

  async chatInfo(): Promise<ChatInfo> {
    this.chatInfoCalls++;
    const epoch = this.epoch;
    await this.gate;
    return { code: CODE, multicast: { group: GROUP, port: PORT, streamId: STREAM, keyEpoch: epoch, key: this.keys.get(epoch)!.toString('base64') } };
  }

  async history(_code: string, page: { after: number; limit: number } | { latest: number }) {
    const latestSeq = this.log.length;
    if ('latest' in page) return { messages: page.latest === 0 ? [] : this.log.slice(-page.latest), latestSeq };
    this.historyCalls.push(page);
    if (this.failHistory) throw new Error('server away');
    return { messages: this.log.slice(page.after, page.after + page.limit), latestSeq };
  }

  /** A DATA datagram carrying messages `from`..`to` of the log, under `epoch` (the current one by default). */
  data(from: number, to = from, epoch = this.epoch): Buffer {
    return encodeData({ stream: STREAM, epoch, messages: this.datagramMessages(from, to) }, this.keys.get(epoch)!, nonces.next(), this.signer.privateKey);
  }

  /** A run as the fan-out sends a backlog: its VOUCH, then one VOUCHED DATA per [from, to]. */
  run(...ranges: [number, number][]): { vouch: Buffer; datagrams: Buffer[] } {
    const datagrams = ranges.map(([from, to]) => encodeVouchedData({ stream: STREAM, epoch: this.epoch, messages: this.datagramMessages(from, to) }, this.keys.get(this.epoch)!, nonces.next()));
    return { vouch: encodeVouch({ stream: STREAM, epoch: this.epoch }, datagrams, this.signer.privateKey), datagrams };
  }

  private datagramMessages(from: number, to: number): DatagramMessage[] {
    return this.log.slice(from - 1, to).map((m) => ({
      seq: m.seq,
      senderId: m.sender.id,
      senderName: m.sender.name,
      sentAt: Date.parse(m.sentAt),
      clientMsgId: m.clientMsgId,
      text: m.text,
      textOmitted: false,
    }));
  }

  heartbeat(): Buffer {
    return encodeHeartbeat({ stream: STREAM, epoch: this.epoch, latestSeq: this.log.length }, this.signer.privateKey);
  }

  probe(nonce: string, signer = this.signer.privateKey): Buffer {
    return encodeProbe({ stream: STREAM, epoch: this.epoch, latestSeq: this.log.length, nonce }, signer);
  }

  /** An EVENTS datagram with `stamp`, under `epoch` (the current one by default). */
  events(stamp: number, events: ChatEvent[], epoch = this.epoch, signer = this.signer.privateKey): Buffer {
    return encodeEvents({ stream: STREAM, epoch, stamp, events }, this.keys.get(epoch)!, nonces.next(), signer);
  }
}

async function setup(options: Partial<ReceiverOptions> = {}) {
  const clock = new FakeClock();
  const multicast = new FakeMulticast();
  const source = new FakeServer();
  const receiver = new Receiver({
    source,
    serverKey: server.publicKey,
    interfaceAddress: '127.0.0.1',
    multicast: multicast.factory,
    clock,
    reorderWindowMs: 20,
    repairJitterMs: 10,
    random: () => 0.5,
    ...options,
  });
  const delivered: number[] = [];
  const errors: unknown[] = [];
  receiver.onMessage((m) => delivered.push(m.seq));
  receiver.onError((e) => errors.push(e));
  await receiver.join(CODE);
  const arrive = async (datagram: Buffer) => {
    multicast.deliver(datagram, GROUP, PORT);
    await settle();
  };
  /** Moves the clock on and lets the repair it starts finish. */
  const wait = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { clock, multicast, source, receiver, delivered, errors, arrive, wait };
}

describe('Receiver: live delivery', () => {
  it('joins the group and delivers datagrams in order, once', async () => {
    const { source, multicast, delivered, arrive } = await setup();
    expect(multicast.joined).toEqual(new Set([`${GROUP}:${PORT}`]));
    source.post(3);
    await arrive(source.data(1, 2));
    await arrive(source.data(2, 3));
    expect(delivered).toEqual([1, 2, 3]);
    expect(source.historyCalls).toEqual([]);
  });
});

describe('Receiver: runs (a VOUCH, then the unsigned datagrams it names)', () => {
  it('delivers a run in order, one signature check for all of it', async () => {
    const { source, receiver, delivered, arrive } = await setup({ verifyBudget: { perSecond: 1, burst: 1 } });
    source.post(9);
    const { vouch, datagrams } = source.run([1, 3], [4, 6], [7, 9]);
    await arrive(vouch);
    for (const d of datagrams) await arrive(d);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // A budget of one check was enough: the vouched datagrams cost none.
    expect(receiver.drops['over-budget']).toBe(0);
    expect(receiver.counts.vouches).toBe(1);
    expect(source.historyCalls).toEqual([]);
  });

  it("the VOUCH's copy after the first datagram (as the fan-out sends it) saves the rest of a run whose VOUCH was lost, and costs no signature check", async () => {
    const { source, receiver, delivered, arrive, wait } = await setup({ verifyBudget: { perSecond: 1, burst: 1 } });
    source.post(9);
    const { vouch, datagrams } = source.run([1, 3], [4, 6], [7, 9]);
    // The first VOUCH lost: the first datagram is not believed, the others are once the copy comes.
    await arrive(datagrams[0]!);
    await arrive(vouch);
    await arrive(datagrams[1]!);
    await arrive(datagrams[2]!);
    expect(receiver.drops.unvouched).toBe(1);
    await wait(25);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(source.historyCalls).toEqual([{ after: 0, limit: 3 }]);
    // Both copies of a VOUCH: the second is known by its bytes, within a budget of one check.
    source.post(3);
    const again = source.run([10, 10], [11, 11], [12, 12]);
    await wait(2000);
    await arrive(again.vouch);
    await arrive(again.datagrams[0]!);
    await arrive(again.vouch);
    for (const d of again.datagrams.slice(1)) await arrive(d);
    expect(receiver.counts.vouchCopies).toBe(1);
    expect(receiver.drops['over-budget']).toBe(0);
    expect(delivered.slice(-3)).toEqual([10, 11, 12]);
  });

  it('a run whose VOUCH was lost is refused datagram by datagram, and repaired from history', async () => {
    const { source, receiver, delivered, arrive, wait } = await setup();
    source.post(6);
    const { datagrams } = source.run([1, 3], [4, 6]);
    for (const d of datagrams) await arrive(d);
    expect(receiver.drops.unvouched).toBe(2);
    expect(delivered).toEqual([]);
    await arrive(source.heartbeat());
    await wait(25);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a member sealing messages of their own with the chat key gets none delivered, with or without a genuine VOUCH around', async () => {
    const { source, receiver, delivered, arrive } = await setup();
    source.post(3);
    const { vouch, datagrams } = source.run([1, 1], [2, 2]);
    const key = source.keys.get(source.epoch)!;
    const forged = (seq: number) =>
      encodeVouchedData({ stream: STREAM, epoch: source.epoch, messages: [{ seq, senderId: 1, senderName: 'Admin', sentAt: SENT_AT, clientMsgId: 'x', text: 'FORGED', textOmitted: false }] }, key, nonces.next());
    await arrive(forged(1));
    await arrive(vouch);
    await arrive(forged(1));
    await arrive(forged(3));
    for (const d of datagrams) await arrive(d);
    expect(receiver.drops.unvouched).toBe(3);
    expect(delivered).toEqual([1, 2]);
    expect(receiver.drops['bad-signature']).toBe(0);
  });
});

describe('Receiver: repair scheduling', () => {
  it('a gap waits the reorder window plus its jitter, then only the hole is fetched from history', async () => {
    const { source, delivered, arrive, wait } = await setup({ random: () => 0.5 });
    source.post(3);
    await arrive(source.data(1));
    await arrive(source.data(3));
    expect(delivered).toEqual([1]);
    await wait(24); // window 20 + jitter 0.5 × 10 = 25
    expect(source.historyCalls).toEqual([]);
    await wait(1);
    expect(source.historyCalls).toEqual([{ after: 1, limit: 1 }]);
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('the jitter spreads receivers missing the same datagram over the jitter', async () => {
    const fetchedAt: number[] = [];
    for (const r of [0, 0.99]) {
      const { source, arrive, clock, wait } = await setup({ random: () => r, reorderWindowMs: 20, repairJitterMs: 100 });
      source.post(3);
      await arrive(source.data(1));
      const start = clock.now();
      await arrive(source.data(3));
      while (source.historyCalls.length === 0) await wait(1);
      fetchedAt.push(clock.now() - start);
    }
    expect(fetchedAt).toEqual([20, 119]); // window + random × jitter
  });

  it('a late datagram inside the reorder window fills the gap: nothing is fetched', async () => {
    const { source, delivered, arrive, wait } = await setup();
    source.post(3);
    await arrive(source.data(1));
    await arrive(source.data(3));
    await wait(10);
    await arrive(source.data(2));
    await wait(1000);
    expect(delivered).toEqual([1, 2, 3]);
    expect(source.historyCalls).toEqual([]);
  });

  it('a heartbeat reveals a lost last datagram (tail loss), which is fetched after the window', async () => {
    const { source, delivered, arrive, wait } = await setup();
    source.post(3);
    await arrive(source.data(1));
    await arrive(source.heartbeat());
    expect(delivered).toEqual([1]);
    await wait(25);
    expect(source.historyCalls).toEqual([{ after: 1, limit: 2 }]);
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('a failed repair is reported and tried again a second later, even in an idle chat', async () => {
    const { source, delivered, errors, arrive, wait } = await setup();
    source.post(2);
    await arrive(source.heartbeat());
    source.failHistory = true;
    await wait(25);
    expect(errors).toHaveLength(1);
    source.failHistory = false;
    await wait(999);
    expect(delivered).toEqual([]);
    await wait(1);
    expect(delivered).toEqual([1, 2]);
  });
});

describe('Receiver: key epochs', () => {
  it('datagrams under a new epoch are held until its key arrives, then read in order: none is fetched', async () => {
    const { source, receiver, delivered, arrive } = await setup();
    source.post(1);
    await arrive(source.data(1));
    source.rotate();
    source.post(2);
    const key = deferred();
    source.gate = key.promise;
    await arrive(source.data(2));
    await arrive(source.data(3));
    expect(delivered).toEqual([1]);
    expect(receiver.counts.heldForKey).toBe(2);
    expect(source.chatInfoCalls).toBe(2); // the join, and one refresh for both
    key.resolve();
    await settle();
    expect(delivered).toEqual([1, 2, 3]);
    expect(receiver.drops['unknown-key']).toBe(0);
    expect(source.historyCalls).toEqual([]);
  });

  it('the previous key is still believed for its grace (10 s) after the rotation, not after', async () => {
    const { source, receiver, delivered, arrive, wait } = await setup();
    source.post(3);
    const lateUnderOldKey = [source.data(2, 2, 1), source.data(3, 3, 1)];
    source.rotate();
    await arrive(source.data(1));
    expect(delivered).toEqual([1]);
    await arrive(lateUnderOldKey[0]!);
    expect(delivered).toEqual([1, 2]);
    await wait(10_000);
    await arrive(lateUnderOldKey[1]!);
    expect(receiver.drops['unknown-key']).toBe(1);
    expect(delivered).toEqual([1, 2]);
  });

  it('holds at most 4 MiB of datagrams for a key (DATA may be 16 KiB): the rest is dropped, then fetched as a gap', async () => {
    const { source, receiver, delivered, arrive, wait } = await setup();
    source.rotate();
    source.post(300);
    for (const message of source.log) message.text = 'x'.repeat(16_000);
    const key = deferred();
    source.gate = key.promise;
    for (let seq = 1; seq <= 300; seq++) await arrive(source.data(seq));
    // About 16,150 bytes each: 259 fit 4 MiB.
    expect(receiver.counts.heldForKey).toBe(259);
    expect(receiver.drops['unknown-key']).toBe(41);
    key.resolve();
    await settle();
    expect(delivered).toEqual(Array.from({ length: 259 }, (_, i) => i + 1));
    await wait(25);
    expect(delivered).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('a key that cannot be fetched: what was held is dropped and fetched as a gap', async () => {
    const { source, receiver, delivered, errors, arrive, wait } = await setup();
    source.rotate();
    source.post(1);
    let refuse!: (error: Error) => void;
    source.gate = new Promise((_resolve, reject) => (refuse = reject));
    await arrive(source.data(1));
    expect(receiver.counts.heldForKey).toBe(1);
    refuse(new Error('server away'));
    await settle();
    expect(errors).toHaveLength(1);
    expect(receiver.drops['unknown-key']).toBe(1);
    await wait(25);
    expect(source.historyCalls).toEqual([{ after: 0, limit: 1 }]);
    expect(delivered).toEqual([1]);
  });
});

describe('Receiver: verification budget', () => {
  it('past the budget datagrams are dropped unchecked, and the chat is caught up from history a second later', async () => {
    const { source, receiver, delivered, arrive, wait } = await setup({ verifyBudget: { perSecond: 1, burst: 2 } });
    source.post(4);
    for (let seq = 1; seq <= 4; seq++) await arrive(source.data(seq));
    expect(delivered).toEqual([1, 2]);
    expect(receiver.drops['over-budget']).toBe(2);
    await wait(999);
    expect(source.historyCalls).toEqual([]);
    await wait(1);
    expect(delivered).toEqual([1, 2, 3, 4]);
    // A second on, the budget has a check again.
    source.post(1);
    await arrive(source.data(5));
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('Receiver: EVENTS (typing, read, presence) and their stamps', () => {
  const online = { kind: 'presence' as const, userId: 3, name: 'Alice', state: 'online' as const };
  const typing = { kind: 'typing' as const, userId: 3, name: 'Alice', on: true };
  const stopped = { kind: 'typing' as const, userId: 3, name: 'Alice', on: false };
  const offline = { kind: 'presence' as const, userId: 3, name: 'Alice', state: 'offline' as const };
  // Stamps as a server makes them: microseconds since the Unix epoch, always going up.
  const T = 1_764_547_200_000_000;

  async function withEvents(options: Partial<ReceiverOptions> = {}) {
    const context = await setup(options);
    const got: ChatEvent[][] = [];
    context.receiver.onEvents((_chat, events) => got.push(events));
    return { ...context, got };
  }

  it('hands on events with increasing stamps; a captured one sent again after them is dropped as stale-events, before its signature check', async () => {
    // Four signature checks and no refill: a replay that reached the check would be over-budget.
    const { source, receiver, arrive, got } = await withEvents({ verifyBudget: { perSecond: 0, burst: 4 } });
    const captured = [source.events(T + 1, [online]), source.events(T + 2, [typing])];
    for (const datagram of captured) await arrive(datagram);
    await arrive(source.events(T + 3, [stopped]));
    await arrive(source.events(T + 4, [offline]));
    expect(got).toEqual([[online], [typing], [stopped], [offline]]);
    // Alice is offline; someone who captured the group's traffic sends it back.
    for (const datagram of captured) await arrive(datagram);
    await arrive(captured[1]!);
    expect(got).toHaveLength(4);
    expect(receiver.drops['stale-events']).toBe(3);
    expect(receiver.drops['over-budget']).toBe(0);
  });

  it('drops the same datagram twice, and a genuine one older than one already taken (arrived late)', async () => {
    const { source, receiver, arrive, got } = await withEvents();
    const first = source.events(T + 10, [typing]);
    const late = source.events(T + 15, [stopped]);
    await arrive(first);
    await arrive(first);
    await arrive(source.events(T + 20, [online]));
    await arrive(late);
    expect(got).toEqual([[typing], [online]]);
    expect(receiver.drops['stale-events']).toBe(2);
  });

  it('a forged EVENTS with a stamp far ahead moves nothing: genuine ones after it are taken', async () => {
    const { source, receiver, arrive, got } = await withEvents();
    await arrive(source.events(Number.MAX_SAFE_INTEGER, [typing], source.epoch, newSigningKeyPair().privateKey));
    expect(receiver.drops['bad-signature']).toBe(1);
    await arrive(source.events(T + 1, [online]));
    expect(got).toEqual([[online]]);
  });

  it("keeps stamps per key epoch: a restarted server's (a new epoch) count even below the last run's, and the previous epoch's replays are dropped through its grace", async () => {
    const { source, receiver, arrive, got } = await withEvents();
    const oldEpoch = source.epoch;
    const captured = source.events(T + 100, [typing]);
    await arrive(captured);
    await arrive(source.events(T + 200, [online]));
    const lateUnderOldKey = source.events(T + 250, [stopped], oldEpoch);
    // The server restarts with its clock set back a little: a new epoch, lower stamps.
    source.rotate();
    await arrive(source.events(T + 50, [online]));
    expect(got).toEqual([[typing], [online], [online]]);
    // Under the previous key, for its grace: a replay is stale, a late genuine one (never taken) is not.
    await arrive(captured);
    await arrive(lateUnderOldKey);
    expect(got).toEqual([[typing], [online], [online], [stopped]]);
    expect(receiver.drops['stale-events']).toBe(1);
    await arrive(source.events(T + 50, [online]));
    expect(receiver.drops['stale-events']).toBe(2);
  });

  it('takes stamp 0 (a server from before stamps) as it comes, until a stamp has come under the epoch', async () => {
    const { source, receiver, arrive, got } = await withEvents();
    await arrive(source.events(0, [typing]));
    await arrive(source.events(0, [stopped]));
    await arrive(source.events(T, [online]));
    await arrive(source.events(0, [typing]));
    expect(got).toEqual([[typing], [stopped], [online]]);
    expect(receiver.drops['stale-events']).toBe(1);
  });
});

describe('Receiver: repair fetches holes, not what is still on its way', () => {
  it('a repaired hole does not make the latest committed seq a gap (messages still queued for multicast are not fetched)', async () => {
    const { source, delivered, arrive, wait } = await setup();
    source.post(2);
    await arrive(source.data(2));
    // The server commits 500 more while they are still being paced out.
    source.post(500);
    await wait(25);
    expect(source.historyCalls).toEqual([{ after: 0, limit: 1 }]);
    expect(delivered).toEqual([1, 2]);
    await wait(1000);
    expect(source.historyCalls).toHaveLength(1);
  });
});

describe('Receiver: delivery path with a server link', () => {
  async function withLink(options: Partial<ReceiverOptions> = {}) {
    const link = new FakeLink();
    const paths: DeliveryState[] = [];
    const env = await setup({ link, ...options });
    env.receiver.onPathChange((state) => paths.push(state));
    const probe = () => link.lastProbe!;
    return { ...env, link, paths, probe };
  }

  it('a probe datagram signed by the server with our nonce keeps the chat on multicast', async () => {
    const { source, paths, probe, arrive, receiver } = await withLink();
    probe().answer(0);
    await arrive(source.probe(probe().nonce));
    expect(paths.map((p) => p.path)).toEqual(['multicast']);
    expect(receiver.deliveryOf(CODE)).toMatchObject({ path: 'multicast', multicast: true });
  });

  it('probes of other members are dropped before any signature check', async () => {
    const { source, probe, arrive, receiver, paths } = await withLink();
    const forger = newSigningKeyPair();
    await arrive(source.probe('c29tZW9uZS1lbHNl', forger.privateKey));
    await arrive(source.probe('c29tZW9uZS1lbHNl'));
    expect(receiver.counts.othersProbes).toBe(2);
    expect(receiver.drops['bad-signature']).toBe(0);
    expect(paths).toEqual([]);
    probe().answer(0);
    await arrive(source.probe(probe().nonce));
    expect(paths.map((p) => p.path)).toEqual(['multicast']);
  });

  it('a forged probe (another signer) does not count: the chat falls back to push', async () => {
    const { source, paths, probe, arrive, wait, link } = await withLink();
    probe().answer(0);
    const forger = newSigningKeyPair();
    await arrive(source.probe(probe().nonce, forger.privateKey));
    await wait(2000);
    expect(paths.map((p) => p.path)).toEqual(['server']);
    expect([...link.watching.keys()]).toEqual([CODE]);
  });

  it('events pushed by the server come out of onEvents like multicast ones; those of chats not received are dropped', async () => {
    const { receiver, link } = await withLink();
    const got: [string, unknown][] = [];
    receiver.onEvents((chat, events) => got.push([chat, events]));
    const typing = { kind: 'typing' as const, userId: 3, name: 'Ben', on: true };
    link.pushEvents('abcde12345', [typing]);
    link.pushEvents('ZZZZZ-99999', [typing]);
    expect(got).toEqual([[CODE, [typing]]]);
  });

  it('on push, pushed messages are delivered in order and once, with multicast duplicates and a switch in the middle', async () => {
    const { source, delivered, probe, arrive, wait, link } = await withLink();
    source.post(6);
    await arrive(source.data(1, 2));
    probe().answer(2);
    await settle();
    await wait(2000);
    expect(link.calls).toEqual([`watch ${CODE} after 2`]);
    link.push(CODE, source.log.slice(2, 4));
    await arrive(source.data(3));
    link.push(CODE, source.log.slice(3, 6));
    await settle();
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
    expect(source.historyCalls).toEqual([]);
  });

  it("the server's answer to a probe tells how far multicast has got: what did not arrive is repaired", async () => {
    const { source, delivered, probe, arrive, wait } = await withLink();
    source.post(3);
    probe().answer(3);
    await settle();
    await arrive(source.probe(probe().nonce));
    await wait(25);
    expect(source.historyCalls).toEqual([{ after: 0, limit: 3 }]);
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('a watch refused for membership ends the chat', async () => {
    const { probe, wait, link, receiver, errors } = await withLink();
    probe().answer(0);
    await settle();
    await wait(2000);
    expect([...link.watching.keys()]).toEqual([CODE]);
    const ended: string[] = [];
    receiver.onAccessEnded((chat, error) => ended.push(`${chat} ${error.code} ${receiver.lastDelivered(chat)}`));
    link.refuseWatch(CODE, new ChorusError('NOT_A_MEMBER', 'removed'));
    expect(receiver.lastDelivered(CODE)).toBeUndefined();
    expect(errors).toHaveLength(1);
    // Told once, after the chat was left: a second refusal about it is no news.
    link.refuseWatch(CODE, new ChorusError('NOT_A_MEMBER', 'removed'));
    expect(ended).toEqual([`${CODE} NOT_A_MEMBER undefined`]);
  });

  it('a group that cannot be joined is no longer fatal with a link: the chat is pushed, and the reason says why', async () => {
    const multicast = new FakeMulticast();
    multicast.join = async () => {
      throw new MulticastJoinError('no-interface', GROUP, PORT, 'addMembership', 'EADDRNOTAVAIL', 'cannot join 239.1.2.3:5000 on 127.0.0.1 (EADDRNOTAVAIL)');
    };
    const { link, receiver } = await withLink({ multicast: multicast.factory });
    expect(receiver.deliveryOf(CODE)).toMatchObject({ path: 'server' });
    expect(receiver.deliveryOf(CODE)!.reason).toMatch(/EADDRNOTAVAIL/);
    expect([...link.watching.keys()]).toEqual([CODE]);
    expect(receiver.lastDelivered(CODE)).toBe(0);
  });
});

describe('Receiver: progress reports to the server (its multicast pace)', () => {
  /** A receiver whose chat is on multicast (its probe came back), with `count` messages in the log. */
  async function onMulticast(count: number) {
    const link = new FakeLink();
    const env = await setup({ link });
    link.lastProbe!.answer(0);
    await env.arrive(env.source.probe(link.lastProbe!.nonce));
    expect(env.receiver.deliveryOf(CODE)?.path).toBe('multicast');
    env.source.post(count);
    return { ...env, link };
  }
  const report = (delivered: number, repaired: number) => ({ chat: CODE, delivered, repaired });

  it('a repair is reported at once, later ones at most once a second and added up, then once more with none when delivery moves on', async () => {
    const { source, arrive, wait, link } = await onMulticast(20);
    await arrive(source.data(2)); // 1 lost
    await wait(25);
    await wait(0);
    expect(link.progressReports).toEqual([report(2, 1)]);
    await arrive(source.data(4)); // 3 lost
    await wait(25);
    await arrive(source.data(7)); // 5 and 6 lost
    await wait(25);
    expect(link.progressReports).toHaveLength(1);
    await wait(1000 - 50);
    expect(link.progressReports).toEqual([report(2, 1), report(7, 3)]);
    // No repair since: one report of none once the position has moved, then silence.
    await arrive(source.data(8, 10));
    await wait(1000);
    expect(link.progressReports).toEqual([report(2, 1), report(7, 3), report(10, 0)]);
    await arrive(source.data(11, 12));
    await wait(5000);
    expect(link.progressReports).toHaveLength(3);
  });

  it('a chat that repairs nothing says nothing', async () => {
    const { source, arrive, wait, link } = await onMulticast(20);
    for (let seq = 1; seq <= 20; seq++) {
      await arrive(source.data(seq));
      await wait(100);
    }
    expect(link.progressReports).toEqual([]);
  });

  it('after a report with repairs, a position that does not move ends the reports until the next repair', async () => {
    const { source, arrive, wait, link } = await onMulticast(20);
    await arrive(source.data(2));
    await wait(25);
    await wait(0);
    await wait(3000);
    expect(link.progressReports).toEqual([report(2, 1)]);
    await arrive(source.data(4));
    await wait(25);
    await wait(0);
    expect(link.progressReports).toEqual([report(2, 1), report(4, 1)]);
  });

  it('nothing is reported while the link cannot carry it (not connected, or an older server), and those repairs are not told later', async () => {
    const { source, arrive, wait, link } = await onMulticast(20);
    link.takesProgress = false;
    await arrive(source.data(2));
    await wait(25);
    await wait(1000);
    link.takesProgress = true;
    await wait(5000);
    expect(link.progressReports).toEqual([]);
    await arrive(source.data(4));
    await wait(25);
    await wait(0);
    expect(link.progressReports).toEqual([report(4, 1)]);
  });

  it("a join's catch-up and repairs on push are no news for the multicast pace", async () => {
    const link = new FakeLink();
    const { source, arrive, wait, receiver } = await setup({ link });
    source.post(5);
    // Before the first verdict: the gap is repaired, not reported.
    await arrive(source.data(3));
    await wait(25);
    expect(receiver.counts.repairedMessages).toBe(2);
    link.lastProbe!.answer(3);
    await settle();
    await wait(2000); // the probe did not come back: push
    expect(receiver.deliveryOf(CODE)?.path).toBe('server');
    source.post(3);
    link.push(CODE, source.log.slice(6, 8)); // 7 and 8 pushed: 4..6 repaired
    await wait(25);
    await wait(5000);
    expect(receiver.counts.repairedMessages).toBeGreaterThan(2);
    expect(link.progressReports).toEqual([]);
  });

  it('a receiver without a link reports nothing and keeps no timer for it', async () => {
    const { source, arrive, wait, clock } = await setup();
    source.post(5);
    await arrive(source.data(2));
    await wait(25);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Receiver: a move to another server', () => {
  /** Home (A) and another site (B) on one database: one log, each with its own signing key and chat keys. */
  async function twoServers() {
    const a = new FakeServer();
    const b = new FakeServer(newSigningKeyPair(), a.log);
    // B's epochs come after A's (one counter in the database): here B started later.
    b.keys.clear();
    b.epoch = 3;
    b.keys.set(3, newChatKey());
    let current: FakeServer = a;
    const source: ReceiverSource = { chatInfo: (code) => current.chatInfo(), history: (code, page) => current.history(code, page) };
    const context = await setup({ source });
    const move = (to: FakeServer) => {
      current = to;
      context.receiver.serverChanged(to.signer.publicKey);
    };
    return { ...context, a, b, move };
  }

  it("believes only the new server's datagrams after the move, with its chat key, and the old one's no more", async () => {
    const { a, b, receiver, delivered, arrive, move } = await twoServers();
    a.post(1);
    await arrive(a.data(1));
    expect(delivered).toEqual([1]);
    move(b);
    await settle();
    a.post(1);
    b.post(0);
    await arrive(a.data(2));
    expect(receiver.drops['bad-signature']).toBe(1);
    expect(delivered).toEqual([1]);
    await arrive(b.data(2));
    expect(delivered).toEqual([1, 2]);
  });

  it('goes back home: home\'s datagrams are believed again, even under an epoch older than the other server\'s', async () => {
    const { a, b, receiver, delivered, arrive, move } = await twoServers();
    move(b);
    await settle();
    a.post(1);
    await arrive(b.data(1));
    expect(delivered).toEqual([1]);
    move(a);
    await settle();
    a.post(1);
    await arrive(b.data(2));
    expect(delivered).toEqual([1]);
    await arrive(a.data(2));
    expect(delivered).toEqual([1, 2]);
    expect(a.epoch).toBeLessThan(b.epoch);
    expect(receiver.drops['bad-signature']).toBe(1);
  });

  it('repairs after the move ask the new server', async () => {
    const { a, b, delivered, arrive, move, wait } = await twoServers();
    move(b);
    await settle();
    a.post(3);
    await arrive(b.data(3));
    await wait(30);
    expect(b.historyCalls).toEqual([{ after: 0, limit: 2 }]);
    expect(a.historyCalls).toEqual([]);
    expect(delivered).toEqual([1, 2, 3]);
  });
});

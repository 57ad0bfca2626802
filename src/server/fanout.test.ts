import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { NonceSource, SIGNATURE_BYTES, newChatKey, newSigningKeyPair } from '../protocol/crypto.js';
import { LARGEST_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from '../protocol/limits.js';
import { type Datagram, datagramDigest, decodeDatagram, parseHeader } from '../protocol/datagram.js';
import { VouchedDigests } from '../protocol/vouched-digests.js';
import { captureGroup, waitFor } from '../../test/support/messaging.js';
import type { ChatKeys } from './chat-keys.js';
import { Fanout, type FanoutTuning, type SendDatagram } from './fanout.js';
import { LOOPBACK_MULTICAST_RATE, type MulticastRate } from './pacer.js';
import type { CommittedMessage } from './sequencer.js';

/**
 * The fan-out on real loopback multicast, with a pace slow enough that messages queue: what
 * goes out, in what order, and what heartbeats announce meanwhile. No timing is asserted.
 */

const CHAT = 'FANOUT0001';
const STREAM = 'f'.repeat(20);
const GROUP = '239.255.77.1';

const signing = newSigningKeyPair();
const chatKey = newChatKey();
const keys = { keyFor: async () => ({ epoch: 1, key: chatKey, nonces: new NonceSource() }) } as unknown as ChatKeys;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `datagramBytes`: the size any network takes, unless a test says otherwise (loopback's MTU would allow 16 KiB). */
async function setUp(rate: MulticastRate | undefined, maxBacklogMs?: number, datagramBytes = MAX_DATAGRAM_BYTES) {
  const port = 40_000 + Math.floor(Math.random() * 10_000);
  const capture = await captureGroup(GROUP, port);
  cleanups.push(capture.close);
  const fanout = await Fanout.start(
    { groups: '239.255.0.0/16', ports: { first: 40_000, last: 49_999 }, interface: '127.0.0.1', ttl: 1, rate, datagramBytes },
    keys,
    { privateKey: signing.privateKey },
    async () => ({ group: GROUP, port, stream: STREAM }),
    pino({ level: 'silent' }),
    { maxBacklogMs },
  );
  cleanups.push(() => fanout.close());
  // In the order they came, as a receiver reads them: a VOUCH vouches for the datagrams after it.
  const decoded = (vouched = new VouchedDigests()): Datagram[] =>
    capture.datagrams.map((d) => {
      const result = decodeDatagram(d, () => chatKey, signing.publicKey, vouched);
      if (!result.ok) throw new Error(`undecodable datagram: ${result.reason}`);
      return result.datagram;
    });
  const dataSeqs = () => decoded().flatMap((d) => (d.type === 'data' ? d.messages.map((m) => m.seq) : []));
  return { fanout, decoded, dataSeqs, capture };
}

function committed(from: number, count: number, text = 'x'.repeat(60)): CommittedMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    chatCode: CHAT,
    seq: from + i,
    senderId: 1,
    senderName: 'Ann',
    clientMsgId: `m${from + i}`,
    text,
    sentAt: 1_700_000_000_000,
  }));
}

describe('Fanout with pacing', { timeout: 30_000 }, () => {
  it('sends every message once and in order, packing what queued across commits into fuller datagrams', async () => {
    const { fanout, decoded, dataSeqs } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 200 });
    const batches = 50;
    for (let b = 0; b < batches; b++) fanout.publish(committed(b * 10 + 1, 10));
    await waitFor(() => dataSeqs().length >= batches * 10, 'every message to go out');
    expect(dataSeqs()).toEqual(Array.from({ length: batches * 10 }, (_, i) => i + 1));
    // One datagram per commit without pacing; 12 of these messages fit one datagram.
    expect(decoded().filter((d) => d.type === 'data').length).toBeLessThan(batches);
  });

  it('announces in heartbeats only what was sent, never what is still queued', async () => {
    // One datagram every 50 ms; 500-byte texts go two to a datagram.
    const { fanout, decoded, dataSeqs } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 20 });
    fanout.publish(committed(1, 20, 'y'.repeat(500)));
    await waitFor(() => dataSeqs().length > 0, 'the first datagram');
    // A key rotation's heartbeat while most of the chat is queued.
    while (dataSeqs().length < 20) {
      fanout.nudge(CHAT);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await waitFor(() => decoded().some((d) => d.type === 'heartbeat' && d.latestSeq === 20), 'a heartbeat after the last datagram');
    let sentSoFar = 0;
    let heartbeats = 0;
    for (const d of decoded()) {
      if (d.type === 'data') sentSoFar = d.messages.at(-1)!.seq;
      else if (d.type === 'heartbeat') {
        heartbeats++;
        expect(d.latestSeq).toBeLessThanOrEqual(sentSoFar);
      }
    }
    expect(heartbeats).toBeGreaterThan(1);
    expect(dataSeqs()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('skips the oldest of a backlog longer than the pace can send in its bound, keeping order; heartbeats then announce the last', async () => {
    // 2 s of 20 kB/s is 40 kB of queue; 3,000 short messages are about 300 kB.
    const { fanout, decoded, dataSeqs } = await setUp({ bytesPerSecond: 20_000, datagramsPerSecond: 1000 }, 2000);
    fanout.publish(committed(1, 3000));
    await waitFor(() => dataSeqs().at(-1) === 3000, 'the last message', 20_000);
    await waitFor(() => decoded().some((d) => d.type === 'heartbeat' && d.latestSeq === 3000), 'a heartbeat announcing it');
    const seqs = dataSeqs();
    expect(fanout.stats.skipped).toBeGreaterThan(2000);
    expect(seqs.length + fanout.stats.skipped).toBe(3000);
    expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
  });

  it('sends a backlog as runs: one signed VOUCH first, naming the unsigned datagrams after it', async () => {
    const { fanout, decoded, dataSeqs, capture } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 2000 });
    fanout.publish(committed(1, 1000));
    await waitFor(() => dataSeqs().length === 1000, 'every message');
    expect(dataSeqs()).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const types = capture.datagrams.map((d) => ('reason' in parseHeader(d) ? 'bad' : (parseHeader(d) as { type: string }).type));
    const signed = types.filter((t) => t === 'vouch' || t === 'data').length;
    const vouchedData = types.filter((t) => t === 'vouched-data').length;
    // About 84 datagrams of 12 messages: three runs of up to 32, each VOUCH sent twice.
    expect(vouchedData).toBeGreaterThan(60);
    expect(signed).toBeLessThanOrEqual(2 * (Math.ceil(vouchedData / 32) + 1));
    expect(fanout.stats.vouches).toBe(types.filter((t) => t === 'vouch').length);
    // Each VOUCH names the very next datagrams, in order; it goes again, the same bytes, after
    // the first of them (a lost VOUCH then costs one datagram, not the run).
    const named: string[] = [];
    let vouch: Buffer | undefined;
    for (const [i, d] of capture.datagrams.entries()) {
      if (types[i] === 'vouch' && named.length > 0) {
        expect(d.equals(vouch!)).toBe(true);
        expect(types[i - 2]).toBe('vouch');
      } else if (types[i] === 'vouch') {
        vouch = d;
        for (const digest of (decoded()[i] as { digests: Buffer[] }).digests) named.push(digest.toString('hex'));
      }
      if (types[i] === 'vouched-data') expect(named.shift()).toBe(datagramDigest(d).toString('hex'));
    }
    expect(named).toEqual([]);
    // Without a signature, a run's datagrams take 64 bytes more of messages than a signed DATA could.
    const biggest = Math.max(...capture.datagrams.filter((_, i) => types[i] === 'vouched-data').map((d) => d.length));
    expect(biggest).toBeGreaterThan(MAX_DATAGRAM_BYTES - SIGNATURE_BYTES);
    expect(biggest).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    // Without the VOUCHes, not one of them is believed.
    const unvouched = capture.datagrams.filter((_, i) => types[i] === 'vouched-data').map((d) => decodeDatagram(d, () => chatKey, signing.publicKey, new VouchedDigests()));
    expect(unvouched.every((r) => !r.ok && r.reason === 'unvouched')).toBe(true);
  });

  it('packs a stream of small commits into fuller datagrams by lingering (LINGER_MS) after a send, even unpaced', async () => {
    const { fanout, dataSeqs, capture } = await setUp({ bytesPerSecond: 0, datagramsPerSecond: 0 });
    // 60 one-message commits, each a moment after the last, as a busy chat makes them.
    for (let seq = 1; seq <= 60; seq++) {
      fanout.publish(committed(seq, 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => dataSeqs().length === 60, 'every message');
    expect(dataSeqs()).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const data = capture.datagrams.filter((d) => (parseHeader(d) as { type: string }).type.endsWith('data'));
    // Without lingering, each commit would be its own datagram.
    expect(data.length).toBeLessThanOrEqual(30);
    // And close() sends what a lingering chat holds.
    fanout.publish(committed(61, 1));
    fanout.publish(committed(62, 1));
    await fanout.close();
    await waitFor(() => dataSeqs().length === 62, 'what lingered at close');
  });

  it('packs texts of any size in order within the datagram limit; a text too large for one goes without it', async () => {
    const { fanout, decoded, dataSeqs, capture } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 2000 });
    // Sizes around a datagram's room (1,100 and 1,300 are past it, as is 5,000): a text that does
    // not fit a datagram on its own is left out, and receivers fetch it over HTTP.
    const sizes = [10, 900, 1100, 300, 5000, 1, 1300, 700, 700, 60];
    const messages = sizes.map((size, i) => committed(i + 1, 1, String.fromCharCode(97 + i).repeat(size))[0]!);
    fanout.publish(messages);
    await waitFor(() => dataSeqs().length === messages.length, 'every message to go out');
    expect(dataSeqs()).toEqual(messages.map((m) => m.seq));
    for (const datagram of capture.datagrams) expect(datagram.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    const sent = decoded().flatMap((d) => (d.type === 'data' ? d.messages : []));
    expect(sent.filter((m) => m.textOmitted).map((m) => m.seq)).toEqual([3, 5, 7]);
    for (const [i, m] of sent.entries()) expect(m).toMatchObject(m.textOmitted ? { text: '' } : { text: messages[i]!.text });
  });

  it('packs DATA up to the datagram size the interface allows, and no more than 20 ms of a slow pace', async () => {
    const { fanout, decoded, dataSeqs, capture } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 2000 }, undefined, LARGEST_DATAGRAM_BYTES);
    fanout.publish(committed(1, 1000));
    await waitFor(() => dataSeqs().length === 1000, 'every message');
    expect(dataSeqs()).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const data = decoded().filter((d) => d.type === 'data');
    // 20 ms of 1 MB/s is 20,000 bytes, more than the 16 KiB the interface takes: about 140 short messages a datagram.
    expect(data.length).toBeLessThanOrEqual(Math.ceil(1000 / 100));
    for (const datagram of capture.datagrams) expect(datagram.length).toBeLessThanOrEqual(LARGEST_DATAGRAM_BYTES);
    expect(Math.max(...capture.datagrams.map((d) => d.length))).toBeGreaterThan(LARGEST_DATAGRAM_BYTES - 200);
    // A text of 5,000 bytes fits such a datagram: it goes in it, not over HTTP.
    fanout.publish(committed(1001, 1, 'y'.repeat(5000)));
    await waitFor(() => dataSeqs().length === 1001, 'the long one');
    expect(decoded().flatMap((d) => (d.type === 'data' ? d.messages : [])).at(-1)).toMatchObject({ seq: 1001, textOmitted: false, text: 'y'.repeat(5000) });
  });

  it('keeps each datagram within 20 ms of a slow pace, whatever the interface allows', async () => {
    // 100,000 bytes/s: 20 ms of it is 2,000 bytes.
    const { fanout, dataSeqs, capture } = await setUp({ bytesPerSecond: 100_000, datagramsPerSecond: 2000 }, undefined, LARGEST_DATAGRAM_BYTES);
    fanout.publish(committed(1, 100));
    await waitFor(() => dataSeqs().length === 100, 'every message');
    const sizes = capture.datagrams.map((d) => d.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2000);
    expect(Math.max(...sizes)).toBeGreaterThan(MAX_DATAGRAM_BYTES);
  });

  it('sends what fits one datagram signed, with no VOUCH', async () => {
    const { fanout, dataSeqs, capture } = await setUp({ bytesPerSecond: 1_000_000, datagramsPerSecond: 2000 });
    for (let seq = 1; seq <= 5; seq++) {
      fanout.publish(committed(seq, 1));
      await waitFor(() => dataSeqs().length === seq, `message ${seq}`);
    }
    expect(capture.datagrams.map((d) => (parseHeader(d) as { type: string }).type).filter((t) => t !== 'heartbeat')).toEqual(Array(5).fill('data'));
    expect(fanout.stats.vouches).toBe(0);
  });

  it('paces for loopback when no rate is configured and the interface is loopback', async () => {
    const { fanout, dataSeqs } = await setUp(undefined);
    expect(fanout.pace.rate).toEqual(LOOPBACK_MULTICAST_RATE);
    fanout.publish(committed(1, 200));
    await waitFor(() => dataSeqs().length === 200, 'every message');
    expect(dataSeqs()).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('sends at once, with no backlog limit, when pacing is off', async () => {
    const { fanout, dataSeqs } = await setUp({ bytesPerSecond: 0, datagramsPerSecond: 0 });
    fanout.publish(committed(1, 500));
    await waitFor(() => dataSeqs().length === 500, 'every message');
    expect(fanout.stats.skipped).toBe(0);
  });
});

describe('probes and send errors', { timeout: 30_000 }, () => {
  /** A fan-out whose chats go where `addresses` says, with its log kept. */
  async function withLog(addresses: Record<string, { group: string; port: number }>, tuning: FanoutTuning = {}) {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const fanout = await Fanout.start(
      { groups: '239.255.0.0/16', ports: { first: 40_000, last: 49_999 }, interface: '127.0.0.1', ttl: 1, rate: { bytesPerSecond: 0, datagramsPerSecond: 0 } },
      keys,
      { privateKey: signing.privateKey },
      async (code) => ({ ...addresses[code]!, stream: STREAM }),
      logger,
      tuning,
    );
    cleanups.push(() => fanout.close());
    return { fanout, lines };
  }

  it('multicasts a signed PROBE with the nonce and the latest seq sent, and answers that seq', async () => {
    const port = 40_000 + Math.floor(Math.random() * 10_000);
    const capture = await captureGroup(GROUP, port);
    cleanups.push(capture.close);
    const { fanout } = await withLog({ [CHAT]: { group: GROUP, port } });
    const nonce = 'AAECAwQFBgcICQoL';
    expect(await fanout.probe(CHAT, nonce)).toBe(0);
    fanout.publish(committed(1, 3));
    const probes = () => capture.datagrams.map((d) => decodeDatagram(d, () => chatKey, signing.publicKey)).flatMap((r) => (r.ok && r.datagram.type === 'probe' ? [r.datagram] : []));
    await waitFor(() => probes().length === 1, 'the first probe');
    await waitFor(() => capture.datagrams.length >= 2, 'the data');
    expect(await fanout.probe(CHAT, nonce)).toBe(3);
    await waitFor(() => probes().length === 2, 'the second probe');
    expect(probes()).toEqual([
      { type: 'probe', stream: STREAM, epoch: 1, latestSeq: 0, nonce },
      { type: 'probe', stream: STREAM, epoch: 1, latestSeq: 3, nonce },
    ]);
    expect(fanout.stats.probes).toBe(2);
    // Signed by the server: another key's verdict is a bad signature.
    const other = newSigningKeyPair();
    expect(capture.datagrams.map((d) => decodeDatagram(d, () => chatKey, other.publicKey)).every((r) => !r.ok)).toBe(true);
  });

  it('counts every failed send but logs once, with the cause and the flag to set, and once more when sends work again', async () => {
    const port = 40_000 + Math.floor(Math.random() * 10_000);
    // Sends to one group fail as a firewall makes them (EPERM), before reaching the socket: a
    // real refusal is the netns test's (test/netns/delivery-fallback.test.ts), on its own network.
    const FAILING_GROUP = '239.255.77.77';
    const refuseOneGroup = (send: SendDatagram): SendDatagram => (datagram, toPort, group, done) => {
      if (group !== FAILING_GROUP) return send(datagram, toPort, group, done);
      queueMicrotask(() => done(Object.assign(new Error('send EPERM'), { code: 'EPERM', syscall: 'send' })));
    };
    const { fanout, lines } = await withLog({ FAILING01: { group: FAILING_GROUP, port }, [CHAT]: { group: GROUP, port } }, { wrapSend: refuseOneGroup });
    const nonce = 'AAECAwQFBgcICQoL';
    for (let i = 0; i < 5; i++) await fanout.probe('FAILING01', nonce);
    await waitFor(() => fanout.stats.sendErrors === 5, 'five send errors');
    expect(fanout.sendingFails).toBe(true);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/multicast sends fail/);
    expect(warnings[0]!.msg).toMatch(/--multicast-interface/);
    expect(warnings[0]!.msg).toMatch(/firewall/);
    await fanout.probe(CHAT, nonce);
    await waitFor(() => !fanout.sendingFails, 'a send that works');
    expect(lines.filter((l) => l.msg === 'multicast sends work again')).toHaveLength(1);
    await fanout.probe('FAILING01', nonce);
    await waitFor(() => fanout.stats.sendErrors === 6, 'a sixth send error');
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
  });
});

describe('EVENTS datagrams', { timeout: 30_000 }, () => {
  it('carry stamps that go up from one datagram to the next, in the order sent, a batch split in several included', async () => {
    const { fanout, decoded } = await setUp({ bytesPerSecond: 0, datagramsPerSecond: 0 });
    const typing = (on: boolean) => ({ kind: 'typing' as const, userId: 1, name: 'Ann', on });
    // Names of 64 four-byte characters: a few events fill a datagram, so these forty take several.
    const reads = Array.from({ length: 40 }, (_, i) => ({ kind: 'read' as const, userId: i + 1, name: '😀'.repeat(64), seq: i }));
    await fanout.events(CHAT, [typing(true)]);
    await fanout.events(CHAT, reads);
    await fanout.events(CHAT, [typing(false)]);
    const events = () => decoded().flatMap((d) => (d.type === 'events' ? [d] : []));
    await waitFor(() => events().length === fanout.stats.events, 'every EVENTS datagram');
    expect(fanout.stats.events).toBeGreaterThan(3);
    expect(events().flatMap((d) => d.events)).toEqual([typing(true), ...reads, typing(false)]);
    const stamps = events().map((d) => d.stamp);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThan(stamps[i - 1]!);
    // Microseconds of the wall clock: about now.
    expect(Math.abs(stamps[0]! / 1000 - Date.now())).toBeLessThan(60_000);
  });
});

describe('packEvents', () => {
  it('packs events into batches that each fit one EVENTS datagram, in order, none lost', async () => {
    const { packEvents } = await import('./fanout.js');
    const { encodeEvents } = await import('../protocol/datagram.js');
    const { newSigningKeyPair, newChatKey, NonceSource } = await import('../protocol/crypto.js');
    // Names of 64 four-byte characters: 256 bytes each, so only a few fit a datagram.
    const events = Array.from({ length: 40 }, (_, i) => ({ kind: 'read' as const, userId: i + 1, name: '😀'.repeat(64), seq: i }));
    const batches = packEvents(events);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(events);
    const key = newChatKey();
    const nonces = new NonceSource();
    const signer = newSigningKeyPair();
    const encode = (batch: Parameters<typeof encodeEvents>[0]['events']) => encodeEvents({ stream: '0123456789abcdef0123', epoch: 1, stamp: 1, events: batch }, key, nonces.next(), signer.privateKey);
    // Small events too: each batch within 32 events and 1200 bytes, and full (one more would not fit).
    const small = Array.from({ length: 70 }, (_, i) => ({ kind: 'typing' as const, userId: i + 1, name: 'A', on: true }));
    const smallBatches = packEvents(small);
    expect(smallBatches.flat()).toEqual(small);
    for (const batch of [...batches, ...smallBatches]) {
      expect(batch.length).toBeLessThanOrEqual(32);
      expect(encode(batch).length).toBeLessThanOrEqual(1200);
    }
    for (const [i, batch] of smallBatches.slice(0, -1).entries()) {
      expect(() => encode([...batch, smallBatches[i + 1]![0]!])).toThrow(RangeError);
    }
  });
});

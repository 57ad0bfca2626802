import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../src/protocol/frames.js';
import { PROGRESS_BURST, PROGRESS_RATE_PER_SECOND } from '../src/protocol/limits.js';
import { DEFAULT_MULTICAST_RATE } from '../src/server/pacer.js';
import { connectedSender, tcpPortOf } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Receivers' `progress` reports over TCP (docs/protocol.md, Progress reports): taken from members
 * only, limited per connection, never answered, and the server's multicast pace follows them
 * (read from /api/metrics). Each test has its own server: the pace is the server's, all chats together.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.dispose());

async function metrics(): Promise<string> {
  return (await fetch(`${server.httpUrl}/api/metrics`)).text();
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in the metrics`);
  return Number(line.slice(series.length + 1));
}

async function metric(series: string): Promise<number> {
  return sample(await metrics(), series);
}

/** Reads the series every 100 ms until `wanted` holds of it (or `timeoutMs` passes); returns the last value read. */
async function metricUntil(series: string, wanted: (value: number) => boolean, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let value = await metric(series);
  while (!wanted(value) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await metric(series);
  }
  return value;
}

/** A user with a chat of their own, logged in on a raw TCP connection. */
async function memberWithChat(name: string) {
  const user = await signUp(server.httpUrl, name);
  const code: string = (await http(server.httpUrl)('POST', '/api/chats', { token: user.token, json: { name: `${name}'s` } })).body.code;
  const client = await rawFrameClient(await tcpPortOf(server.httpUrl));
  await client.login(user.token);
  return { user, code, client };
}

/** Answers of the server other than the welcome and pongs: a progress frame gets none. */
const answers = (frames: Frame[]) => frames.filter((f) => f.t !== 'welcome' && f.t !== 'pong' && f.t !== 'ack');

async function stillServed(client: Awaited<ReturnType<typeof rawFrameClient>>): Promise<void> {
  const pongs = client.frames.filter((f) => f.t === 'pong').length;
  client.send({ t: 'ping' });
  await client.next('pong', pongs);
  expect(client.isClosed).toBe(false);
}

describe('progress reports', () => {
  it("the welcome says the server takes them, and the client library's Sender sends them", async () => {
    const { user, code, client } = await memberWithChat('Wren');
    expect(client.frames[0]).toMatchObject({ t: 'welcome', progress: true });
    const before = await metric('chorus_progress_reports_total');
    const sender = await connectedSender(server.httpUrl, user.token);
    try {
      expect(sender.progress(code, 0, 0)).toBe(true);
      expect(await metricUntil('chorus_progress_reports_total', (taken) => taken > before, 5000)).toBe(before + 1);
    } finally {
      sender.close();
    }
  });

  it("a member's reports are taken; a non-member's and those for no chat are ignored; none is answered and both connections go on", async () => {
    const ada = await memberWithChat('Ada');
    const ben = await memberWithChat('Ben');
    const taken = await metric('chorus_progress_reports_total');
    const ignored = await metric('chorus_progress_reports_ignored_total');
    ada.client.send({ t: 'progress', chat: ada.code, delivered: 0, repaired: 0 });
    ada.client.send({ t: 'progress', chat: ada.code.replace('-', '').toLowerCase(), delivered: 0, repaired: 0 });
    ben.client.send({ t: 'progress', chat: ada.code, delivered: 5, repaired: 2 });
    ben.client.send({ t: 'progress', chat: 'ZZZZZ-ZZZZZ', delivered: 5, repaired: 2 });
    ben.client.send({ t: 'progress', chat: 'not a code', delivered: 5, repaired: 2 });
    await stillServed(ada.client);
    await stillServed(ben.client);
    const text = await metrics();
    expect(sample(text, 'chorus_progress_reports_total') - taken).toBe(2);
    expect(sample(text, 'chorus_progress_reports_ignored_total') - ignored).toBe(3);
    expect(answers(ada.client.frames)).toEqual([]);
    expect(answers(ben.client.frames)).toEqual([]);
    // The metrics name no chat.
    expect(text).not.toContain(ada.code);
  });

  it('a malformed progress frame is refused BAD_REQUEST and closes the connection, as any other', async () => {
    const { code, client } = await memberWithChat('Cleo');
    client.send({ t: 'progress', chat: code, delivered: -1, repaired: 0 });
    expect(await client.next('error')).toMatchObject({ code: 'BAD_REQUEST' });
    await client.closed;
  });

  it('a report before the welcome is refused UNAUTHENTICATED, as any other frame', async () => {
    const client = await rawFrameClient(await tcpPortOf(server.httpUrl));
    client.send({ t: 'progress', chat: 'ABCDE-FGHJK', delivered: 0, repaired: 0 });
    expect(await client.next('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    await client.closed;
  });

  it("a flood of reports is cut to the connection's limit, silently, and the connection's sends are all acknowledged", async () => {
    const { code, client } = await memberWithChat('Dan');
    const taken = await metric('chorus_progress_reports_total');
    const dropped = await metric('chorus_progress_reports_dropped_total');
    const started = performance.now();
    const FLOOD = 2000;
    const SENDS = 20;
    for (let i = 0; i < FLOOD; i++) {
      client.send({ t: 'progress', chat: code, delivered: i, repaired: 0 });
      if (i % (FLOOD / SENDS) === 0) client.send({ t: 'send', id: `flood${i}`, chat: code, text: `between reports ${i}` });
    }
    await client.next('ack', SENDS - 1);
    await stillServed(client);
    const seconds = (performance.now() - started) / 1000;
    const text = await metrics();
    const took = sample(text, 'chorus_progress_reports_total') - taken;
    const dropping = sample(text, 'chorus_progress_reports_dropped_total') - dropped;
    console.log(`flood of ${FLOOD} reports in ${seconds.toFixed(2)} s: ${took} taken, ${dropping} dropped`);
    expect(took + dropping).toBe(FLOOD);
    expect(took).toBeGreaterThanOrEqual(PROGRESS_BURST);
    expect(took).toBeLessThanOrEqual(PROGRESS_BURST + Math.ceil(PROGRESS_RATE_PER_SECOND * seconds) + 1);
    expect(client.frames.filter((f) => f.t === 'ack')).toHaveLength(SENDS);
    expect(answers(client.frames)).toEqual([]);
  });

  it('reported repairs lower the multicast rate, and it comes back to the configured rate once they stop', async () => {
    const { code, client } = await memberWithChat('Eve');
    const configured = DEFAULT_MULTICAST_RATE.datagramsPerSecond;
    expect(await metric('chorus_multicast_rate_datagrams_per_second')).toBe(configured);
    const decreases = await metric('chorus_multicast_rate_decreases_total');
    for (let i = 0; i < 20; i++) client.send({ t: 'send', id: `m${i}`, chat: code, text: `multicast ${i}` });
    await client.next('ack', 19);
    client.send({ t: 'progress', chat: code, delivered: 20, repaired: 15 }); // 15 of 20: far past 0.5%
    const started = performance.now();
    const lowered = await metricUntil('chorus_multicast_rate_datagrams_per_second', (rate) => rate < configured, 10_000);
    const loweredAfter = (performance.now() - started) / 1000;
    expect(lowered).toBeCloseTo(configured * 0.7);
    expect(await metric('chorus_multicast_rate_decreases_total')).toBe(decreases + 1);
    expect(await metric('chorus_multicast_rate_share')).toBeCloseTo(0.7);
    const rate = await metricUntil('chorus_multicast_rate_datagrams_per_second', (r) => r >= configured, 30_000);
    const recoveredAfter = (performance.now() - started) / 1000;
    console.log(`pace: lowered to ${lowered} datagrams/s after ${loweredAfter.toFixed(1)} s, back to ${rate} after ${recoveredAfter.toFixed(1)} s`);
    expect(rate).toBe(configured);
    expect(await metric('chorus_multicast_rate_increases_total')).toBeGreaterThanOrEqual(1);
    // Messages go on being multicast and acknowledged at the restored pace.
    client.send({ t: 'send', id: 'after', chat: code, text: 'after the recovery' });
    await client.next('ack', 20);
  }, 60_000);
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack } from '../src/client/sender.js';
import { defaultServerConfig } from '../src/server/config.js';
import { adminQuery, databaseFor } from './support/engine.js';
import { connectedSender, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';
import { startTcpProxy } from './support/tcp-proxy.js';

/**
 * Finding 16.1: the server survives its PostgreSQL. Connections ended under it (idle, or in the
 * middle of a stream of pipelined sends) and a database that cannot be reached for a while must
 * not end the process or lose anything acknowledged, and senders finish by themselves. The
 * database goes away through a proxy of our own: the machine's PostgreSQL is shared, never
 * stopped. PostgreSQL only (vitest.config.ts).
 */

type Account = Awaited<ReturnType<typeof signUp>>;
let server: TestServer;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let databaseName: string;
let call: ReturnType<typeof http>;
let ann: Account;
let code: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-pg-faults-'));
  const target = await databaseFor(dir);
  if (target.engine !== 'postgres') throw new Error('test/postgres-faults.test.ts runs on PostgreSQL only');
  const url = new URL(target.url);
  databaseName = url.pathname.slice(1);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  // Streams of thousands of sends, not held back by the per-user send rate.
  const limits = { ...defaultServerConfig().limits, sendRate: { perSecond: 0, burst: 0 } };
  server = await startTestServer({ database: { engine: 'postgres', url: url.toString() }, limits }, dir);
  call = http(server.httpUrl);
  ann = await signUp(server.httpUrl, 'Ann');
  code = (await call('POST', '/api/chats', { token: ann.token, json: { name: 'Faults' } })).body.code;
});
afterAll(async () => {
  await server?.dispose();
  await proxy?.stop();
});

/** Ends every connection the server has to its database, as an administrator (or a failover) would. */
async function terminateServerBackends(): Promise<number> {
  const result = await adminQuery('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [databaseName]);
  return result.rowCount ?? 0;
}

/** Sends `count` texts pipelined on one connection; calls `during` once the first acks are in. */
async function stream(prefix: string, count: number, during: () => Promise<void>): Promise<(Ack & { text: string })[]> {
  const sender = await connectedSender(server.httpUrl, ann.token);
  const acks: (Ack & { text: string })[] = [];
  const sends = Array.from({ length: count }, (_, i) => {
    const text = `${prefix} ${i}`;
    return sender.send(code, text).then((ack) => void acks.push({ ...ack, text }));
  });
  await waitFor(() => acks.length > 0, 'the first acks');
  await during();
  await Promise.all(sends);
  sender.close();
  return acks;
}

/** A counter of GET /api/metrics, 0 when it has no sample (yet). */
async function metric(name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/api/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `));
  return line ? Number(line.split(' ')[1]) : 0;
}
const refusedUnavailable = () => metric('chorus_sends_refused_total', '{code="UNAVAILABLE"}');

/** Every acknowledged message is in the history under its seq, and the log has no holes. */
async function expectAllStored(acks: (Ack & { text: string })[]): Promise<void> {
  const stored = new Map<number, string>();
  let after = 0;
  for (;;) {
    const page = await call('GET', `/api/chats/${code}/messages?after=${after}&limit=500`, { token: ann.token });
    expect(page.status).toBe(200);
    for (const m of page.body.messages) stored.set(m.seq, m.text);
    if (page.body.messages.length < 500) break;
    after = page.body.messages.at(-1).seq;
  }
  for (const ack of acks) expect(stored.get(ack.seq), `seq ${ack.seq}`).toBe(ack.text);
  expect([...stored.keys()]).toEqual(Array.from({ length: stored.size }, (_, i) => i + 1));
  // Each acknowledged message once: a commit retried after its answer was lost is not stored twice.
  expect(new Set(acks.map((a) => a.seq)).size).toBe(acks.length);
  expect([...stored.values()].filter((text) => acks.some((a) => a.text === text)).length).toBe(acks.length);
}

describe('PostgreSQL connections ended under the server', () => {
  it('while idle: the server stays up and serves the next requests and sends', async () => {
    expect(await terminateServerBackends()).toBeGreaterThan(0);
    // The pool hears of the ended connections (the events that used to end the process) and
    // drops them; a request that meets one before that is answered 503, never a 500.
    const statuses: number[] = [];
    while (statuses.at(-1) !== 200 && statuses.length < 50) {
      statuses.push((await call('GET', '/api/chats', { token: ann.token })).status);
      if (statuses.at(-1) !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    const acks = await stream('after idle termination', 50, async () => {});
    expect(acks).toHaveLength(50);
    await expectAllStored(acks);
  });

  it('in the middle of a stream of pipelined sends: every send is acknowledged once and stored', async () => {
    let terminated = 0;
    const retriesBefore = await metric('chorus_commit_retries_total');
    const acks = await stream('terminated mid-stream', 3000, async () => {
      for (let i = 0; i < 5; i++) {
        terminated += await terminateServerBackends();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    });
    expect(terminated).toBeGreaterThan(0);
    expect(acks).toHaveLength(3000);
    await expectAllStored(acks);
    // The server tried its commits again itself: no sender was told to.
    expect(await metric('chorus_commit_retries_total')).toBeGreaterThan(retriesBefore);
    expect(await refusedUnavailable()).toBe(0);
  });
});

describe('PostgreSQL out of reach for a while', () => {
  it('holds sends until it is back: the stream finishes by itself with nothing lost; HTTP says 503 with Retry-After meanwhile', async () => {
    let duringOutage: Awaited<ReturnType<typeof call>> | undefined;
    const acks = await stream('outage', 2000, async () => {
      await proxy.stop();
      duringOutage = await call('GET', '/api/chats', { token: ann.token });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await proxy.start();
    });
    expect(duringOutage?.status).toBe(503);
    expect(duringOutage?.headers.get('retry-after')).toBe('1');
    expect(duringOutage?.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(acks).toHaveLength(2000);
    await expectAllStored(acks);
    // Held, not refused: the outage was shorter than the sequencer waits.
    expect(await refusedUnavailable()).toBe(0);
  });

  it('past the time sends are held: refuses them UNAVAILABLE with a wait, and the Sender finishes once it is back', async () => {
    // Connected before: saying hello needs the database too.
    const raw = await rawFrameClient(server.tcpPort);
    await raw.login(ann.token);
    const sender = await connectedSender(server.httpUrl, ann.token);
    await proxy.stop();
    const texts = Array.from({ length: 100 }, (_, i) => `long outage ${i}`);
    const acks: (Ack & { text: string })[] = [];
    const sends = texts.map((text) => sender.send(code, text).then((ack) => void acks.push({ ...ack, text })));
    raw.send({ t: 'send', id: 'during-outage', chat: code, text: 'refused for now' });
    // Longer than the sequencer holds a batch (10 s): its sends are refused, and sent again.
    await waitFor(() => raw.frames.some((f) => f.t === 'error'), 'the refusal', 30_000);
    expect(raw.frames.find((f) => f.t === 'error')).toMatchObject({ id: 'during-outage', code: 'UNAVAILABLE', retryAfterMs: 1000 });
    expect(acks).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await proxy.start();
    await Promise.all(sends);
    sender.close();
    raw.socket.destroy();
    expect(acks.map((a) => a.text)).toEqual(texts);
    await expectAllStored(acks);
    expect(await refusedUnavailable()).toBeGreaterThan(0);
  }, 60_000);
});

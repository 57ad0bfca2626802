import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/client/api.js';
import { defaultServerConfig } from '../src/server/config.js';
import { connectedSender, recordingReceiver, tcpPortOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * History cannot be made to amplify small requests: pages are capped by bytes (and clients
 * page on through short pages), texts are counted in their JSON form, and one user may have
 * only a few history requests being answered at once.
 */

const PAGE_BYTES = 20_000;
const PER_USER = 2;
const COUNT = 30;
const TEXT = 'x'.repeat(2000);

let server: TestServer;
let call: ReturnType<typeof http>;
let ada: Awaited<ReturnType<typeof signUp>>;
let code: string;

beforeAll(async () => {
  server = await startTestServer({
    // Twelve pipelined requests below: more than a connection may have awaiting answers by default.
    limits: { ...defaultServerConfig().limits, historyPageBytes: PAGE_BYTES, historyRequestsPerUser: PER_USER, httpPipelinedRequests: 12 },
  });
  call = http(server.httpUrl);
  ada = await signUp(server.httpUrl, 'Ada');
  code = (await call('POST', '/api/chats', { json: { name: 'Big' }, token: ada.token })).body.code;
  const sender = await connectedSender(server.httpUrl, ada.token);
  await Promise.all(Array.from({ length: COUNT }, (_, i) => sender.send(code, `${i + 1} ${TEXT}`)));
  sender.close();
});
afterAll(async () => {
  await server.dispose();
});

describe('history pages are capped by bytes', () => {
  it('an `after` page stops within the byte cap; paging on from its last message gets the rest, in order', async () => {
    const api = new ApiClient({ baseUrl: server.httpUrl, token: ada.token });
    const first = await call('GET', `/api/chats/${code}/messages?after=0&limit=500`, { token: ada.token });
    expect(first.status).toBe(200);
    expect(first.body.messages.length).toBeGreaterThan(0);
    expect(first.body.messages.length).toBeLessThan(COUNT);
    expect(Buffer.byteLength(JSON.stringify(first.body.messages))).toBeLessThanOrEqual(PAGE_BYTES);
    expect(first.body.latestSeq).toBe(COUNT);

    const seqs: number[] = [];
    let after = 0;
    while (after < COUNT) {
      const page = await api.listMessages(code, { after, limit: 500 });
      seqs.push(...page.messages.map((m) => m.seq));
      after = page.messages.at(-1)!.seq;
    }
    expect(seqs).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
  });

  it('a latest or `before` page keeps the newest messages within the cap', async () => {
    const latest = await call('GET', `/api/chats/${code}/messages?limit=500`, { token: ada.token });
    const seqs = latest.body.messages.map((m: { seq: number }) => m.seq);
    expect(seqs.at(-1)).toBe(COUNT);
    expect(seqs.length).toBeLessThan(COUNT);
    const before = await call('GET', `/api/chats/${code}/messages?before=${seqs[0]}&limit=500`, { token: ada.token });
    expect(before.body.messages.at(-1).seq).toBe(seqs[0] - 1);
  });

  it('a receiver catching up from the start repairs through short pages and delivers everything once, in order', async () => {
    const { receiver, delivered } = await recordingReceiver(server.httpUrl, ada.token);
    await receiver.join(code, { after: 0 });
    await waitFor(() => delivered.length >= COUNT, 'every message');
    expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    receiver.close();
  });
});

describe('texts are counted in their JSON form', () => {
  it('refuses over TCP a text of control characters that fits the UTF-8 limit but is six times larger as JSON', async () => {
    const raw = await rawFrameClient(await tcpPortOf(server.httpUrl));
    await raw.login(ada.token);
    raw.send({ t: 'send', id: 'controls', chat: code, text: '\u0001'.repeat(10_850) });
    expect(await raw.next('error')).toMatchObject({ id: 'controls', code: 'PAYLOAD_TOO_LARGE' });
    raw.send({ t: 'send', id: 'fine', chat: code, text: 'fine' });
    expect(await raw.next('ack')).toMatchObject({ id: 'fine' });
    raw.socket.destroy();
  });
});

describe('history requests per user', () => {
  it('refuses history requests past the per-user limit with 429 and Retry-After while others are being answered; later ones go through', async () => {
    // Twelve requests pipelined in one write reach the server together, so all are being
    // answered at once; each holds its slot until its response is written out.
    const port = Number(new URL(server.httpUrl).port);
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    const request = `GET /api/chats/${code}/messages?after=0&limit=500 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${ada.token}\r\n\r\n`;
    socket.write(request.repeat(12));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    await waitFor(() => (received.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= 12, 'twelve answers');
    const statuses = (received.match(/HTTP\/1\.1 (\d{3})/g) ?? []).map((line) => Number(line.slice(9)));
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(PER_USER);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(received).toMatch(/retry-after: 1\r\n/i);
    socket.destroy();

    // Every slot is given back once its response is out.
    expect((await call('GET', `/api/chats/${code}/messages?limit=1`, { token: ada.token })).status).toBe(200);
  });
});

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Guessing chat codes, on a real server with small limits: unknown codes are counted per user
 * and per address (each test's callers come from loopback addresses of their own), and past
 * the limit joins are refused with 429 and Retry-After, even for codes that exist.
 */

const PER_USER = 4;
const PER_ADDRESS = 6;
const WINDOW_SECONDS = 3;

let server: TestServer;
let call: ReturnType<typeof http>;
let httpPort: number;
let owner: Awaited<ReturnType<typeof signUp>>;
/** A chat Owner created, whose code the guessers never learned. */
let existing: string;

beforeAll(async () => {
  server = await startTestServer({ codeGuessThrottle: { maxFailuresPerUser: PER_USER, maxFailuresPerAddress: PER_ADDRESS, windowSeconds: WINDOW_SECONDS } });
  call = http(server.httpUrl);
  httpPort = Number(new URL(server.httpUrl).port);
  owner = await signUp(server.httpUrl, 'Owner');
  existing = (await call('POST', '/api/chats', { token: owner.token, json: { name: 'Real' } })).body.code;
});
afterAll(async () => {
  await server?.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { code?: string; [key: string]: unknown };
}

/** An API request from a chosen loopback address. */
function from(localAddress: string, token: string, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: httpPort, method, path, localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: text ? JSON.parse(text) : {} });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const join = (address: string, token: string, code: string) => from(address, token, 'POST', `/api/chats/${code}/members`);
/** Codes nobody created (real ones are random: meeting one here is out of the question). */
let made = 0;
const madeUp = () => `ZZZZZ-${String(made++).padStart(5, '0')}`;

function expectRefused(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(answer.body.code).toBe('TOO_MANY_REQUESTS');
  expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  expect(Number(answer.retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);
}

describe('joining by guessed codes', () => {
  it('refuses a user past the limit, for a code that exists too, until the window passes; another user elsewhere is unaffected', async () => {
    const mallory = await signUp(server.httpUrl, 'Mallory');
    const own = (await call('POST', '/api/chats', { token: mallory.token, json: { name: 'Mine' } })).body.code;
    for (let i = 0; i < PER_USER; i++) expect((await join('127.0.0.2', mallory.token, madeUp())).body.code).toBe('CHAT_NOT_FOUND');

    // The next join is refused, whatever the code: a hit would not get through either.
    const refused = await join('127.0.0.2', mallory.token, existing);
    const refusedAt = Date.now();
    expectRefused(refused);
    expectRefused(await join('127.0.0.2', mallory.token, madeUp()));
    // Nor can the other chat endpoints tell an unknown code from a chat Mallory is not in.
    expectRefused(await from('127.0.0.2', mallory.token, 'GET', `/api/chats/${existing}`));
    expectRefused(await from('127.0.0.2', mallory.token, 'GET', `/api/chats/${madeUp()}/messages`));
    // From another address too: the count is the user's.
    expectRefused(await join('127.0.0.9', mallory.token, existing));
    // Mallory's own chat still works.
    expect((await from('127.0.0.2', mallory.token, 'GET', `/api/chats/${own}`)).status).toBe(200);

    // Someone else, from another address, joins at once.
    const bob = await signUp(server.httpUrl, 'Bob');
    expect((await join('127.0.0.3', bob.token, existing)).status).toBe(200);

    // One window after the failures, Mallory may join again (the refused attempts did not count).
    await sleep(refusedAt + Number(refused.retryAfter) * 1000 + 100 - Date.now());
    expect((await join('127.0.0.2', mallory.token, existing)).status).toBe(200);
  });

  it('counts per address, across accounts: a new account at that address is refused, the same account elsewhere is not', async () => {
    const guessers = await Promise.all(['G1', 'G2', 'G3', 'G4'].map((n) => signUp(server.httpUrl, n)));
    // Three accounts, two unknown codes each: under each account's limit, at the address's.
    for (const g of guessers.slice(0, 3)) for (let i = 0; i < 2; i++) expect((await join('127.0.0.4', g.token, madeUp())).status).toBe(404);
    const fresh = guessers[3]!;
    expectRefused(await join('127.0.0.4', fresh.token, existing));
    expect((await join('127.0.0.5', fresh.token, existing)).status).toBe(200);
  });

  it('does not count successful joins, or chats one is not in', async () => {
    const carol = await signUp(server.httpUrl, 'Carol');
    for (let i = 0; i < PER_ADDRESS + 2; i++) {
      const chat = (await call('POST', '/api/chats', { token: owner.token, json: { name: `Open ${i}` } })).body.code;
      expect((await from('127.0.0.6', carol.token, 'GET', `/api/chats/${chat}`)).body.code).toBe('NOT_A_MEMBER');
      expect((await join('127.0.0.6', carol.token, chat)).status).toBe(200);
    }
    // One mistyped code is just that.
    expect((await join('127.0.0.6', carol.token, madeUp())).status).toBe(404);
    expect((await join('127.0.0.6', carol.token, existing)).status).toBe(200);
  });

  it('counts unknown codes sent to over TCP as well, and refuses them there with retryAfterMs', async () => {
    const dave = await signUp(server.httpUrl, 'Dave');
    const c = await rawFrameClient(server.tcpPort, '127.0.0.1', '127.0.0.7');
    await c.login(dave.token);
    for (let i = 0; i < PER_USER; i++) c.send({ t: 'send', id: `guess-${i}`, chat: madeUp(), text: 'anyone there?' });
    // Refusals are not sequenced: they may come back in any order (lookups run concurrently).
    await c.next('error', PER_USER - 1);
    const guesses = c.frames.filter((f) => f.t === 'error').slice(0, PER_USER) as { id?: string; code: string }[];
    expect(guesses.map((f) => f.code)).toEqual(Array(PER_USER).fill('CHAT_NOT_FOUND'));
    expect(guesses.map((f) => f.id).sort()).toEqual(Array.from({ length: PER_USER }, (_, i) => `guess-${i}`).sort());
    c.send({ t: 'send', id: 'probe', chat: existing, text: 'and here?' });
    const refused = await c.next('error', PER_USER);
    expect(refused).toMatchObject({ id: 'probe', code: 'TOO_MANY_REQUESTS' });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(WINDOW_SECONDS * 1000);
    expect(c.isClosed).toBe(false);
    // The same count refuses Dave's joins over HTTP.
    expectRefused(await join('127.0.0.7', dave.token, existing));
    c.socket.destroy();
  });
});

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HASHING } from '../src/server/hash-queue.js';
import { type ThrottlePolicy } from '../src/server/login-throttle.js';
import { signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * Guessing passwords and making accounts from many addresses: every test client binds its own
 * loopback source address (Linux routes all of 127.0.0.0/8 to lo), as an attacker on the same
 * machine, or one with many LAN addresses, could.
 */

interface Answer {
  status: number;
  retryAfter: number;
  body: { code?: string; detail?: string };
}

/** POST `json` to `path` on `httpUrl` from `localAddress`. */
function postFrom(httpUrl: string, localAddress: string, path: string, json: unknown): Promise<Answer> {
  const { hostname, port } = new URL(httpUrl);
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(json);
    const req = request(
      { host: hostname, port, method: 'POST', path, localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 0), body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Small allowances and short waits, so that each can be reached quickly.
const THROTTLE: ThrottlePolicy = {
  freeFailuresPerAddress: 3,
  freeFailuresPerAccount: 5,
  firstDelaySeconds: 1,
  maxAddressDelaySeconds: 4,
  maxAccountDelaySeconds: 2,
  maxUnknownEmailFailuresPerAddress: 5,
  windowSeconds: 600,
  knownAddressSeconds: 3600,
};

describe('password guessing', () => {
  let server: TestServer;
  const login = (from: string, email: string, password: string) => postFrom(server.httpUrl, from, '/api/sessions', { email, password });

  beforeAll(async () => {
    server = await startTestServer({ loginThrottle: THROTTLE });
  });
  afterAll(async () => server.dispose());

  it('from many addresses at one account: past its allowance each guess waits (429, Retry-After), while the owner gets in where they logged in before', async () => {
    const victim = await signUp(server.httpUrl, 'Victim'); // logged in from 127.0.0.1
    const started = performance.now();
    const answers: Answer[] = [];
    for (let n = 0; n < 200; n++) {
      answers.push(await login(`127.1.${n >> 8}.${(n & 255) + 1}`, victim.email, `guess number ${n}`));
      if (n === 100) expect((await login('127.0.0.1', victim.email, victim.password)).status).toBe(201);
    }
    const elapsedSeconds = (performance.now() - started) / 1000;
    const checked = answers.filter((a) => a.status === 401).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(checked + refused.length).toBe(answers.length);
    // The allowance, then at most one guess per first wait (the shortest there is).
    expect(checked).toBeLessThanOrEqual(THROTTLE.freeFailuresPerAccount + Math.floor(elapsedSeconds / THROTTLE.firstDelaySeconds) + 1);
    for (const r of refused) {
      expect(r.body.code).toBe('TOO_MANY_REQUESTS');
      expect(r.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.retryAfter).toBeLessThanOrEqual(THROTTLE.maxAccountDelaySeconds);
    }
    // An address new to the owner waits like any other, but never longer than the account's cap.
    const fresh = await login('127.0.0.9', victim.email, victim.password);
    if (fresh.status === 429) {
      expect(fresh.retryAfter).toBeLessThanOrEqual(THROTTLE.maxAccountDelaySeconds);
      await new Promise((resolve) => setTimeout(resolve, fresh.retryAfter * 1000));
      expect((await login('127.0.0.9', victim.email, victim.password)).status).toBe(201);
    } else {
      expect(fresh.status).toBe(201);
    }
  });

  it('for made-up emails from the owner’s own address refuses only made-up emails: the right password still gets in from there', async () => {
    const owner = await signUp(server.httpUrl, 'Sharer');
    const shared = '127.0.3.1';
    let last: Answer | undefined;
    for (let i = 0; i <= THROTTLE.maxUnknownEmailFailuresPerAddress; i++) {
      last = await login(shared, `made-up-${i}@example.test`, 'some guess or other');
    }
    expect(last?.status).toBe(429);
    expect(last?.retryAfter).toBeGreaterThan(0);
    expect((await login(shared, owner.email, owner.password)).status).toBe(201);
  });

  it('from one address at one account: the wait grows, and ends within the cap once the guessing stops', async () => {
    const owner = await signUp(server.httpUrl, 'Hammered');
    const from = '127.0.4.1';
    for (let i = 0; i < THROTTLE.freeFailuresPerAddress; i++) expect((await login(from, owner.email, `guess ${i}`)).status).toBe(401);
    const refused = await login(from, owner.email, owner.password);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfter).toBeLessThanOrEqual(THROTTLE.maxAddressDelaySeconds);
    // Other accounts at that address are not refused for it.
    const other = await signUp(server.httpUrl, 'Neighbour');
    expect((await login(from, other.email, other.password)).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfter * 1000 + 50));
    expect((await login(from, owner.email, owner.password)).status).toBe(201);
  });
});

describe('registration floods', () => {
  it('past the limit per address, refuses with 429 and Retry-After; another address may still register', async () => {
    const server = await startTestServer({ registrationThrottle: { maxPerAddress: 3, windowSeconds: 600 } });
    try {
      const register = (from: string, i: number) =>
        postFrom(server.httpUrl, from, '/api/users', { name: `Flood ${i}`, email: `flood${i}@example.test`, password: 'correct horse battery' });
      const answers: Answer[] = [];
      for (let i = 0; i < 6; i++) answers.push(await register('127.0.5.1', i));
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 429, 429, 429]);
      expect(answers[3]?.body.code).toBe('TOO_MANY_REQUESTS');
      expect(answers[3]?.retryAfter).toBeGreaterThan(0);
      expect(answers[3]?.retryAfter).toBeLessThanOrEqual(600);
      expect((await register('127.0.5.2', 99)).status).toBe(201);
    } finally {
      await server.dispose();
    }
  });

  it('with the password-hashing queue full, answers 429 with Retry-After at once instead of queueing without bound', async () => {
    const server = await startTestServer({ passwordHashing: { ...DEFAULT_HASHING, maxConcurrent: 1, maxWaitingRegistrations: 1 } });
    try {
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          postFrom(server.httpUrl, `127.0.6.${i + 1}`, '/api/users', { name: `Burst ${i}`, email: `burst${i}@example.test`, password: 'correct horse battery' }),
        ),
      );
      const made = answers.filter((a) => a.status === 201);
      const busy = answers.filter((a) => a.status === 429);
      expect(made.length + busy.length).toBe(answers.length);
      expect(made.length).toBeGreaterThanOrEqual(2);
      expect(busy.length).toBeGreaterThan(0);
      for (const b of busy) {
        expect(b.body.code).toBe('TOO_MANY_REQUESTS');
        expect(b.retryAfter).toBe(1);
      }
      // Once the burst has passed, registration works again.
      expect((await postFrom(server.httpUrl, '127.0.6.200', '/api/users', { name: 'Later', email: 'later@example.test', password: 'correct horse battery' })).status).toBe(201);
    } finally {
      await server.dispose();
    }
  });
});

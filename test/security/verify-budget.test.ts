import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Receiver } from '../../src/client/receiver.js';
import type { ChatMessage } from '../../src/client/receiver.js';
import { newSigningKeyPair } from '../../src/protocol/crypto.js';
import { encodeHeartbeat } from '../../src/protocol/datagram.js';
import { connectedSender, httpSource, serverKeyOf, waitFor } from '../support/messaging.js';
import { http, signUp, startTestServer, type TestServer } from '../support/server.js';

/**
 * Forged datagrams that pass every check but the signature (the right header, the chat's
 * stream id, its epoch, a random signature) cost a receiver one Ed25519 check each: a flood of
 * them took a core. The receiver checks at most a budget per chat and drops the rest unchecked;
 * what genuine datagrams were dropped with them is fetched from history. On loopback, bounded
 * in count, while a member talks.
 */

const FORGED = 15_000;
const MESSAGES = 100;
const BUDGET = { perSecond: 200, burst: 50 };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
});

/** Sends `count` datagrams made by `make` to the group over loopback, yielding every 100. */
async function flood(group: string, port: number, count: number, make: () => Buffer): Promise<void> {
  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setMulticastInterface('127.0.0.1');
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  for (let sent = 1; sent <= count; sent++) {
    await new Promise<void>((resolve) => socket.send(make(), port, group, () => resolve()));
    if (sent % 100 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

describe('the receiver under a flood of forged datagrams', () => {
  it('checks at most its budget of signatures, and still delivers every message once, in order', async () => {
    const call = http(server.httpUrl);
    const alice = await signUp(server.httpUrl, 'Alice');
    const bob = await signUp(server.httpUrl, 'Bob');
    const chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Flooded' } })).body;
    expect((await call('POST', `/api/chats/${chat.code}/members`, { token: bob.token })).status).toBe(200);

    const receiver = new Receiver({ source: httpSource(server.httpUrl, bob.token), serverKey: await serverKeyOf(server.httpUrl), interfaceAddress: '127.0.0.1', verifyBudget: BUDGET });
    const delivered: ChatMessage[] = [];
    receiver.onMessage((m) => delivered.push(m));
    const sender = await connectedSender(server.httpUrl, alice.token);
    const started = performance.now();
    try {
      await receiver.join(chat.code, { after: 0 });
      const { group, port, streamId: stream, keyEpoch: epoch } = chat.multicast;
      const attacker = newSigningKeyPair().privateKey;
      // A heartbeat as the server would send it, claiming more messages than there are, its signature replaced by random bytes.
      const forged = () => {
        const d = encodeHeartbeat({ stream, epoch, latestSeq: MESSAGES + 1 + Math.floor(Math.random() * 1000) }, attacker);
        randomBytes(64).copy(d, d.length - 64);
        return d;
      };
      const flooding = flood(group, port, FORGED, forged);
      for (let i = 1; i <= MESSAGES; i++) {
        await sender.send(chat.code, `message ${i}`);
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await flooding;
      await waitFor(() => delivered.length >= MESSAGES, 'every message', 30_000);
      // Anything late (a repair, a duplicate) has time to show.
      await new Promise((r) => setTimeout(r, 300));
      const elapsedSeconds = (performance.now() - started) / 1000;

      expect(delivered.map((m) => [m.seq, m.text])).toEqual(Array.from({ length: MESSAGES }, (_, i) => [i + 1, `message ${i + 1}`]));
      expect(receiver.drops['over-budget']).toBeGreaterThan(0);
      // Every check made, genuine or forged, came out of the budget.
      expect(receiver.drops['bad-signature']).toBeLessThanOrEqual(BUDGET.burst + BUDGET.perSecond * elapsedSeconds);
      expect(receiver.drops['bad-signature']).toBeGreaterThan(0);
      console.info('verify budget:', { elapsedSeconds: elapsedSeconds.toFixed(1), ...receiver.drops, ...receiver.counts });
    } finally {
      receiver.close();
      sender.close();
    }
  }, 90_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sender } from '../src/client/sender.js';
import { Sequencer, type Submission } from '../src/server/sequencer.js';
import { Store } from '../src/server/store/store.js';
import { databaseFor, forgetDatabaseOf } from './support/engine.js';
import { tcpPortOf } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer } from './support/server.js';

/**
 * Finding 9.2: one sender's bad message must never fail another's. On PostgreSQL a text with
 * U+0000 failed the whole group commit, and every sender in it was answered INTERNAL.
 */

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('a message the store refuses, in a batch of good ones', () => {
  it('fails alone: the others are committed, in order, and stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-batch-'));
    const store = await Store.open(await databaseFor(dir));
    cleanups.push(async () => {
      await store.close();
      await forgetDatabaseOf(dir);
      rmSync(dir, { recursive: true, force: true });
    });
    const ann = (await store.users.insert({ name: 'Ann', email: 'ann@example.test', passwordHash: 'h', createdAt: 1 })).id;
    await store.chats.insertWithCreator({ code: 'BATCHBATCH', name: 'Batch', created_by: ann, created_at: 1, multicast_group: '239.255.9.9', multicast_port: 40999, stream_id: 'ab'.repeat(10) });
    const sequencer = new Sequencer(store);

    // The seam: a sender the database does not know breaks a foreign key, on either engine, at
    // the INSERT that carries the whole batch.
    const submission = (i: number): Submission => ({ chatCode: 'BATCHBATCH', senderId: i === 13 ? 999_999 : ann, senderName: 'Ann', clientMsgId: `m${i}`, text: `message ${i}`, sentAt: 1000 + i });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => sequencer.submit(submission(i))));

    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 30 }, (_, i) => (i === 13 ? 'rejected' : 'fulfilled')));
    const stored = await store.messages.page('BATCHBATCH', { after: 0, limit: 100 });
    expect(stored.map((m) => m.text)).toEqual(Array.from({ length: 30 }, (_, i) => `message ${i}`).filter((_, i) => i !== 13));
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []))).toEqual(stored.map((m) => m.seq));
  });
});

describe('a text with U+0000 over TCP', () => {
  it("is refused INVALID_FIELD on its own, and every other sender's pipelined messages are acknowledged and stored", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.dispose());
    const [alice, mallory] = await Promise.all([signUp(server.httpUrl, 'Alice'), signUp(server.httpUrl, 'Mallory')]);
    const call = http(server.httpUrl);
    const mine = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Mine' } })).body.code as string;
    const theirs = (await call('POST', '/api/chats', { token: mallory.token, json: { name: 'Theirs' } })).body.code as string;

    const attacker = await rawFrameClient(server.tcpPort);
    await attacker.login(mallory.token);
    const sender = new Sender({ host: '127.0.0.1', port: await tcpPortOf(server.httpUrl), token: alice.token });
    await sender.connect();
    const count = 300;
    const sends = Array.from({ length: count }, (_, i) => {
      // Interleaved, so that NULs land in the same group commits as Alice's messages.
      if (i % 10 === 0) attacker.send({ t: 'send', id: `nul${i}`, chat: theirs, text: `\u0000 ${i}` });
      return sender.send(mine, `hello ${i}`);
    });
    const acks = await Promise.all(sends);
    sender.close();

    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const refusal = await attacker.next('error', count / 10 - 1);
    expect(refusal).toMatchObject({ code: 'INVALID_FIELD', message: expect.stringContaining('U+0000') });
    expect(attacker.frames.filter((f) => f.t === 'error').every((f) => f.t === 'error' && f.code === 'INVALID_FIELD')).toBe(true);
    expect(attacker.isClosed).toBe(false);
    attacker.socket.destroy();

    const history = await call('GET', `/api/chats/${mine}/messages?after=0&limit=500`, { token: alice.token });
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(Array.from({ length: count }, (_, i) => `hello ${i}`));
    expect((await call('GET', `/api/chats/${theirs}/messages?after=0`, { token: mallory.token })).body.messages).toEqual([]);
  });
});

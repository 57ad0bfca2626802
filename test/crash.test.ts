// The server killed with SIGKILL under load, and restarted: nothing acknowledged is lost, the
// log stays 1..N without hole or duplicate, the sender's resends are stored once, and a receiver
// that kept running catches up across the new key epoch the restart begins.
//
// The server is a child process (`chorus server` from the TypeScript source) so that SIGKILL is
// real: no close(), no last commit, no flush. It runs on loopback with fixed ports and a fixed
// data folder, so that the restarted server is the same server to its clients.

import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/client/receiver.js';
import { type Ack, Sender } from '../src/client/sender.js';
import pg from 'pg';
import type { DatabaseTarget } from '../src/server/store/database.js';
import { recordingReceiver, waitFor } from './support/messaging.js';
import { databaseFor, postgresUrlOf } from './support/engine.js';
import { http, signUp } from './support/server.js';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
/** Messages sent before the kill (pipelined), and after the restart. */
const BEFORE = 4000;
const AFTER = 300;
/** The kill comes once this many are acknowledged: well into the burst, far from its end. */
const KILL_AFTER_ACKS = 800;

const textOf = (id: string): string => `crash drill ${id}`;

/** `promise`, or a rejection naming `what` and the state `detail()` reports after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string, detail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} (${detail()})`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free TCP port on loopback (bound, read, released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

/** The environment of the server: no CHORUS_* settings leaking in from the developer's shell. */
function childEnv(database: DatabaseTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_')) delete env[key];
  // On the postgres project, the data folder's own database, as `--database-url` would name it.
  if (database.engine === 'postgres') env.CHORUS_DATABASE_URL = database.url;
  return env;
}

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `chorus server` on the given data folder and ports, with no per-user message rate (one
 * sender pushes thousands of messages: this is about durability, not the abuse limit); resolves
 * once it listens.
 */
async function startServerProcess(dataDir: string, httpPort: number, tcpPort: number): Promise<ServerProcess> {
  const database = await databaseFor(dataDir);
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', MAIN, 'server',
      '--data', dataDir,
      '--http-port', String(httpPort),
      '--tcp-port', String(tcpPort),
      '--message-rate', '0',
      '--log-level', 'warn',
    ],
    { cwd: ROOT, env: childEnv(database), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const server = { child, exited };
  started.push(server); // for afterAll, ready or not
  await new Promise<void>((ready, fail) => {
    const since = Date.now();
    const poll = setInterval(() => {
      if (stdout.includes(`listening on http://127.0.0.1:${httpPort} (HTTP API)`)) {
        clearInterval(poll);
        ready();
      } else if (Date.now() - since > 30_000) {
        clearInterval(poll);
        fail(new Error(`server not ready after 30 s; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    }, 20);
    void exited.then(({ code, signal }) => {
      clearInterval(poll);
      fail(new Error(`server exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
  return server;
}

/** Every server process this file started: afterAll stops those still running, by handle. */
const started: ServerProcess[] = [];

type LogRow = { seq: number; client_msg_id: string; text: string };

/** Reads a chat's log straight from the database, as a crash left it. */
async function logOnDisk(dataDir: string, scratchDir: string, chatCode: string): Promise<LogRow[]> {
  const database = await databaseFor(dataDir);
  const code = chatCode.replace('-', '');
  if (database.engine === 'postgres') {
    const name = new URL(database.url).pathname.slice(1);
    const rows = await adminQueryOn(name, 'SELECT seq, client_msg_id, text FROM messages WHERE chat_code = $1 ORDER BY seq', [code]);
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }
  const file = database.file;
  const copyDir = join(scratchDir, 'at-kill');
  mkdirSync(copyDir, { recursive: true });
  // A copy, so that the restarted server, not this reader, recovers the real files' WAL.
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) copyFileSync(file + suffix, join(copyDir, basename(file) + suffix));
  }
  const db = new Database(join(copyDir, basename(file)));
  try {
    return db.prepare('SELECT seq, client_msg_id, text FROM messages WHERE chat_code = ? ORDER BY seq').all(code) as LogRow[];
  } finally {
    db.close();
  }
}

async function adminQueryOn(database: string, text: string, values: unknown[]): Promise<LogRow[]> {
  const client = new pg.Client({ connectionString: postgresUrlOf(database) });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as LogRow[];
  } finally {
    await client.end();
  }
}

describe('a server killed with SIGKILL under load, then restarted', { timeout: 90_000 }, () => {
  let scratch: string;
  let dataDir: string;
  let httpPort: number;
  let tcpPort: number;
  let url: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'chorus-crash-'));
    dataDir = join(scratch, 'data');
    httpPort = await freePort();
    tcpPort = await freePort();
    url = `http://127.0.0.1:${httpPort}`;
  });

  afterAll(async () => {
    // Only the servers this test started, by their handles.
    for (const s of started) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await Promise.race([s.exited, new Promise((r) => setTimeout(r, 5000))]);
        if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
      }
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it('keeps every acknowledged message, stores each resend once, and the receiver catches up', async () => {
    const first = await startServerProcess(dataDir, httpPort, tcpPort);
    const call = http(url);
    const alice = await signUp(url, 'Alice');
    const bob = await signUp(url, 'Bob');
    const chat = (await call('POST', '/api/chats', { token: alice.token, json: { name: 'Crash drill' } })).body as {
      code: string;
      multicast: { keyEpoch: number };
    };
    expect((await call('POST', `/api/chats/${chat.code}/members`, { token: bob.token })).status).toBe(200);

    const { receiver, delivered } = await recordingReceiver(url, bob.token);
    await receiver.join(chat.code, { after: 0 });

    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token: alice.token, maxBackoffMs: 500 });
    await sender.connect();
    const states: string[] = [];
    sender.onStateChange((state) => states.push(state));

    try {
      // The burst: every message at once; the Sender keeps its window in flight.
      const acks = new Map<string, Ack>();
      const ids = Array.from({ length: BEFORE }, (_, i) => `before-${i}`);
      const sent = Promise.all(ids.map((id) => sender.send(chat.code, textOf(id), id).then((ack) => void acks.set(id, ack))));
      sent.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
      await waitFor(() => acks.size >= KILL_AFTER_ACKS, `${KILL_AFTER_ACKS} acks`, 30_000);

      first.child.kill('SIGKILL');
      // What the client knew to be committed at the moment of the kill.
      const ackedAtKill = new Map(acks);
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(ackedAtKill.size).toBeLessThan(BEFORE);
      expect(sender.pending, 'messages still unacknowledged when the server died').toBeGreaterThan(0);

      // The log on disk as the crash left it: 1..C without a hole, holding every acked message.
      const atKill = await logOnDisk(dataDir, scratch, chat.code);
      expect(atKill.map((r) => r.seq)).toEqual(Array.from({ length: atKill.length }, (_, i) => i + 1));
      for (const [id, ack] of ackedAtKill) {
        expect(atKill[ack.seq - 1], `acked ${id} (seq ${ack.seq}) on disk`).toMatchObject({ client_msg_id: id, text: textOf(id) });
      }
      // Committed but not acknowledged to the client: the sender will resend these.
      const committedUnacked = atKill.filter((r) => !ackedAtKill.has(r.client_msg_id));

      await startServerProcess(dataDir, httpPort, tcpPort);
      // The Sender reconnects by itself and resends what was unacknowledged.
      const senderState = () => `${acks.size} acked, ${sender.pending} pending, sender ${sender.connectionState}, states ${states.join(' ')}`;
      await within(sent, 30_000, 'every message of the burst to be acknowledged', senderState);
      expect(states).toContain('disconnected');
      expect(states.at(-1)).toBe('connected');
      expect(acks.size).toBe(BEFORE);

      // After the restart: a new key epoch, and more messages under it.
      const info = (await call('GET', `/api/chats/${chat.code}`, { token: bob.token })).body as { multicast: { keyEpoch: number } };
      expect(info.multicast.keyEpoch).toBeGreaterThan(chat.multicast.keyEpoch);
      const afterIds = Array.from({ length: AFTER }, (_, i) => `after-${i}`);
      const afterAcks = await within(Promise.all(afterIds.map((id) => sender.send(chat.code, textOf(id), id))), 30_000, 'the acks after the restart', senderState);
      for (const ack of afterAcks) acks.set(ack.id, ack);

      // A client resending, after the restart, messages acknowledged before the kill: the server
      // recognises them from its log (not from memory, which the kill erased).
      const again = new Sender({ host: '127.0.0.1', port: tcpPort, token: alice.token });
      await again.connect();
      const resent = [...ackedAtKill.entries()].slice(0, 5);
      const resentAcks = await Promise.all(resent.map(([id]) => again.send(chat.code, textOf(id), id)));
      again.close();
      expect(resentAcks.map((a) => a.seq)).toEqual(resent.map(([, ack]) => ack.seq));

      // The log, read back through the API: exactly 1..N, every message once.
      const total = BEFORE + AFTER;
      const history: ChatMessage[] = [];
      for (;;) {
        const page = (await call('GET', `/api/chats/${chat.code}/messages?after=${history.length}&limit=500`, { token: bob.token }))
          .body as { messages: ChatMessage[]; latestSeq: number };
        if (page.messages.length === 0) break;
        history.push(...page.messages);
      }
      expect(history.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(new Set(history.map((m) => m.clientMsgId)).size).toBe(total);
      for (const [id, ack] of acks) {
        expect(history[ack.seq - 1], `${id} at its acked seq ${ack.seq}`).toMatchObject({ clientMsgId: id, text: textOf(id) });
      }
      for (const [id, ack] of ackedAtKill) expect(acks.get(id)?.seq).toBe(ack.seq);
      // What was committed but unacknowledged at the kill kept its sequence number when resent.
      for (const row of committedUnacked) expect(acks.get(row.client_msg_id)?.seq).toBe(row.seq);

      // The receiver, running all along, delivered 1..N in order exactly once.
      await waitFor(() => delivered.length >= total, `${total} messages at the receiver`, 30_000);
      expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      delivered.forEach((m, i) => expect(m.text).toBe(history[i]!.text));
      // It saw datagrams under the new epoch before it had the key, and held them for it ...
      expect(receiver.counts.heldForKey).toBeGreaterThan(0);
      expect(receiver.drops['bad-signature']).toBe(0);
      // ... and then fetched the key: a message now arrives by multicast, not by repair.
      const repairedBefore = receiver.counts.repairedMessages;
      const last = await sender.send(chat.code, textOf('last'), 'last');
      expect(last.seq).toBe(total + 1);
      await waitFor(() => delivered.length >= total + 1, 'the last message', 10_000);
      expect(delivered.at(-1)).toMatchObject({ seq: total + 1, text: textOf('last') });
      expect(receiver.counts.repairedMessages).toBe(repairedBefore);
      await new Promise((r) => setTimeout(r, 300));
      expect(delivered).toHaveLength(total + 1);
    } finally {
      sender.close();
      receiver.close();
    }
  });
});

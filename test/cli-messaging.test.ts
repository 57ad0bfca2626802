import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type Socket, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../src/protocol/frames.js';
import { CHAT_CODE, type Running, as, chorus, deadPort, failureLine, registerProfile, startChorus } from './support/cli.js';
import { type TestServer, startTestServer } from './support/server.js';

/**
 * `chorus send`, `tail` and `chat` driven as a user would: each a child process with its own
 * profile, against a real server on loopback, messages coming back through real multicast.
 */

interface Delivered {
  chat: string;
  seq: number;
  sender: { id: number; name: string };
  text: string;
  sentAt: string;
}

let scratch: string;
let server: TestServer;
let ada: string;
let bob: string;
let carol: string;
let code = '';
const started: Running[] = [];

/** `[2026-11-24 10:31]` for a sentAt, as the children print it (their TZ is UTC). */
const minute = (sentAt: string) => `[${sentAt.slice(0, 16).replace('T', ' ')}]`;
const profileOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'));

async function history(profile: string, limit: number): Promise<Delivered[]> {
  const run = await chorus(as(profile, 'history', code, '--limit', String(limit), '--json'));
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

function running(args: string[]): Running {
  const r = startChorus(args);
  started.push(r);
  return r;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-messaging-'));
  server = await startTestServer();
  [ada, bob, carol] = ['ada', 'bob', 'carol'].map((name) => join(scratch, name)) as [string, string, string];
  await Promise.all([registerProfile(ada, server.httpUrl, 'Ada'), registerProfile(bob, server.httpUrl, 'Bob'), registerProfile(carol, server.httpUrl, 'Carol')]);
  const created = await chorus(as(ada, 'create', 'Team room'));
  code = CHAT_CODE.exec(created.stdout)?.[1] ?? '';
  expect(code).not.toBe('');
  expect((await chorus(as(bob, 'join', code))).code).toBe(0);
});

afterAll(async () => {
  for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus send', { timeout: 60_000 }, () => {
  it('prints the sequence number once acknowledged; --json gives exactly {chat, seq, sentAt}', async () => {
    const run = await chorus(as(ada, 'send', code, 'first message'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Sent to ${code} as #1.\n`);

    const json = await chorus(as(ada, 'send', code.toLowerCase(), 'second message', '--json'));
    expect(json.code).toBe(0);
    const ack = JSON.parse(json.stdout);
    expect(Object.keys(ack)).toEqual(['chat', 'seq', 'sentAt']);
    expect(ack).toEqual({ chat: code, seq: 2, sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });

    const stored = await history(bob, 2);
    expect(stored.map((m) => [m.seq, m.text, m.sender.name])).toEqual([
      [1, 'first message', 'Ada'],
      [2, 'second message', 'Ada'],
    ]);
    expect(stored[1]!.sentAt).toBe(ack.sentAt);
  });

  it("one's own messages are not unread; sending does not pass over others' messages not read yet", async () => {
    const unreadOf = async (profile: string) => {
      const chats = JSON.parse((await chorus(as(profile, 'chats', '--json'))).stdout) as { code: string; unreadCount: number }[];
      const table = (await chorus(as(profile, 'chats'))).stdout;
      const unread = chats.find((c) => c.code === code)!.unreadCount;
      expect(table).toMatch(new RegExp(`^${code} .* ${unread}$`, 'm'));
      return unread;
    };
    expect((await chorus(as(bob, 'read', code))).code).toBe(0);
    expect(await unreadOf(bob)).toBe(0);
    expect((await chorus(as(bob, 'send', code, 'my own words'))).code).toBe(0);
    expect(await unreadOf(bob)).toBe(0);
    expect((await chorus(as(bob, 'send', code, 'more of mine', 'in words'))).code).toBe(0);
    expect((await history(ada, 1))[0]!.text).toBe('more of mine in words');
    expect(await unreadOf(bob)).toBe(0);

    expect((await chorus(as(ada, 'send', code, 'Bob has not read this'))).code).toBe(0);
    expect((await chorus(as(bob, 'send', code, 'answering before reading'))).code).toBe(0);
    // Ada's message waits unread; Bob's answer after it is his own, and is not.
    expect(await unreadOf(bob)).toBe(1);
  });

  it('--stdin sends one message per line, all acknowledged, in order, with consecutive sequence numbers', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1} of the batch`);
    const before = (await history(ada, 1))[0]!.seq;
    const run = await chorus(as(ada, 'send', code, '--stdin'), { input: `${lines.join('\n')}\n` });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Sent 40 messages to ${code}.\n`);

    const stored = await history(bob, 40);
    expect(stored.map((m) => m.text)).toEqual(lines);
    expect(stored.map((m) => m.seq)).toEqual(lines.map((_, i) => before + 1 + i));
  });

  it('--stdin: lines may end in \\r\\n, and a last line of 32 MiB with no newline is refused by its size alone', async () => {
    const before = (await history(ada, 1))[0]!.seq;
    const run = await chorus(as(ada, 'send', code, '--stdin', '--json'), { input: `windows one\r\nwindows two\r\n${'z'.repeat(32 << 20)}` });
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd()).toBe(`chorus: line 3: a message may be at most 16 KiB of UTF-8 (this one is ${32 << 20} bytes)`);
    expect(JSON.parse(run.stdout)).toMatchObject({ sent: 2, refused: [{ line: 3 }] });
    expect((await history(bob, 2)).map((m) => [m.seq, m.text])).toEqual([
      [before + 1, 'windows one'],
      [before + 2, 'windows two'],
    ]);
  });

  it('--stdin with refused lines: names each on stderr, exits 1, and still stores every other line; skips lines that show nothing', async () => {
    const before = (await history(ada, 1))[0]!.seq;
    const tooLong = 'x'.repeat(20_000);
    // Under 16 KiB of text, but six bytes each once escaped in JSON: past the JSON-form limit.
    const controls = '\u0001'.repeat(12_000);
    const input = ['kept one', tooLong, 'kept two', controls, '', ' \t\u3164\u200b', 'kept three'].join('\n') + '\n';
    const run = await chorus(as(ada, 'send', code, '--stdin', '--json'), { input });
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'chorus: line 2: a message may be at most 16 KiB of UTF-8 (this one is 20000 bytes)',
      'chorus: line 4: a message may be at most 32 KiB as JSON, where each control character takes 6 bytes (this one is 72000 bytes)',
    ]);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ chat: code, sent: 3, refused: [{ line: 2 }, { line: 4 }] });
    expect(result.acks.map((a: { line: number; seq: number }) => [a.line, a.seq])).toEqual([
      [1, before + 1],
      [3, before + 2],
      [7, before + 3],
    ]);

    const stored = await history(bob, 3);
    expect(stored.map((m) => [m.seq, m.text])).toEqual([
      [before + 1, 'kept one'],
      [before + 2, 'kept two'],
      [before + 3, 'kept three'],
    ]);
  });

  it('refuses with one clear line: not a member, unknown chat, empty or invisible text, not logged in, server unreachable', async () => {
    const notMember = await chorus(as(carol, 'send', code, 'let me in'));
    expect(notMember.code).toBe(1);
    expect(failureLine(notMember)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${carol} join ${code}`);

    const unknown = await chorus(as(ada, 'send', 'ABCDE-12345', 'anyone?'));
    expect(unknown.code).toBe(1);
    expect(failureLine(unknown)).toBe('chorus: no chat with code ABCDE-12345');

    const empty = await chorus(as(ada, 'send', code, ''));
    expect(empty.code).toBe(1);
    expect(failureLine(empty)).toBe('chorus: a message must not be empty');

    const invisible = await chorus(as(ada, 'send', code, '\u3164\u200b '));
    expect(invisible.code).toBe(1);
    expect(failureLine(invisible)).toBe('chorus: a message must not be empty: it holds only spaces or invisible characters');

    const loggedOut = join(scratch, 'logged-out');
    mkdirSync(loggedOut, { mode: 0o700 });
    writeFileSync(join(loggedOut, 'profile.json'), JSON.stringify({ server: server.httpUrl }), { mode: 0o600 });
    const notLoggedIn = await chorus(as(loggedOut, 'send', code, 'hello'));
    expect(notLoggedIn.code).toBe(1);
    expect(failureLine(notLoggedIn)).toBe(`chorus: not logged in: run chorus --profile ${loggedOut} login --email EMAIL, or chorus --profile ${loggedOut} register to make an account`);

    const stranded = join(scratch, 'stranded');
    mkdirSync(stranded, { mode: 0o700 });
    const url = `http://127.0.0.1:${await deadPort()}`;
    writeFileSync(join(stranded, 'profile.json'), JSON.stringify({ ...profileOf(ada), server: url }), { mode: 0o600 });
    const unreachable = await chorus(as(stranded, 'send', code, 'hello'));
    expect(unreachable.code).toBe(1);
    expect(failureLine(unreachable)).toBe(
      `chorus: cannot reach the server at ${url} (connection refused): is a Chorus server running there? Start one with chorus server (or chorus --profile ${stranded} up), or give --server URL`,
    );

    const both = await chorus(as(ada, 'send', code, 'text', '--stdin'));
    expect(both.code).toBe(2);
    expect(failureLine(both)).toBe('chorus: give the message as TEXT or with --stdin, not both');
  });
});

describe('chorus send --stdin, against a stub server that acknowledges nothing until every line has arrived', { timeout: 60_000 }, () => {
  const CHAT = 'AAAAA-BBBBB';
  const LINES = 8;
  const received: { id: string; text: string }[] = [];
  /** The read positions the command set (PUT …/read). */
  const readPuts: number[] = [];
  /** The next `send` frame ends its connection instead (and is not received). */
  let cutAtNextSend = false;
  let http: ReturnType<typeof createHttpServer>;
  let ingest: ReturnType<typeof createTcpServer>;
  let profile: string;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    ingest = createTcpServer((socket) => {
      sockets.add(socket);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.t === 'hello') socket.write(encodeFrame({ t: 'welcome', v: 1, userId: 1 }));
          if (frame.t !== 'send') continue;
          if (cutAtNextSend) {
            cutAtNextSend = false;
            return void socket.destroy();
          }
          received.push({ id: frame.id, text: frame.text });
          // A sender that waited for each ack before the next send would wait for ever here.
          if (received.length < LINES) continue;
          received.forEach(({ id }, i) => socket.write(encodeFrame({ t: 'ack', id, chat: CHAT, seq: 100 + i, sentAt: new Date().toISOString() })));
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((done) => ingest.listen(0, '127.0.0.1', done));
    const tcpPort = (ingest.address() as { port: number }).port;
    const key = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
    const answers: Record<string, unknown> = {
      '/api/server-key': { algorithm: 'Ed25519', publicKey: key, fingerprint: 'f'.repeat(64) },
      '/api/server': { protocolVersion: 1, tcpPort },
      '/api/me': { id: 1, name: 'Stub', email: 'stub@example.com' },
      [`/api/chats/${CHAT}/messages?limit=1`]: { messages: [], latestSeq: 99 },
      [`/api/chats/${CHAT}/members`]: { members: [] },
      [`/api/chats/${CHAT}`]: { code: CHAT, name: 'Stub', createdAt: new Date().toISOString(), createdBy: 1, latestSeq: 99, memberCount: 1, readSeq: 99, unreadCount: 0,
        multicast: { group: '239.255.201.7', port: 24987, streamId: 'ab'.repeat(10), keyEpoch: 1, key: Buffer.alloc(32).toString('base64') } },
    };
    http = createHttpServer((req, res) => {
      if (req.method === 'PUT' && req.url === `/api/chats/${CHAT}/read`) {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk));
        req.on('end', () => {
          readPuts.push(JSON.parse(body).seq as number);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: readPuts.at(-1) }));
        });
        return;
      }
      const body = answers[req.url ?? ''];
      if (body === undefined) res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: 'NOT_FOUND', detail: 'no' }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
    profile = join(scratch, 'stub-profile');
    mkdirSync(profile, { mode: 0o700 });
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    writeFileSync(join(profile, 'profile.json'), JSON.stringify({ server: url, token: 'stub-token', serverKey: key }), { mode: 0o600 });
  });

  afterAll(async () => {
    http.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((done) => http.close(() => done()));
    await new Promise<void>((done) => ingest.close(() => done()));
  });

  it('sends every line without waiting for acks, then reports them all', async () => {
    const lines = Array.from({ length: LINES }, (_, i) => `pipelined ${i + 1}`);
    const send = running(as(profile, 'send', CHAT, '--stdin', '--json'));
    send.child.stdin!.end(`${lines.join('\n')}\n`);
    const run = await send.result;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(received.map((r) => r.text)).toEqual(lines);
    const result = JSON.parse(run.stdout);
    expect(result.sent).toBe(LINES);
    expect(result.acks.map((a: { line: number; seq: number }) => [a.line, a.seq])).toEqual(lines.map((_, i) => [i + 1, 100 + i]));
    // Everything before was read (readSeq 99 of 99), so writing these means having read up to the last.
    expect(readPuts).toEqual([100 + LINES - 1]);
  });

  it('says on stderr when the connection is lost and when it is back; every line still goes, once', async () => {
    received.length = 0;
    cutAtNextSend = true;
    const lines = Array.from({ length: LINES }, (_, i) => `through a cut ${i + 1}`);
    const send = running(as(profile, 'send', CHAT, '--stdin', '--json'));
    send.child.stdin!.end(`${lines.join('\n')}\n`);
    const run = await send.result;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('  … connection to the server lost; reconnecting\n  … reconnected\n');
    expect(received.map((r) => r.text)).toEqual(lines);
    expect(JSON.parse(run.stdout).sent).toBe(LINES);
  });

  it('chat: a line never acknowledged is shown again on leaving, and the command fails (exit 1)', async () => {
    received.length = 0; // one line is fewer than the stub waits for: it is never acknowledged
    const run = await chorus(as(profile, 'chat', CHAT, '--history', '0'), { input: 'never answered \u001b[31m\n' });
    expect(received.map((r) => r.text)).toEqual(['never answered \u001b[31m']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('  not acknowledged: never answered \uFFFD[31m\n');
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('chorus: 1 message above not acknowledged by the server, so perhaps not sent: send it again once the server answers');
  });
});

describe('chorus tail', { timeout: 60_000 }, () => {
  it('--json from another profile: the last N first, then each new message exactly once, in order, in the exact shape', async () => {
    const earlier = await history(bob, 3);
    const tail = running(as(bob, 'tail', code, '--json', '--history', '3'));
    await tail.waitFor(`Following "Team room" (${code})`, 'stderr');

    const texts = Array.from({ length: 25 }, (_, i) => `live ${i + 1}`);
    const piped = await chorus(as(ada, 'send', code, '--stdin'), { input: `${texts.slice(0, 24).join('\n')}\n` });
    expect(piped.code).toBe(0);
    const single = await chorus(as(ada, 'send', code, texts[24]!, '--json'));
    const lastAck = JSON.parse(single.stdout);

    await tail.waitFor(new RegExp(`"seq":${lastAck.seq},`));
    // Heartbeats follow activity: a duplicate or a late repair would show up in this pause.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const lines = tail.output().stdout.trimEnd().split('\n');
    const delivered = lines.map((line) => JSON.parse(line) as Delivered);
    expect(delivered).toHaveLength(3 + 25);
    expect(delivered.slice(0, 3)).toEqual(earlier.map(({ chat, seq, sender, text, sentAt }) => ({ chat, seq, sender, text, sentAt })));
    expect(delivered.slice(3).map((m) => m.text)).toEqual(texts);
    expect(delivered.map((m) => m.seq)).toEqual(delivered.map((_, i) => earlier[0]!.seq + i));
    const adaId = profileOf(ada).user.id as number;
    for (const [i, line] of lines.entries()) {
      const m = delivered[i]!;
      // Exactly these keys, in this order, and nothing else (no client message id, no key).
      expect(line).toBe(JSON.stringify({ chat: code, seq: m.seq, sender: { id: adaId, name: 'Ada' }, text: m.text, sentAt: m.sentAt }));
    }
    expect(delivered.at(-1)!.sentAt).toBe(lastAck.sentAt);

    tail.child.kill('SIGTERM');
    const run = await tail.result;
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('chorus:');
  });

  it('prints lines like history does, neutralising control characters and escape sequences; exits 0 on SIGINT', async () => {
    const tail = running(as(bob, 'tail', code, '--history', '0'));
    await tail.waitFor('Following', 'stderr');
    const hostile = 'look \u001b[2J\u001b]0;pwned\u0007 here\u009b31m\nsecond line';
    const sent = await chorus(as(ada, 'send', code, hostile, '--json'));
    expect(sent.code).toBe(0);
    const { sentAt } = JSON.parse(sent.stdout);
    const expected = `${minute(sentAt)} Ada: look \uFFFD[2J\uFFFD]0;pwned\uFFFD here\uFFFD31m\n    second line\n`;
    await tail.waitFor('second line');
    tail.child.kill('SIGINT');
    const run = await tail.result;
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(expected);
    expect(run.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);

    // history prints the same line, through the same sanitizer.
    const printed = await chorus(as(bob, 'history', code, '--limit', '1'));
    expect(printed.stdout).toBe(expected);
  });

  it('refuses a non-member, and a server whose key is not the one pinned at login', async () => {
    const notMember = await chorus(as(carol, 'tail', code));
    expect(notMember.code).toBe(1);
    expect(failureLine(notMember)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${carol} join ${code}`);

    // Login pinned the server's key in the profile.
    const { publicKey } = (await (await fetch(`${server.httpUrl}/api/server-key`)).json()) as { publicKey: string };
    expect(profileOf(bob).serverKey).toBe(publicKey);

    const impostor = join(scratch, 'bob-pinned-other-key');
    mkdirSync(impostor, { mode: 0o700 });
    const otherKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
    writeFileSync(join(impostor, 'profile.json'), JSON.stringify({ ...profileOf(bob), serverKey: otherKey }), { mode: 0o600 });
    for (const args of [['tail', code], ['send', code, 'hi'], ['chat', code]]) {
      const run = await chorus(as(impostor, ...args));
      expect(run.code, args.join(' ')).toBe(1);
      expect(failureLine(run)).toMatch(/^chorus: the server at http:\/\/127\.0\.0\.1:\d+ presents a different identity key \(fingerprint [0-9a-f]{64}\)/);
    }
    expect(profileOf(impostor).serverKey).toBe(otherKey);

    // A profile saved before keys were pinned learns the key on first use.
    const unpinned = join(scratch, 'bob-unpinned');
    mkdirSync(unpinned, { mode: 0o700 });
    const { serverKey: _, ...rest } = profileOf(bob);
    writeFileSync(join(unpinned, 'profile.json'), JSON.stringify(rest), { mode: 0o600 });
    expect((await chorus(as(unpinned, 'send', code, 'pinned now'))).code).toBe(0);
    expect(profileOf(unpinned).serverKey).toBe(publicKey);
  });

  it('on an address that is not an interface of this machine, says once on stderr that messages come through the server, and why; they do, stdout only them', async () => {
    const tail = running(as(bob, 'tail', code, '--history', '0', '--json', '--multicast-interface', '192.0.2.7'));
    await tail.waitFor(`chorus: ${code}: messages now come through the server (multicast does not reach this computer: `, 'stderr');
    expect(tail.output().stderr).toMatch(/multicast does not reach this computer: .*192\.0\.2\.7 \(addMembership E[A-Z]+\)/);
    await tail.waitFor('Following', 'stderr');
    expect((await chorus(as(ada, 'send', code, 'pushed to bob'))).code).toBe(0);
    await tail.waitFor('pushed to bob');
    tail.child.kill('SIGINT');
    const run = await tail.result;
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).text)).toEqual(['pushed to bob']);
    expect(run.stderr.match(/messages now come through the server/g)).toHaveLength(1);
  });

  it('refuses a --multicast-interface that is not an address, and a bad --history', async () => {

    const notAnAddress = await chorus(as(bob, 'tail', code, '--multicast-interface', 'eth0'));
    expect(notAnAddress.code).toBe(2);
    expect(failureLine(notAnAddress)).toContain('invalid --multicast-interface "eth0"');

    const tooMuch = await chorus(as(bob, 'tail', code, '--history', '501'));
    expect(tooMuch.code).toBe(2);
    expect(failureLine(tooMuch)).toBe("chorus: option '--history <n>' argument '501' is invalid. Give a whole number from 0 to 500.");
  });
});

describe('chorus chat', { timeout: 60_000 }, () => {
  it('shows recent history, sends a typed line (one line, in order), shows others live and neutralised, leaves on /quit', async () => {
    const recent = await chorus(as(bob, 'history', code, '--limit', '2'));
    const chat = running(as(bob, 'chat', code, '--history', '2'));
    await chat.waitFor('/quit or Ctrl-D leaves');
    const opening = chat.output().stdout;
    // The header, the same lines chorus history prints, then the invitation to type.
    expect(opening).toBe(`Chat "Team room" (${code}), 2 members.\n${recent.stdout}— Type a message and press Enter; /quit or Ctrl-D leaves. —\n`);

    chat.child.stdin!.write('hello from the terminal\n');
    await chat.waitFor(/^\[[\d-]+ [\d:]+\] Bob: hello from the terminal\n/m);
    const stored = (await history(ada, 1))[0]!;
    expect([stored.text, stored.sender.name]).toEqual(['hello from the terminal', 'Bob']);
    const seq = stored.seq;
    expect(chat.output().stdout).toContain(`${minute(stored.sentAt)} Bob: hello from the terminal\n`);

    const sent = await chorus(as(ada, 'send', code, 'hi Bob \u001b[31mred\u001b[0m', '--json'));
    const { sentAt } = JSON.parse(sent.stdout);
    await chat.waitFor(`${minute(sentAt)} Ada: hi Bob \uFFFD[31mred\uFFFD[0m\n`);

    chat.child.stdin!.write(`${'y'.repeat(17_000)}\n`);
    await chat.waitFor(/"y{29}…" not sent: a message may be at most 16 KiB of UTF-8/);
    // Piped, a line is not held past a message's limit: only its start and length are kept.
    chat.child.stdin!.write(`${'z'.repeat(8 << 20)}\n`);
    await chat.waitFor(/"z{29}…" not sent: a message may be at most 16 KiB of UTF-8 \(this one is 8388608 bytes\)/);

    // A slash that is no command is never sent to the room; "//" sends a leading slash.
    chat.child.stdin!.write('/who\n');
    await chat.waitFor('unknown command /who: /help lists them');
    chat.child.stdin!.write('//shrug\n');
    await chat.waitFor(/\] Bob: \/shrug\n/);

    chat.child.stdin!.write('/quit\n');
    const run = await chat.result;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    // Each message is one line: ours is shown once, when it arrives in the chat's order.
    expect(run.stdout.match(/hello from the terminal/g)).toHaveLength(1);
    expect(run.stdout).not.toMatch(/sending|sent as/);
    expect(run.stdout).not.toContain('\u001b');
    expect((await history(ada, 2)).map((m) => [m.seq, m.text])).toEqual([
      [seq + 1, 'hi Bob \u001b[31mred\u001b[0m'],
      [seq + 2, '/shrug'],
    ]);
  });

  it('on the end of input (Ctrl-D) waits for what it is still sending, then exits 0', async () => {
    const run = await chorus(as(bob, 'chat', code, '--history', '0'), { input: 'typed then gone\n' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[[\d-]+ [\d:]+\] Bob: typed then gone$/m);
    expect((await history(ada, 1))[0]!.text).toBe('typed then gone');
  });

  it('where multicast cannot be received, says in the chat that messages come through the server; they do', async () => {
    const chat = running(as(bob, 'chat', code, '--history', '0', '--multicast-interface', '192.0.2.7'));
    await chat.waitFor('  … messages now come through the server (multicast does not reach this computer: ');
    await chat.waitFor('— Type a message');
    expect((await chorus(as(ada, 'send', code, 'pushed into the chat'))).code).toBe(0);
    await chat.waitFor(/\] Ada: pushed into the chat\n/);
    chat.child.stdin!.end('/quit\n');
    expect((await chat.result).code).toBe(0);
  });

  it('a non-member is refused with one line, exit 1', async () => {
    const run = await chorus(as(carol, 'chat', code));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${carol} join ${code}`);
  });
});

describe('a member named like another', { timeout: 60_000 }, () => {
  it('is numbered from its first line in history, tail and chat, even when the other has not spoken in view', async () => {
    const twin = join(scratch, 'twin');
    await registerProfile(twin, server.httpUrl, 'Ada', 'ada.twin@example.com');
    const created = await chorus(as(ada, 'create', 'Twins'));
    const twins = CHAT_CODE.exec(created.stdout)?.[1] ?? '';
    for (const profile of [bob, twin]) expect((await chorus(as(profile, 'join', twins))).code).toBe(0);
    const twinId = profileOf(twin).user.id;
    const sent = await chorus(as(twin, 'send', twins, 'I am the real Ada', '--json'));
    expect(sent.code).toBe(0);
    const line = `${minute(JSON.parse(sent.stdout).sentAt)} Ada #${twinId}: I am the real Ada`;

    const printed = await chorus(as(bob, 'history', twins, '--limit', '1'));
    expect(printed.stdout).toBe(`${line}\n`);

    const tail = running(as(bob, 'tail', twins, '--history', '1'));
    await tail.waitFor('Following', 'stderr');
    tail.child.kill('SIGINT');
    expect((await tail.result).stdout).toBe(`${line}\n`);

    const chat = running(as(bob, 'chat', twins, '--history', '1'));
    await chat.waitFor('I am the real Ada');
    chat.child.stdin!.end('/quit\n');
    expect((await chat.result).stdout).toContain(line);
  });
});

describe('chorus --help', () => {
  it('lists send, tail and chat; tail documents its default history and the --json shape', async () => {
    const run = await chorus(['--help']);
    for (const command of ['send', 'tail', 'chat']) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const tail = await chorus(['tail', '--help']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toContain('(default 10)');
    expect(tail.stdout).toContain('{"chat","seq","sender":{"id","name"},"text","sentAt"}');
    expect(tail.stdout).toContain('--multicast-interface <address>');
  });
});

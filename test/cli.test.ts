import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/server/compose.js';
import { type RunningServer, defaultServerConfig } from '../src/server/config.js';
import { CHAT_CODE as CODE, PASSWORD, as, chorus, deadPort, failureLine, finished, spawnChorus } from './support/cli.js';

/**
 * The CLI driven as a user would: each command a child process (`chorus …` from the TypeScript
 * source), two people with their own profiles, against a real server on a loopback port.
 */

let scratch: string;
let server: RunningServer;
let ada: string;
let bob: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-'));
  server = await startServer(
    defaultServerConfig({ dataDir: join(scratch, 'server'), host: '127.0.0.1', httpPort: 0, tcpPort: 0, logLevel: 'silent' }),
  );
  ada = join(scratch, 'ada');
  bob = join(scratch, 'bob');
});

afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus, two people on one server', { timeout: 60_000 }, () => {
  let code = '';

  it('registers Ada (password on stdin) and Bob (password in CHORUS_PASSWORD), each logged in after', async () => {
    const a = await chorus(as(ada, 'register', '--name', 'Ada', '--email', 'ada@example.com', '--server', server.httpUrl, '--password-stdin'), {
      input: `${PASSWORD}\n`,
    });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('Registered Ada <ada@example.com>');
    const b = await chorus(as(bob, 'register', '--name', 'Bob', '--email', 'bob@example.com', '--server', server.httpUrl, '--json'), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ server: server.httpUrl, user: { name: 'Bob', email: 'bob@example.com' } });
    for (const run of [a, b]) expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('logs in again, keeping the token in a profile only its owner can read, and never printing it', async () => {
    const a = await chorus(as(ada, 'login', '--email', 'ada@example.com', '--password-stdin'), { input: `${PASSWORD}\n` });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('Logged in as Ada <ada@example.com>');
    const b = await chorus(as(bob, 'login', '--email', 'BOB@example.com', '--json'), { env: { CHORUS_PASSWORD: PASSWORD } });
    expect(b.code).toBe(0);

    const profile = JSON.parse(readFileSync(join(ada, 'profile.json'), 'utf8'));
    expect(profile).toMatchObject({ server: server.httpUrl, user: { name: 'Ada', email: 'ada@example.com' } });
    expect(profile.token).toEqual(expect.any(String));
    expect(statSync(ada).mode & 0o777).toBe(0o700);
    expect(statSync(join(ada, 'profile.json')).mode & 0o777).toBe(0o600);
    for (const run of [a, b]) expect(run.stdout + run.stderr).not.toContain(profile.token);
    expect(JSON.stringify(profile)).not.toContain(PASSWORD);
  });

  it('whoami says who is logged in, and where', async () => {
    const run = await chorus(as(bob, 'whoami'));
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`Bob <bob@example.com> at ${server.httpUrl}`);
  });

  it('whoami with the server away: who the profile was logged in as, said unchecked, and exit 1', async () => {
    const away = join(scratch, 'bob-away');
    mkdirSync(away, { mode: 0o700 });
    const url = `http://127.0.0.1:${await deadPort()}`;
    const saved = JSON.parse(readFileSync(join(bob, 'profile.json'), 'utf8'));
    writeFileSync(join(away, 'profile.json'), JSON.stringify({ ...saved, server: url }), { mode: 0o600 });
    const run = await chorus(as(away, 'whoami'));
    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe(`Bob <bob@example.com> at ${url} (as last logged in: the session could not be checked)`);
    expect(failureLine(run)).toMatch(new RegExp(`^chorus: cannot reach the server at ${url}\\b`));
  });

  it('create prints the code and how others join', async () => {
    const run = await chorus(as(ada, 'create', 'Team room'));
    expect(run.code).toBe(0);
    code = CODE.exec(run.stdout)?.[1] ?? '';
    expect(code).not.toBe('');
    // The others run it on their own profiles: the hint does not carry this one's.
    expect(run.stdout).toContain(`Others join it with: chorus join ${code}\n`);
  });

  it('join works from the other profile, in any case and without the dash', async () => {
    const typed = code.replace('-', '').toLowerCase();
    const run = await chorus(as(bob, 'join', typed));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Joined "Team room" (${code}): 2 members.`);
    const twice = await chorus(as(bob, 'join', code));
    expect(twice.code).toBe(0);
    expect(twice.stdout).toBe(`You are already in "Team room" (${code}): 2 members.\n`);
    const again = await chorus(as(bob, 'join', code, '--json'));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ code, name: 'Team room', memberCount: 2 });
  });

  it('chats lists the chat for both, as a table and as JSON without the chat key', async () => {
    for (const profile of [ada, bob]) {
      const table = await chorus(as(profile, 'chats'));
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^CODE\s+NAME\s+MEMBERS\s+MESSAGES\s+UNREAD$/m);
      expect(table.stdout).toMatch(new RegExp(`^${code}\\s+Team room\\s+2\\s+0\\s+0$`, 'm'));
      const json = await chorus(as(profile, 'chats', '--json'));
      const chats = JSON.parse(json.stdout);
      expect(chats).toEqual([expect.objectContaining({ code, name: 'Team room', memberCount: 2, latestSeq: 0, readSeq: 0, unreadCount: 0 })]);
      expect(chats[0]).not.toHaveProperty('multicast');
    }
  });

  it('history of a chat without messages says so; --json gives []', async () => {
    const human = await chorus(as(bob, 'history', code));
    expect(human.code).toBe(0);
    expect(human.stdout.trim()).toBe(`No messages in ${code} yet.`);
    const json = await chorus(as(bob, 'history', code, '--limit', '10', '--json'));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('join with an unknown code: "no chat with code", exit 1', async () => {
    const run = await chorus(as(bob, 'join', 'ABCDE-12345'));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe('chorus: no chat with code ABCDE-12345');
  });

  it('something that cannot be a code is a usage error, exit 2', async () => {
    const run = await chorus(as(bob, 'join', 'hello'));
    expect(run.code).toBe(2);
    expect(failureLine(run)).toContain('is not a chat code');
  });

  it('a wrong password: exit 1 and one clear line, the profile untouched', async () => {
    const before = readFileSync(join(bob, 'profile.json'), 'utf8');
    const run = await chorus(as(bob, 'login', '--email', 'bob@example.com', '--password-stdin'), { input: 'not my password\n' });
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe('chorus: wrong email or password');
    expect(run.stdout).toBe('');
    expect(readFileSync(join(bob, 'profile.json'), 'utf8')).toBe(before);
  });

  it('the password never shows in the process list while the command runs', async () => {
    const child = spawnChorus(as(bob, 'login', '--email', 'bob@example.com', '--password-stdin'));
    const result = finished(child);
    // While it waits for stdin, its argv is what `ps` shows.
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('login');
    expect(argv.join(' ')).not.toContain(PASSWORD);
    child.stdin!.end(`${PASSWORD}\n`);
    expect((await result).code).toBe(0);
  });

  it('without a password source outside a terminal: a usage error naming the ways to give one', async () => {
    const run = await chorus(as(bob, 'login', '--email', 'bob@example.com'));
    expect(run.code).toBe(2);
    expect(failureLine(run)).toMatch(/--password-stdin or CHORUS_PASSWORD/);
  });

  it('a server nobody listens on: "cannot reach the server at URL", exit 1', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const run = await chorus(as(join(scratch, 'nobody'), 'login', '--email', 'x@example.com', '--server', url), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(run.code).toBe(1);
    expect(failureLine(run)).toMatch(new RegExp(`^chorus: cannot reach the server at ${url}\\b`));
  });

  it('login and client take the same server addresses: scheme, host and port, nothing more', async () => {
    const withPath = `${server.httpUrl}/chorus`;
    const login = await chorus(as(join(scratch, 'pathy'), 'login', '--email', 'x@example.com', '--server', withPath), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(login.code).toBe(2);
    expect(failureLine(login)).toBe('chorus: invalid --server: give only the scheme, host and port, e.g. http://127.0.0.1:6789');
    const client = await chorus(as(join(scratch, 'pathy'), 'client', '--no-open', '--server', withPath));
    expect(client.code).toBe(2);
    expect(failureLine(client)).toBe(failureLine(login));
    const scheme = await chorus(as(join(scratch, 'pathy'), 'login', '--email', 'x@example.com', '--server', 'ftp://127.0.0.1:6789'), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(failureLine(scheme)).toBe('chorus: invalid --server "ftp://127.0.0.1:6789": it must start with http:// or https://');
  });

  it('client --email: refused, before anything starts, unless it is an email address', async () => {
    for (const bad of ['carlos', 'carlos@localhost', 'two words@example.com', `${'a'.repeat(250)}@example.com`]) {
      const run = await chorus(as(join(scratch, 'emailed'), 'client', '--no-open', '--server', server.httpUrl, '--email', bad));
      expect(run.code).toBe(2);
      expect(failureLine(run)).toBe(`chorus: invalid --email "${bad.slice(0, 80)}": give an email address such as ada@example.com`);
    }
  });

  it("client: a profile folder of another user's is refused before anything in it is asked (a socket there could answer with any link)", async () => {
    // Another user (nobody, uid 65534) made the folder first and listens where a running client would.
    const folder = join(scratch, 'made-by-another');
    mkdirSync(folder, { mode: 0o777 });
    const planted = createNetServer((socket) => socket.end('http://127.0.0.1:18999/#ticket=CHOSENBYANOTHERUSER\n'));
    await new Promise<void>((listening) => planted.listen(join(folder, 'agent.sock'), listening));
    let asked = 0;
    planted.on('connection', () => asked++);
    chownSync(folder, 65534, 65534);
    try {
      const run = await chorus(as(folder, 'client', '--no-open', '--server', server.httpUrl));
      expect(run.code).toBe(1);
      expect(failureLine(run)).toBe(`chorus: ${folder} belongs to another user (uid 65534): a profile folder must be your own; choose another with --profile`);
      expect(run.stdout).not.toContain('CHOSENBYANOTHERUSER');
      expect(asked).toBe(0);
    } finally {
      planted.close();
    }
  });

  it('removed by the creator: history and send say so, not "run chorus join" (which would be refused)', async () => {
    const room = CODE.exec((await chorus(as(ada, 'create', 'Removal room'))).stdout)?.[1] ?? '';
    expect((await chorus(as(bob, 'join', room))).code).toBe(0);
    const tokenOf = (profile: string) => JSON.parse(readFileSync(join(profile, 'profile.json'), 'utf8')).token as string;
    const bobId = JSON.parse(readFileSync(join(bob, 'profile.json'), 'utf8')).user.id as number;
    const removal = await fetch(`${server.httpUrl}/api/chats/${room}/members/${bobId}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokenOf(ada)}` } });
    expect(removal.status).toBe(204);
    for (const args of [['history', room], ['send', room, 'still here?'], ['join', room]]) {
      const run = await chorus(as(bob, ...args));
      expect(run.code, args.join(' ')).toBe(1);
      expect(failureLine(run)).toBe(`chorus: you were removed from chat ${room} by its creator, and may not join it again`);
    }
  });

  it('leave: the chat is gone from my list, and its history is closed to me', async () => {
    const run = await chorus(as(bob, 'leave', code));
    expect(run.code).toBe(0);
    expect(JSON.parse((await chorus(as(bob, 'chats', '--json'))).stdout)).toEqual([]);
    const history = await chorus(as(bob, 'history', code));
    expect(history.code).toBe(1);
    expect(failureLine(history)).toBe(`chorus: you are not a member of ${code}: run chorus --profile ${bob} join ${code}`);
  });

  it('logout revokes the session; afterwards commands say "not logged in"', async () => {
    const token = JSON.parse(readFileSync(join(ada, 'profile.json'), 'utf8')).token as string;
    const run = await chorus(as(ada, 'logout'));
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('Logged out.');
    // The server's signing key stays pinned: the next login must meet the same key.
    const serverKey = ((await (await fetch(`${server.httpUrl}/api/server-key`)).json()) as { publicKey: string }).publicKey;
    expect(JSON.parse(readFileSync(join(ada, 'profile.json'), 'utf8'))).toEqual({ server: server.httpUrl, serverKey });
    const me = await fetch(`${server.httpUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);

    for (const args of [['chats'], ['whoami'], ['create', 'Another'], ['history', code]]) {
      const refused = await chorus(as(ada, ...args));
      expect(refused.code, args.join(' ')).toBe(1);
      expect(failureLine(refused)).toBe(`chorus: not logged in: run chorus --profile ${ada} login --email EMAIL, or chorus --profile ${ada} register to make an account`);
    }
    // Run through npm inside the clone, where `chorus` alone is no command, it names `npx chorus`.
    const viaNpx = await chorus(as(ada, 'chats'), { env: { npm_command: 'exec' } });
    expect(failureLine(viaNpx)).toBe(`chorus: not logged in: run npx chorus --profile ${ada} login --email EMAIL, or npx chorus --profile ${ada} register to make an account`);
  });

  // A logout the server does not answer: test/cli-sessions.test.ts.
});

describe('chorus history, against a stub that serves a long history', { timeout: 60_000 }, () => {
  const CHAT = 'AAAAA-BBBBB';
  const TOTAL = 1200;
  const requests: string[] = [];
  let stub: ReturnType<typeof createHttpServer>;
  let profile: string;

  const message = (seq: number) => ({
    chat: CHAT,
    seq,
    sender: { id: seq % 2 ? 1 : 2, name: seq % 2 ? 'Alice' : 'Bob' },
    text: seq === TOTAL ? 'clear \u001b[2J screen\nsecond line' : `message ${seq}`,
    sentAt: new Date(Date.UTC(2026, 10, 24, 10, 0) + seq * 1000).toISOString(),
    clientMsgId: `m${seq}`,
  });

  beforeAll(async () => {
    // Pages as docs/api.md describes them: the latest `limit`, or the last `limit` before `before`.
    stub = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://stub');
      if (url.pathname === `/api/chats/${CHAT}/members`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ members: [] }));
        return;
      }
      requests.push(url.search);
      if (url.pathname !== `/api/chats/${CHAT}/messages` || req.headers.authorization !== 'Bearer stub-token') {
        res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: 'NOT_FOUND', detail: 'no' }));
        return;
      }
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const end = Number(url.searchParams.get('before') ?? TOTAL + 1) - 1;
      const seqs = Array.from({ length: Math.min(limit, end) }, (_, i) => end - Math.min(limit, end) + 1 + i);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ messages: seqs.map(message), latestSeq: TOTAL }));
    });
    await new Promise<void>((done) => stub.listen(0, '127.0.0.1', done));
    profile = join(scratch, 'stub-profile');
    mkdirSync(profile, { mode: 0o700 });
    const { port } = stub.address() as { port: number };
    writeFileSync(join(profile, 'profile.json'), JSON.stringify({ server: `http://127.0.0.1:${port}`, token: 'stub-token' }), { mode: 0o600 });
  });

  afterAll(() => new Promise<void>((done) => stub.close(() => done())));

  it('prints the latest 50 by default, oldest first, as [date time] Name: text', async () => {
    requests.length = 0;
    const run = await chorus(as(profile, 'history', 'aaaaabbbbb'));
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(requests).toEqual(['?limit=50']);
    expect(lines[0]).toBe('[2026-11-24 10:19] Alice: message 1151');
    expect(lines[1]).toBe('[2026-11-24 10:19] Bob: message 1152');
    // Control characters from the network cannot drive the terminal; a second line is indented.
    expect(lines.slice(-2)).toEqual(['[2026-11-24 10:20] Bob: clear \uFFFD[2J screen', '    second line']);
    expect(lines).toHaveLength(51);
  });

  it('pages back through the API for more than one page', async () => {
    requests.length = 0;
    const run = await chorus(as(profile, 'history', CHAT, '--limit', '700', '--json'));
    expect(run.code).toBe(0);
    expect(requests).toEqual(['?limit=500', '?before=701&limit=200']);
    const seqs = (JSON.parse(run.stdout) as { seq: number }[]).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 700 }, (_, i) => 501 + i));
  });

  it('stops at the first message when asked for more than there are', async () => {
    requests.length = 0;
    const run = await chorus(as(profile, 'history', CHAT, '--limit', '5000', '--json'));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveLength(TOTAL);
    expect(requests).toEqual(['?limit=500', '?before=701&limit=500', '?before=201&limit=500']);
  });

  it('ends quietly, exit 0, when its reader stops early (history --json | head -1)', async () => {
    const child = spawnChorus(as(profile, 'history', CHAT, '--limit', '1200', '--json'));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout!.once('data', () => child.stdout!.destroy()); // the reader goes after its first chunk
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('refuses a limit that is not a positive whole number, exit 2', async () => {
    const run = await chorus(as(profile, 'history', CHAT, '--limit', '0'));
    expect(run.code).toBe(2);
    expect(failureLine(run)).toContain("'--limit <n>' argument '0' is invalid");
  });
});

describe('chorus server', { timeout: 60_000 }, () => {
  /** Starts `chorus server ARGS`; resolves with the child and the URL it prints once ready. */
  async function runServer(args: string[], env: Record<string, string> = {}) {
    const child = spawnChorus(['server', ...args], env);
    const result = finished(child);
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (chunk: string) => {
        seen += chunk;
        const match = /listening on (http:\/\/[^\s]+) \(HTTP API\) and TCP port (\d+)/.exec(seen);
        if (match) resolve(match[1]!);
      });
      void result.then((r) => reject(new Error(`server exited ${r.code} before it was ready: ${r.stderr}`)));
    });
    return { child, url, result };
  }

  it('prints where it listens, answers, and exits 0 on SIGTERM', async () => {
    const data = join(scratch, 'server-data');
    // Flags win over the environment: the bad CHORUS_HTTP_PORT is never looked at.
    const { child, url, result } = await runServer(['--data', data, '--http-port', '0', '--tcp-port', '0'], {
      CHORUS_HTTP_PORT: 'not-a-port',
      CHORUS_LOG_LEVEL: 'silent',
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/api/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(statSync(data).isDirectory()).toBe(true);
    child.kill('SIGTERM');
    const run = await result;
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('SIGTERM: stopping');
  });

  it('takes its settings from CHORUS_* variables', async () => {
    const data = join(scratch, 'server-env-data');
    const { child, url, result } = await runServer([], { CHORUS_DATA: data, CHORUS_HTTP_PORT: '0', CHORUS_TCP_PORT: '0', CHORUS_LOG_LEVEL: 'silent' });
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect(statSync(data).isDirectory()).toBe(true);
    child.kill('SIGINT');
    expect((await result).code).toBe(0);
  });

  it.each([
    [['--http-port', 'abc'], {}, 'chorus: invalid --http-port "abc": give a port number'],
    [['--tcp-port', '65536'], {}, 'chorus: invalid --tcp-port "65536"'],
    [[], { CHORUS_HTTP_PORT: '-1' }, 'chorus: invalid CHORUS_HTTP_PORT "-1"'],
    [['--session-ttl', 'forever'], {}, 'chorus: invalid --session-ttl "forever"'],
    [['--log-level', 'loud'], {}, 'chorus: invalid --log-level "loud": give one of fatal, error'],
    [['--multicast-groups', '10.0.0.0/8'], {}, 'must lie within 224.0.0.0/4'],
    [['--multicast-ports', '5000-4000'], {}, 'chorus: invalid --multicast-ports "5000-4000"'],
    [['--multicast-ttl', '256'], {}, 'chorus: invalid --multicast-ttl "256": give a whole number from 0 to 255'],
    [['--multicast-interface', 'eth0'], { CHORUS_MULTICAST_INTERFACE: '127.0.0.1' }, 'chorus: invalid --multicast-interface "eth0"'],
    [[], { CHORUS_DATABASE_URL: 'mysql://root:hunter2@db/chorus' }, 'chorus: invalid CHORUS_DATABASE_URL: give a postgres://'],
  ] as [string[], Record<string, string>, string][])('refuses %j %j: exit 2, one line', async (args, env, expected) => {
    const run = await chorus(['server', '--data', join(scratch, 'never-made'), ...args], { env });
    expect(run.code).toBe(2);
    expect(failureLine(run)).toContain(expected);
    expect(run.stderr).not.toContain('hunter2');
  });
});

describe('chorus --help', () => {
  it('describes every command and where the password comes from', async () => {
    const run = await chorus(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['server', 'register', 'login', 'logout', 'whoami', 'create', 'join', 'leave', 'chats', 'history']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(run.stdout).toContain('--password-stdin');
    expect(run.stdout).toContain('CHORUS_PASSWORD');
  });

  it('--version prints the version in package.json; server --help shows its cluster example on two lines, continued with a backslash', async () => {
    const run = await chorus(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
    const server = await chorus(['server', '--help']);
    expect(server.stdout).toMatch(/--site north \\\n {16}--host 10\.1\.0\.5/);
  });

  it('an unknown option is a usage error, exit 2', async () => {
    const run = await chorus(['chats', '--colour']);
    expect(run.code).toBe(2);
    expect(failureLine(run)).toBe("chorus: unknown option '--colour'");
  });

  it('send (or create) with a message (a name) that starts with "-": the refusal says that -- ends the options, exit 2', async () => {
    const run = await chorus(['--profile', join(scratch, 'dash'), 'send', 'ABCDE-12345', '-text']);
    expect(run.code).toBe(2);
    expect(failureLine(run)).toBe(
      `chorus: unknown option '-text': a message that starts with "-" goes after --, as in chorus --profile ${join(scratch, 'dash')} send CODE -- -text`,
    );
    // A mistyped option keeps commander's own suggestion.
    expect((await chorus(['send', 'ABCDE-12345', '--jsn', 'hi'])).stderr).toBe("chorus: unknown option '--jsn'\n(Did you mean --json?)\n");
    // After --, it is the message (refused here only for want of a login).
    const sent = await chorus(['--profile', join(scratch, 'dash'), 'send', 'ABCDE-12345', '--', '-text']);
    expect(sent.code).toBe(1);
    expect(failureLine(sent)).toMatch(/^chorus: not logged in/);
    // A chat's name the same.
    const named = await chorus(['create', '-team-']);
    expect(named.code).toBe(2);
    expect(failureLine(named)).toBe(`chorus: unknown option '-team-': a name that starts with "-" goes after --, as in chorus create -- -team-`);
  });

  it('a command it does not know, given to help or alone: says so, with the one meant or the commands there are, exit 2', async () => {
    const unknown = await chorus(['help', 'nothing']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(failureLine(unknown)).toMatch(/^chorus: unknown command 'nothing': the commands are up, server, client, register, login, .*, doctor, help$/);
    const typo = await chorus(['help', 'chts']);
    expect(typo.code).toBe(2);
    expect(failureLine(typo)).toBe("chorus: unknown command 'chts' (did you mean chats?)");
    // The same words for the command itself, not asked through help.
    const bare = await chorus(['nothing']);
    expect(bare.code).toBe(2);
    expect(bare.stderr.trim()).toMatch(/^chorus: unknown command 'nothing': the commands are up, server, client, register, login, .*, doctor, help$/);
    const bareTypo = await chorus(['chts']);
    expect(bareTypo.code).toBe(2);
    expect(bareTypo.stderr.trim()).toBe("chorus: unknown command 'chts' (did you mean chats?)");
    // A command it knows: its help, on stdout, exit 0; and without one, the program's.
    const send = await chorus(['help', 'send']);
    expect(send.code).toBe(0);
    expect(send.stdout).toMatch(/^Usage: chorus send \[options\] <code> \[text\.\.\.\]/);
    const all = await chorus(['help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^ {2}help \[command\] +display help for command$/m);
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_CODE, PASSWORD, type Running, as, chorus, failureLine, registerProfile, startChorus } from './support/cli.js';
import { http, type TestServer, startTestServer } from './support/server.js';

/**
 * `chorus send`, `chat` and `tail` when the session ends under them (`chorus logout` on the same
 * profile, here): one line saying so, and exit 1, rather than retrying for ever or going on.
 */

/** The line each prints: its hint names the profile it ran on, and the email address to log in with. */
const ended = (dir: string, email: string) => `chorus: your session ended: log in again (chorus --profile ${dir} login --email ${email})`;

let scratch: string;
let server: TestServer;
const started: Running[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-cli-session-'));
  server = await startTestServer();
});
afterAll(async () => {
  for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh profile, logged in, with a chat of its own. */
async function profileWithChat(name: string): Promise<{ dir: string; code: string; email: string }> {
  const dir = join(scratch, name);
  const email = `${name}@example.com`;
  await registerProfile(dir, server.httpUrl, name, email);
  const created = await chorus(as(dir, 'create', 'Room'));
  return { dir, code: CHAT_CODE.exec(created.stdout)![1]!, email };
}

function running(args: string[]): Running {
  const r = startChorus(args);
  started.push(r);
  return r;
}

async function logout(dir: string): Promise<void> {
  const run = await chorus(as(dir, 'logout'));
  expect(run.code, run.stderr).toBe(0);
}

describe('the session ends under a running command', { timeout: 60_000 }, () => {
  it('chorus chat says so and exits 1', async () => {
    const { dir, code, email } = await profileWithChat('chatter');
    const chat = running(as(dir, 'chat', code));
    await chat.waitFor('/quit or Ctrl-D leaves');
    await logout(dir);
    const run = await chat.result;
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(ended(dir, email));
  });

  it('chorus tail says so and exits 1', async () => {
    const { dir, code, email } = await profileWithChat('tailer');
    const tail = running(as(dir, 'tail', code));
    await tail.waitFor('Following', 'stderr');
    await logout(dir);
    const run = await tail.result;
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(ended(dir, email));
  });

  it('chorus send --stdin stops reading, says so and exits 1; what was sent before stays sent', async () => {
    const { dir, code, email } = await profileWithChat('piper');
    const reader = (await http(server.httpUrl)('POST', '/api/sessions', { json: { email, password: PASSWORD } })).body.token as string;
    const texts = async () => ((await http(server.httpUrl)('GET', `/api/chats/${code}/messages`, { token: reader })).body.messages as { text: string }[]).map((m) => m.text);
    const send = running(as(dir, 'send', code, '--stdin'));
    send.child.stdin!.write('before\n');
    let stored: string[] = [];
    for (let i = 0; i < 400 && stored.length === 0; i++) {
      stored = await texts();
      if (stored.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stored).toEqual(['before']);
    await logout(dir);
    // Stdin stays open: the command stops reading by itself, whether or not another line comes.
    send.child.stdin!.write('after\n');
    const run = await Promise.race([send.result, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(JSON.stringify(send.output()))), 15_000))]);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(ended(dir, email));
    expect(await texts()).toEqual(['before']);
  });

  it('chorus send with a session the server no longer knows says so and exits 1', async () => {
    const { dir, code, email } = await profileWithChat('stale');
    // Revoke on the server only, as an expiry would: the profile still holds the token.
    const profile = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'));
    expect((await http(server.httpUrl)('DELETE', '/api/sessions/current', { token: profile.token })).status).toBe(204);
    const run = await chorus(as(dir, 'send', code, 'hello'));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(ended(dir, email));

    // The hint works as printed; and so does login alone, the profile still naming its user.
    const again = await chorus(as(dir, 'login', '--email', email, '--password-stdin'), { input: `${PASSWORD}\n` });
    expect(again.code, again.stderr).toBe(0);
    await http(server.httpUrl)('DELETE', '/api/sessions/current', { token: JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')).token });
    const alone = await chorus(as(dir, 'login', '--password-stdin'), { input: `${PASSWORD}\n` });
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stdout).toContain(`Logged in as stale <${email}>`);
    expect((await chorus(as(dir, 'send', code, 'back'))).code).toBe(0);
  });

  it('chorus login with no --email on a profile that names no user is a usage error saying so', async () => {
    const { dir } = await profileWithChat('forgetful');
    await logout(dir);
    const run = await chorus(as(dir, 'login', '--password-stdin'), { input: `${PASSWORD}\n` });
    expect(run.code).toBe(2);
    expect(failureLine(run)).toBe('chorus: give --email: this profile does not know whom to log in as');
  });
});

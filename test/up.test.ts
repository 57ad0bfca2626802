import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUiBuilt } from './browser/support/ui-build.js';

/**
 * `chorus up`, what the README's quick start runs: a server on the embedded defaults and a web
 * client for it, in one process. Driven as a child process, on free loopback ports.
 */

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

let scratch: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'chorus-up-'));
  await ensureUiBuilt();
});

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

function up(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, CHORUS_HOME: join(scratch, 'home') };
  for (const key of Object.keys(env)) if (key.startsWith('CHORUS_') && key !== 'CHORUS_HOME') delete env[key];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'up', ...args], { cwd: ROOT, env, stdio: 'pipe' });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const ready = new Promise<{ serverUrl: string; clientUrl: string }>((done, fail) => {
    child.stdout.on('data', () => {
      const server = /Chorus server: (http:\/\/127\.0\.0\.1:\d+) \(TCP port \d+\)/.exec(stdout);
      const client = /Chorus client: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(stdout);
      if (server && client) done({ serverUrl: server[1]!, clientUrl: client[1]! });
    });
    void exited.then((code) => fail(new Error(`chorus up exited ${code} before it was ready: ${stderr}`)));
  });
  ready.catch(() => {}); // awaited only by the tests that expect a start
  return { child, ready, exited, output: () => ({ stdout, stderr }) };
}

describe('chorus up', { timeout: 60_000 }, () => {
  it('starts a server and a web client on loopback, serves the UI to the secret address only, and stops on SIGTERM', async () => {
    const run = up(['--no-open', '--data', join(scratch, 'data'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'ada')]);
    const { serverUrl, clientUrl } = await run.ready;

    expect(await (await fetch(`${serverUrl}/api/health`)).json()).toEqual({ status: 'ok' });
    const origin = new URL(clientUrl).origin;
    expect((await fetch(`${origin}/`)).status).toBe(403);
    const admitted = await fetch(clientUrl, { redirect: 'manual' });
    expect(admitted.status).toBe(303);
    const cookie = admitted.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(`${origin}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output().stderr).toContain('SIGTERM: stopping');
  });

  it('says which port is taken when a server already runs there', async () => {
    const first = up(['--no-open', '--data', join(scratch, 'one'), '--http-port', '0', '--tcp-port', '0', '--profile', join(scratch, 'p1')]);
    const { serverUrl } = await first.ready;
    const taken = new URL(serverUrl).port;
    const second = up(['--no-open', '--data', join(scratch, 'two'), '--http-port', taken, '--tcp-port', '0', '--profile', join(scratch, 'p2')]);
    expect(await second.exited).toBe(1);
    expect(second.output().stderr).toMatch(new RegExp(`chorus: cannot start the server: port ${taken} or 0 on 127\\.0\\.0\\.1 is in use`));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('refuses a bad port as a usage error', async () => {
    const run = up(['--no-open', '--http-port', 'abc']);
    expect(await run.exited).toBe(2);
    expect(run.output().stderr.trim()).toBe('chorus: invalid --http-port "abc": give a port number from 1 to 65535, or 0 for any free one');
  });
});

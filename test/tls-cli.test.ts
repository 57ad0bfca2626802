import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, ROOT, as, chorus, failureLine, spawnChorus } from './support/cli.js';
import { impostor as impostorOn } from './support/impostor.js';

/**
 * The CLI and TLS: `chorus server --tls` on 127.0.0.1 prints its certificate's fingerprint;
 * `chorus register`/`login` pin it (from --fingerprint, or confirmed at a terminal), and refuse a
 * server presenting another certificate with one clear line and exit 1.
 */

const scratch = mkdtempSync(join(tmpdir(), 'chorus-tls-cli-'));
const children: ChildProcess[] = [];
const closers: (() => void)[] = [];

interface Started {
  child: ChildProcess;
  url: string;
  tcpPort: number;
  fingerprint: string;
}

/** `chorus server --tls` as its own process; resolves once it printed where it listens and its fingerprint. */
async function startCliServer(dataDir: string, ports = { http: 0, tcp: 0 }): Promise<Started> {
  const child = spawnChorus([
    'server', '--tls', '--host', '127.0.0.1', '--data', dataDir,
    '--http-port', String(ports.http), '--tcp-port', String(ports.tcp), '--log-level', 'warn',
  ]);
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const listening = /listening on (https:\/\/\S+) \(HTTP API\) and TCP port (\d+), both over TLS/.exec(stdout);
      const fingerprint = /^TLS certificate fingerprint \(SHA-256\): ([0-9A-F:]{95})$/m.exec(stdout)?.[1];
      if (listening && fingerprint) resolve({ child, url: listening[1]!, tcpPort: Number(listening[2]), fingerprint });
    });
    child.once('close', (code) => reject(new Error(`chorus server exited ${code}: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'close');
}

/** An impostor (support/impostor.ts), closed after the tests. */
async function impostor() {
  const fake = await impostorOn();
  closers.push(() => fake.server.close());
  return fake;
}

/** `chorus ARGS` with a terminal (util-linux `script`), `input` typed into it. */
function chorusAtTerminal(args: string[], input: string, env: Record<string, string>) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, '--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: 'pipe' });
  children.push(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stdin.end(input);
  return new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
}

let server: Started;
const ada = join(scratch, 'ada');

beforeAll(async () => {
  server = await startCliServer(join(scratch, 'server'));
});

afterAll(async () => {
  for (const close of closers) close();
  for (const child of children) await stop(child);
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus and a TLS server', { timeout: 60_000 }, () => {
  it('the server prints the fingerprint of the certificate it made, and https://', () => {
    const cert = new X509Certificate(readFileSync(join(scratch, 'server', 'tls-cert.pem')));
    expect(server.fingerprint).toBe(cert.fingerprint256);
  });

  it('first contact without a terminal and without --fingerprint: refused, saying how to pass it; nothing sent', async () => {
    const fake = await impostor();
    const run = await chorus(as(ada, 'register', '--name', 'Ada', '--email', 'ada@example.com', '--server', fake.url, '--password-stdin'), { input: `${PASSWORD}\n` });
    expect(run.code).toBe(2);
    expect(failureLine(run)).toMatch(/^chorus: this profile has not trusted https:\/\/127\.0\.0\.1:\d+ before, .* pass --fingerprint with the SHA-256 fingerprint `chorus server` printed/);
    expect(existsSync(join(ada, 'profile.json'))).toBe(false);
    expect(fake.bytes()).toHaveLength(0);
  });

  it('a --fingerprint that is not one is a usage error', async () => {
    const run = await chorus(as(ada, 'login', '--email', 'ada@example.com', '--server', server.url, '--fingerprint', 'abc123'), { env: { CHORUS_PASSWORD: PASSWORD } });
    expect(run.code).toBe(2);
    expect(failureLine(run)).toMatch(/^chorus: invalid --fingerprint "abc123"/);
  });

  it('register with the right --fingerprint (any case, colons optional) pins it; later commands use it', async () => {
    const typed = server.fingerprint.replace(/:/g, '').toLowerCase();
    const run = await chorus(as(ada, 'register', '--name', 'Ada', '--email', 'ada@example.com', '--server', server.url, '--fingerprint', typed, '--password-stdin'), {
      input: `${PASSWORD}\n`,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Registered Ada <ada@example.com> at ${server.url}`);
    const profile = JSON.parse(readFileSync(join(ada, 'profile.json'), 'utf8'));
    expect(profile).toMatchObject({ server: server.url, tlsFingerprint: server.fingerprint });

    const create = await chorus(as(ada, 'create', 'Secure room'));
    expect(create.code).toBe(0);
    const chats = await chorus(as(ada, 'chats', '--json'));
    expect(chats.code).toBe(0);
    expect(JSON.parse(chats.stdout)).toEqual([expect.objectContaining({ name: 'Secure room' })]);
  });

  it('chorus doctor checks the pin: the certificate presented is the pinned one, over HTTP and TCP', async () => {
    const run = await chorus(as(ada, 'doctor', '--json'));
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const check = (id: string) => report.checks.find((c: { id: string }) => c.id === id);
    expect(check('http')).toMatchObject({ status: 'ok' });
    expect(check('tls')).toMatchObject({ status: 'ok', detail: `the server presents the pinned certificate ${server.fingerprint}` });
    expect(check('tcp')).toMatchObject({ status: 'ok', detail: `127.0.0.1:${server.tcpPort}, over TLS with the pinned certificate` });
    expect(report).toMatchObject({ multicast: true, delivery: 'multicast' });
  });

  it('a wrong --fingerprint: one clear line, exit 1, and the password never reaches the server', async () => {
    const wrong = server.fingerprint.replace(/^../, server.fingerprint.startsWith('00') ? '11' : '00');
    const run = await chorus(as(join(scratch, 'eve'), 'login', '--email', 'ada@example.com', '--server', server.url, '--fingerprint', wrong), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(run.code).toBe(1);
    // Nothing was pinned before: a mistyped flag, not a changed certificate.
    expect(failureLine(run)).toBe(
      `chorus: ${server.url} presents ${server.fingerprint}, not the certificate --fingerprint gives (${wrong}): check it against what \`chorus server\` printed when it started; ` +
        'if it is right, another server (or someone posing as it) answers at that address. Nothing was sent to it',
    );

    const fake = await impostor();
    const against = await chorus(as(join(scratch, 'eve'), 'login', '--email', 'ada@example.com', '--server', fake.url, '--fingerprint', server.fingerprint), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(against.code).toBe(1);
    expect(failureLine(against)).toMatch(new RegExp(`^chorus: ${fake.url} presents [0-9A-F:]{95}, not the certificate --fingerprint gives \\(${server.fingerprint}\\)`));
    expect(fake.bytes()).toHaveLength(0);
  });

  it('at a terminal, first contact shows the fingerprint and asks; "y" pins it, anything else sends nothing', async () => {
    const bob = join(scratch, 'bob');
    const register = await chorus(as(join(scratch, 'bob-setup'), 'register', '--name', 'Bob', '--email', 'bob@example.com', '--server', server.url, '--fingerprint', server.fingerprint), {
      env: { CHORUS_PASSWORD: PASSWORD },
    });
    expect(register.code).toBe(0);

    const no = await chorusAtTerminal(as(bob, 'login', '--email', 'bob@example.com', '--server', server.url), 'n\n', { CHORUS_PASSWORD: PASSWORD, CHORUS_HOME: bob });
    expect(no.output).toContain(server.fingerprint);
    expect(no.output).toContain('Trust this server? [y/N]');
    expect(no.output).toContain('chorus: not trusted: nothing was sent to');
    expect(no.code).toBe(1);
    expect(existsSync(join(bob, 'profile.json'))).toBe(false);

    const yes = await chorusAtTerminal(as(bob, 'login', '--email', 'bob@example.com', '--server', server.url), 'y\n', { CHORUS_PASSWORD: PASSWORD, CHORUS_HOME: bob });
    expect(yes.output).toContain('Logged in as Bob <bob@example.com>');
    expect(yes.code).toBe(0);
    expect(JSON.parse(readFileSync(join(bob, 'profile.json'), 'utf8'))).toMatchObject({ server: server.url, tlsFingerprint: server.fingerprint });
  });

  it('chorus client: an https:// server the profile has not trusted is refused before anything is sent, saying what to do', async () => {
    const fake = await impostor();
    const carol = join(scratch, 'carol');
    const run = await chorus(as(carol, 'client', '--server', fake.url, '--no-open'));
    expect(run.code).toBe(2);
    expect(failureLine(run)).toMatch(/^chorus: this profile has not trusted https:\/\/127\.0\.0\.1:\d+ yet: log in once with "chorus --profile \S+ login --server https:\/\/127\.0\.0\.1:\d+" \(.*\), or pass --fingerprint/);
    expect(failureLine(run)).toContain(`"chorus --profile ${carol} login --server ${fake.url}"`);
    expect(fake.bytes()).toHaveLength(0);
  });

  it('a server restarted with another certificate on the same address is refused by the pinned profile: one line, exit 1', async () => {
    const url = new URL(server.url);
    const tcpPort = server.tcpPort;
    await stop(server.child);
    const other = await startCliServer(join(scratch, 'other-server'), { http: Number(url.port), tcp: tcpPort });
    expect(other.url).toBe(server.url);
    expect(other.fingerprint).not.toBe(server.fingerprint);
    const run = await chorus(as(ada, 'whoami'));
    expect(run.code).toBe(1);
    expect(failureLine(run)).toMatch(new RegExp(`^chorus: the server's certificate changed: expected ${server.fingerprint}, got ${other.fingerprint} \\(`));
    // doctor says it too, as a failed check (exit 1), and tries nothing after it.
    const doctor = await chorus(as(ada, 'doctor', '--json'));
    expect(doctor.code).toBe(1);
    const checks = JSON.parse(doctor.stdout).checks;
    expect(checks.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([['http', 'fail'], ['tls', 'fail']]);
    expect(checks[1].detail).toContain(`expected ${server.fingerprint}, got ${other.fingerprint}`);
    await stop(other.child);

    // The same data folder: the same certificate, and the profile works again.
    const again = await startCliServer(join(scratch, 'server'), { http: Number(url.port), tcp: tcpPort });
    expect(again.fingerprint).toBe(server.fingerprint);
    const whoami = await chorus(as(ada, 'whoami'));
    expect(whoami.code).toBe(0);
    expect(whoami.stdout.trim()).toBe(`Ada <ada@example.com> at ${server.url}`);
  });
});

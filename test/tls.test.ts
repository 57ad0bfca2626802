import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Server as TlsServer, createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../src/agent/session.js';
import type { UiPush } from '../src/agent/ui-protocol.js';
import { ApiClient } from '../src/client/api.js';
import { probeFingerprint } from '../src/client/certificate-pin.js';
import { ingestEndpoint } from '../src/client/ingest-endpoint.js';
import { type ChatMessage, Receiver, type ReceiverSource } from '../src/client/receiver.js';
import { Sender } from '../src/client/sender.js';
import { publicKeyFromBase64 } from '../src/protocol/crypto.js';
import { encodeFrame } from '../src/protocol/frames.js';
import { PROTOCOL_VERSION } from '../src/protocol/limits.js';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../src/server/tls/material.js';
import { createSelfSignedCertificate } from '../src/server/tls/self-signed.js';
import { defaultServerConfig } from '../src/server/config.js';
import { type TestServer, startTestServer } from './support/server.js';
import { waitFor } from './support/messaging.js';

/**
 * TLS on both ports, with the certificate pinned by clients: a real server on 127.0.0.1 with TLS
 * forced (tests may use loopback only), and an impostor TLS server that records every byte of
 * application data it receives, to show that a client pinned to another certificate sends none.
 */

const PASSWORD = 'correct horse battery staple';
const scratch = mkdtempSync(join(tmpdir(), 'chorus-tls-'));
const servers: TestServer[] = [];
const closers: (() => void)[] = [];

async function tlsServer(dataDir: string, ports: { httpPort?: number; tcpPort?: number } = {}, files?: { cert: string; key: string }) {
  const server = await startTestServer({ tls: { force: true, ...(files ? { files } : {}) }, ...ports }, dataDir);
  servers.push(server);
  return server;
}

afterAll(async () => {
  for (const close of closers) close();
  for (const server of servers) await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function signUp(api: ApiClient, name: string) {
  const email = `${name.toLowerCase()}@example.test`;
  await api.register({ name, email, password: PASSWORD });
  const session = await api.login({ email, password: PASSWORD });
  return api.withToken(session.token);
}

/** The receiver's source over the pinned API client. */
function sourceOver(api: ApiClient): ReceiverSource {
  return {
    chatInfo: async (code) => {
      const chat = await api.getChat(code);
      return { code: chat.code, multicast: chat.multicast! };
    },
    history: async (code, page) => {
      if ('after' in page) return api.listMessages(code, page);
      const latest = await api.listMessages(code, { limit: Math.max(1, page.latest) });
      return page.latest === 0 ? { messages: [], latestSeq: latest.latestSeq } : latest;
    },
  };
}

/** A TLS server with a certificate of its own that answers nothing and keeps what it is sent. */
async function impostor(port = 0) {
  const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: ['127.0.0.1'] });
  const received: Buffer[] = [];
  let connections = 0;
  const server: TlsServer = createTlsServer({ cert: certPem, key: keyPem }, (socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      socket.destroy();
    });
  });
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const close = () => server.close();
  closers.push(close);
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: new X509Certificate(certPem).fingerprint256,
    connections: () => connections,
    bytes: () => Buffer.concat(received),
    close,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('a server with TLS forced on loopback', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await tlsServer(join(scratch, 'main'));
  });

  it('serves https:// and says so, with the fingerprint of the certificate it made in its data folder', async () => {
    expect(server.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cert = new X509Certificate(readFileSync(join(server.dataDir, TLS_CERT_FILE)));
    expect(server.tlsFingerprint).toBe(cert.fingerprint256);
    expect(statSync(join(server.dataDir, TLS_KEY_FILE)).mode & 0o777).toBe(0o600);
    const url = new URL(server.httpUrl);
    expect(await probeFingerprint('127.0.0.1', Number(url.port))).toBe(server.tlsFingerprint);
    expect(await probeFingerprint('127.0.0.1', server.tcpPort)).toBe(server.tlsFingerprint);
    const info = await new ApiClient({ baseUrl: server.httpUrl, tlsFingerprint: server.tlsFingerprint }).serverInfo();
    expect(info).toEqual({ protocolVersion: PROTOCOL_VERSION, tcpPort: server.tcpPort, tls: true, tlsFingerprint: server.tlsFingerprint });
  });

  it('refuses clients that do not verify it: global fetch without a pin, and plain http://', async () => {
    const unpinned = new ApiClient({ baseUrl: server.httpUrl });
    const error = await unpinned.health().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
    expect((error as Error).message).toMatch(/not signed by an authority this machine trusts/);
    const plain = new ApiClient({ baseUrl: server.httpUrl.replace('https:', 'http:'), timeoutMs: 5000 });
    await expect(plain.health()).rejects.toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
  });

  it('registers and logs in over HTTPS; messages go over TLS TCP and arrive by multicast', async () => {
    const api = new ApiClient({ baseUrl: server.httpUrl, tlsFingerprint: server.tlsFingerprint });
    const ada = await signUp(api, 'Ada');
    const bob = await signUp(api, 'Bob');
    const chat = await ada.createChat('Over TLS');
    await bob.joinChat(chat.code);

    const receiver = new Receiver({
      source: sourceOver(bob),
      serverKey: publicKeyFromBase64((await bob.serverKey()).publicKey),
      interfaceAddress: '127.0.0.1',
    });
    closers.push(() => receiver.close());
    const delivered: ChatMessage[] = [];
    receiver.onMessage((m) => delivered.push(m));
    await receiver.join(chat.code, { latest: 0 });

    const endpoint = await ingestEndpoint(ada);
    expect(endpoint).toEqual({ host: '127.0.0.1', port: server.tcpPort, tls: { fingerprint: server.tlsFingerprint } });
    const sender = new Sender({ ...endpoint, token: ada.token! });
    closers.push(() => sender.close());
    await sender.connect();
    const acks = await Promise.all(['one', 'two', 'three'].map((text) => sender.send(chat.code, text)));
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3]);
    await waitFor(() => delivered.length === 3, 'three messages by multicast');
    expect(delivered.map((m) => [m.seq, m.sender.name, m.text])).toEqual([
      [1, 'Ada', 'one'],
      [2, 'Ada', 'two'],
      [3, 'Ada', 'three'],
    ]);
  });

  it('speaks no plain TCP: a hello in clear gets no welcome, the connection is closed', async () => {
    const socket = netConnect(server.tcpPort, '127.0.0.1');
    await once(socket, 'connect');
    const answer: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => answer.push(chunk));
    socket.on('error', () => {});
    socket.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token: 'x'.repeat(40) }));
    await once(socket, 'close');
    expect(Buffer.concat(answer).toString('latin1')).not.toContain('welcome');
  });
});

describe('a peer that opens a TLS connection and never finishes its handshake', () => {
  it('is closed after the headers deadline on the HTTPS port, far sooner than Node\'s 120 s', async () => {
    const server = await startTestServer(
      { tls: { force: true }, timeouts: { ...defaultServerConfig().timeouts, httpHeadersMs: 800, httpRequestMs: 1500 } },
      join(scratch, 'slow-handshake'),
    );
    servers.push(server);
    const socket = netConnect(Number(new URL(server.httpUrl).port), '127.0.0.1');
    await once(socket, 'connect');
    const opened = performance.now();
    socket.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, then nothing
    await once(socket, 'close');
    expect(performance.now() - opened).toBeLessThan(8000);
  });

  it('is closed after the hello deadline on the message port (Node 20 left it open for good), while a real client gets in', async () => {
    const server = await startTestServer(
      { tls: { force: true }, timeouts: { ...defaultServerConfig().timeouts, tcpHelloMs: 600 } },
      join(scratch, 'slow-handshake-tcp'),
    );
    servers.push(server);
    const silent = Array.from({ length: 20 }, () => netConnect(server.tcpPort, '127.0.0.1'));
    const closed = silent.map((socket) => {
      socket.on('error', () => {});
      return once(socket, 'close');
    });
    await Promise.all(silent.map((socket) => once(socket, 'connect')));
    const opened = performance.now();

    const api = await signUp(new ApiClient({ baseUrl: server.httpUrl, tlsFingerprint: server.tlsFingerprint }), 'Hal');
    const sender = new Sender({ ...(await ingestEndpoint(api)), token: api.token! });
    closers.push(() => sender.close());
    await sender.connect();
    const chat = await api.createChat('Past the silent ones');
    expect(await sender.send(chat.code, 'hello')).toMatchObject({ seq: 1 });

    await Promise.all(closed);
    expect(performance.now() - opened).toBeLessThan(8000);
  });
});

describe('a client pinned to one certificate, facing another', () => {
  let real: TestServer;
  let token: string;
  beforeAll(async () => {
    real = await tlsServer(join(scratch, 'real'));
    const api = await signUp(new ApiClient({ baseUrl: real.httpUrl, tlsFingerprint: real.tlsFingerprint }), 'Cy');
    token = api.token!;
  });

  it('refuses it over HTTP before sending anything: no request, no Authorization header, no password', async () => {
    const fake = await impostor();
    const baseUrl = `https://127.0.0.1:${fake.port}`;
    const api = new ApiClient({ baseUrl, token, tlsFingerprint: real.tlsFingerprint });
    const error = await api.me().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    expect((error as Error).message).toMatch(`the server's certificate changed: expected ${real.tlsFingerprint}, got ${fake.fingerprint}`);
    await expect(api.withToken(undefined).login({ email: 'cy@example.test', password: PASSWORD })).rejects.toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    await settle();
    expect(fake.connections()).toBeGreaterThanOrEqual(2);
    expect(fake.bytes()).toHaveLength(0);

    // The control: pinned to the impostor's own certificate, the same client does send, and the
    // impostor sees the request and the token. So "no bytes" above is the pin's doing.
    const trusting = new ApiClient({ baseUrl, token, tlsFingerprint: fake.fingerprint, timeoutMs: 5000 });
    await expect(trusting.me()).rejects.toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
    await waitFor(() => fake.bytes().length > 0, 'the request at the impostor');
    expect(fake.bytes().toString('latin1')).toContain(`authorization: Bearer ${token}`);
  });

  it('refuses it over TCP before the hello: the token is never sent, and the sender gives up', async () => {
    const fake = await impostor();
    const sender = new Sender({ host: '127.0.0.1', port: fake.port, token, tls: { fingerprint: real.tlsFingerprint }, minBackoffMs: 10 });
    closers.push(() => sender.close());
    const error = await sender.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    expect((error as Error).message).toContain(`expected ${real.tlsFingerprint}, got ${fake.fingerprint}`);
    await expect(sender.send('ABCDE-12345', 'hello')).rejects.toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    await settle();
    expect(fake.connections()).toBe(1); // given up: no reconnecting to an impostor
    expect(fake.bytes()).toHaveLength(0);

    const control = new Sender({ host: '127.0.0.1', port: fake.port, token, tls: { fingerprint: fake.fingerprint }, minBackoffMs: 10_000 });
    closers.push(() => control.close());
    void control.connect().catch(() => {});
    await waitFor(() => fake.bytes().length > 0, 'the hello at the impostor');
    expect(fake.bytes().toString('latin1')).toContain(token);
    control.close();
  });

  it('refuses the server restarted with another certificate on the same ports; the same data folder brings the pin back', async () => {
    const httpPort = Number(new URL(real.httpUrl).port);
    const tcpPort = real.tcpPort;
    const pinned = new ApiClient({ baseUrl: real.httpUrl, token, tlsFingerprint: real.tlsFingerprint });
    const first = real.tlsFingerprint!;
    await real.close();

    const other = await tlsServer(join(scratch, 'other'), { httpPort, tcpPort });
    expect(other.httpUrl).toBe(real.httpUrl);
    expect(other.tlsFingerprint).not.toBe(first);
    const httpError = await pinned.me().catch((e: unknown) => e);
    expect(httpError).toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    expect((httpError as Error).message).toContain(`expected ${first}, got ${other.tlsFingerprint}`);
    const sender = new Sender({ ...(await ingestEndpointPinned(pinned, tcpPort)), token });
    closers.push(() => sender.close());
    await expect(sender.connect()).rejects.toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    await other.close();

    // The certificate and its key are kept in the data folder: a restart presents the same one.
    const again = await tlsServer(real.dataDir, { httpPort, tcpPort });
    expect(again.tlsFingerprint).toBe(first);
    expect((await pinned.me()).name).toBe('Cy');
    const resumed = new Sender({ ...(await ingestEndpoint(pinned)), token });
    closers.push(() => resumed.close());
    await resumed.connect();
    expect(resumed.connectionState).toBe('connected');
  });
});

/** ingestEndpoint asks the API for the port, which a refused API cannot answer: the same shape, by hand. */
async function ingestEndpointPinned(api: ApiClient, port: number) {
  return { host: '127.0.0.1', port, tls: { fingerprint: api.tlsFingerprint } };
}

describe('the web client\'s agent (chorus client)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await tlsServer(join(scratch, 'agent-server'));
    await signUp(new ApiClient({ baseUrl: server.httpUrl, tlsFingerprint: server.tlsFingerprint }), 'Dee');
  });

  async function openSession(profileDir: string, tlsFingerprint?: string) {
    const pushes: UiPush[] = [];
    const session = await Session.open({
      profileDir,
      server: server.httpUrl,
      ...(tlsFingerprint ? { tlsFingerprint } : {}),
      interfaceAddress: '127.0.0.1',
      push: (event) => pushes.push(event),
    });
    closers.push(() => void session.close());
    return { session, pushes };
  }

  it('logs in with the fingerprint it was given, pins it in the profile, and sends over TLS TCP', async () => {
    const profileDir = join(scratch, 'dee');
    const { session, pushes } = await openSession(profileDir, server.tlsFingerprint);
    await session.login({ email: 'dee@example.test', password: PASSWORD });
    const profile = JSON.parse(readFileSync(join(profileDir, 'profile.json'), 'utf8'));
    expect(profile).toMatchObject({ server: server.httpUrl, tlsFingerprint: server.tlsFingerprint });
    await waitFor(() => pushes.some((p) => p.type === 'connection' && p.state === 'connected'), 'the sender connected');
    const chat = await session.chats().create('Agent room');
    session.chats().send(chat.code, 'from the agent', 'agent-msg-1');
    await waitFor(() => pushes.some((p) => p.type === 'ack' && p.clientMsgId === 'agent-msg-1'), 'the ack over TLS TCP');
    expect(pushes.find((p) => p.type === 'ack')).toMatchObject({ chat: chat.code, seq: 1 });
    await session.close();

    // Reopened without the flag, the pin comes from the profile, and the saved session resumes.
    const reopened = await openSession(profileDir);
    await waitFor(() => reopened.pushes.some((p) => p.type === 'connection' && p.state === 'connected'), 'the resumed sender connected');
  });

  it('refuses a server with another certificate: the login fails and nothing is saved', async () => {
    const fake = await impostor();
    const profileDir = join(scratch, 'dee-fooled');
    const pushes: UiPush[] = [];
    const session = await Session.open({
      profileDir,
      server: `https://127.0.0.1:${fake.port}`,
      tlsFingerprint: server.tlsFingerprint,
      interfaceAddress: '127.0.0.1',
      push: (event) => pushes.push(event),
    });
    closers.push(() => void session.close());
    await expect(session.login({ email: 'dee@example.test', password: PASSWORD })).rejects.toMatchObject({ name: 'ChorusError', code: 'CERTIFICATE_CHANGED' });
    await settle();
    expect(fake.bytes()).toHaveLength(0);
    expect(existsSync(join(profileDir, 'profile.json'))).toBe(false);
  });
});

describe("the operator's own certificate", () => {
  it('is used as given, on both ports, and no certificate is made in the data folder', async () => {
    const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chat.example.lan', names: ['127.0.0.1', 'chat.example.lan'] });
    const cert = join(scratch, 'operator-cert.pem');
    const key = join(scratch, 'operator-key.pem');
    writeFileSync(cert, certPem);
    writeFileSync(key, keyPem, { mode: 0o600 });
    const dataDir = join(scratch, 'operator-data');
    const server = await startTestServer({ tls: { force: false, files: { cert, key } } }, dataDir);
    servers.push(server);

    const expected = new X509Certificate(certPem).fingerprint256;
    expect(server.tlsFingerprint).toBe(expected);
    expect(server.httpUrl.startsWith('https://')).toBe(true);
    expect(await probeFingerprint('127.0.0.1', Number(new URL(server.httpUrl).port))).toBe(expected);
    expect(await probeFingerprint('127.0.0.1', server.tcpPort)).toBe(expected);
    expect(existsSync(join(dataDir, TLS_CERT_FILE))).toBe(false);
    expect(existsSync(join(dataDir, TLS_KEY_FILE))).toBe(false);
    expect(await new ApiClient({ baseUrl: server.httpUrl, tlsFingerprint: expected }).health()).toEqual({ status: 'ok' });
  });
});

describe('a loopback server by default', () => {
  it('stays plain: http://, no TLS, no certificate made', async () => {
    const server = await startTestServer({}, join(scratch, 'plain'));
    servers.push(server);
    expect(server.httpUrl).toMatch(/^http:\/\//);
    expect(server.tlsFingerprint).toBeUndefined();
    expect(await new ApiClient({ baseUrl: server.httpUrl }).serverInfo()).toMatchObject({ tls: false });
    expect(existsSync(join(server.dataDir, TLS_CERT_FILE))).toBe(false);
  });
});

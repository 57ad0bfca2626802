import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/client/api.js';
import { probeFingerprint } from '../src/client/certificate-pin.js';
import { Sender } from '../src/client/sender.js';

/**
 * A server that accepts connections and then says nothing (hung, or something else on the
 * port) must not hold a client for ever: the HTTP client and the Sender give up at their
 * deadlines (connect, TLS handshake, welcome, answer) with "did not answer". Short deadlines
 * here; the defaults are seconds.
 */

const FINGERPRINT = Array.from({ length: 32 }, () => 'AB').join(':');
const SHORT_MS = 300;
/** Far longer than any deadline under test, far shorter than the defaults: proves which one fired. */
const BOUND_MS = 8000;

let silent: Server;
let port: number;
const accepted: Socket[] = [];

beforeAll(async () => {
  silent = createServer((socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

/** The error `work` fails with, and how long it took. */
async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = Date.now();
  const error = await work().then(
    () => new Error('it succeeded'),
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - start };
}

describe('a server that accepts and never answers', () => {
  it('the Sender gives up waiting for the welcome: "did not answer"', async () => {
    const sender = new Sender({ host: '127.0.0.1', port, token: 'token', welcomeTimeoutMs: SHORT_MS });
    const { error, ms } = await failure(() => sender.connect());
    expect(String((error as Error).message)).toBe(`the server at 127.0.0.1:${port} did not answer (no welcome within ${SHORT_MS} ms)`);
    expect(ms).toBeLessThan(BOUND_MS);
    sender.close();
  });

  it('the Sender over TLS gives up waiting for the handshake', async () => {
    const sender = new Sender({ host: '127.0.0.1', port, token: 'token', tls: { fingerprint: FINGERPRINT }, connectTimeoutMs: SHORT_MS });
    const { error, ms } = await failure(() => sender.connect());
    expect(String((error as Error).message)).toBe(`the server at 127.0.0.1:${port} did not answer (no TLS handshake within ${SHORT_MS} ms)`);
    expect(ms).toBeLessThan(BOUND_MS);
    sender.close();
  });

  it('the Sender keeps messages queued through a silent attempt and retries; they fail only when it is closed', async () => {
    const sender = new Sender({ host: '127.0.0.1', port, token: 'token', welcomeTimeoutMs: 100, minBackoffMs: 10, maxBackoffMs: 50 });
    const states: string[] = [];
    sender.onStateChange((state) => states.push(state));
    const pending = sender.send('ABCDE-12345', 'hello');
    pending.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(states.filter((s) => s === 'connecting').length).toBeGreaterThan(1);
    expect(sender.pending).toBe(1);
    sender.close();
    await expect(pending).rejects.toThrow(/closed/);
  });

  it('the API client over http:// gives up at its deadline: "did not answer"', async () => {
    const client = new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: SHORT_MS });
    const { error, ms } = await failure(() => client.health());
    expect(error).toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
    expect((error as Error).message).toBe(`the server at http://127.0.0.1:${port} did not answer (no answer within ${SHORT_MS} ms)`);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('the API client with a pinned certificate gives up on the TLS handshake, even with no overall deadline', async () => {
    const client = new ApiClient({ baseUrl: `https://127.0.0.1:${port}`, tlsFingerprint: FINGERPRINT, timeoutMs: 0, handshakeTimeoutMs: SHORT_MS });
    const { error, ms } = await failure(() => client.me());
    expect(error).toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
    expect((error as Error).message).toBe(`the server at https://127.0.0.1:${port} did not answer (no TLS handshake within ${SHORT_MS} ms)`);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('the API client with a pinned certificate heeds its overall deadline while the handshake is pending', async () => {
    // The request has no socket yet (the pinned agent is still waiting for the handshake): the
    // deadline must end it all the same.
    const client = new ApiClient({ baseUrl: `https://127.0.0.1:${port}`, tlsFingerprint: FINGERPRINT, timeoutMs: SHORT_MS });
    const { error, ms } = await failure(() => client.me());
    expect(error).toMatchObject({ name: 'ChorusError', code: 'UNREACHABLE' });
    expect((error as Error).message).toBe(`the server at https://127.0.0.1:${port} did not answer (no answer within ${SHORT_MS} ms)`);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('a first contact (fingerprint probe) gives up on the handshake', async () => {
    const { error, ms } = await failure(() => probeFingerprint('127.0.0.1', port, SHORT_MS));
    expect((error as Error).message).toBe(`no TLS handshake within ${SHORT_MS} ms`);
    expect(ms).toBeLessThan(BOUND_MS);
  });
});

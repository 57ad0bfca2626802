import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * DNS rebinding: a web page on attacker.example has its name re-pointed at 127.0.0.1, and the
 * victim's browser then sends the page's requests to the server on this machine. They carry the
 * page's name as Host: a server on loopback answers only requests that name a loopback host.
 */

let server: TestServer;
let port: number;

beforeAll(async () => {
  server = await startTestServer();
  port = Number(new URL(server.httpUrl).port);
});
afterAll(async () => {
  await server.dispose();
});

/** A request to the server with exactly this Host header (none when undefined). */
function withHost(host: string | undefined, method = 'GET', path = '/api/health', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (host !== undefined) headers.host = host;
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: host === undefined ? false : true }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('a server on loopback, reached under another name', () => {
  it('answers requests that name it by a loopback address or localhost, with or without the port', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, `127.1.2.3:${port}`]) {
      expect((await withHost(host)).status, host).toBe(200);
    }
  });

  it('refuses any other Host before a route runs: no registration is made, and the refusal says how to address it', async () => {
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `[::2]:${port}`, `192.168.1.20:${port}`]) {
      const refused = await withHost(host);
      expect(refused.status, host).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'FORBIDDEN', detail: 'This server answers only on this machine: address it as 127.0.0.1, [::1] or localhost' });
    }
    const account = JSON.stringify({ name: 'Mallory', email: 'mallory@example.com', password: 'violet tractor museum 42' });
    expect((await withHost(`attacker.example:${port}`, 'POST', '/api/users', account)).status).toBe(403);
    const login = await withHost(`127.0.0.1:${port}`, 'POST', '/api/sessions', JSON.stringify({ email: 'mallory@example.com', password: 'violet tractor museum 42' }));
    expect(login.status).toBe(401);
  });
});

import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningAgent, startAgent } from './agent.js';
import { type AgentToUi, MAX_UI_FRAME_BYTES, tabProofText } from './ui-protocol.js';

/**
 * The agent's HTTP layer as a browser, another local program or a hostile page meets it: a
 * real agent on 127.0.0.1 serving a UI folder made here, beside a file it must never give out.
 * Its server is unreachable and no one logs in: none of this needs one.
 */

const SECRET = 'outside-the-ui-folder';
const DOTFILE = 'a-dotfile-in-the-ui-folder';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, its path sent exactly as written (fetch and URL would normalise `..` away). */
function rawRequest(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function tabKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { publicKey: { x: jwk.x!, y: jwk.y! }, sign: (text: string) => sign('sha256', Buffer.from(text), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url') };
}

/** Opens /ws with these headers: the refused upgrade's status, or the socket and what it said. */
function openSocket(port: number, headers: Record<string, string>, path = '/ws'): Promise<{ status: number } | { socket: WebSocket; frames: AgentToUi[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    const frames: AgentToUi[] = [];
    const closed = new Promise<number>((done) => socket.once('close', (code) => done(code)));
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as AgentToUi));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once('open', () => resolve({ socket, frames, closed }));
    socket.once('error', reject);
  });
}

async function until<T>(find: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('timed out');
}

describe("the agent's HTTP layer", () => {
  const base = mkdtempSync(join(tmpdir(), 'chorus-agent-http-'));
  const uiDir = join(base, 'ui');
  let agent: RunningAgent;
  let origin: string;

  beforeAll(async () => {
    mkdirSync(join(uiDir, 'assets'), { recursive: true });
    mkdirSync(join(base, 'profile'));
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Chorus</title><script type="module" src="/assets/app-1234.js"></script>');
    writeFileSync(join(uiDir, 'assets', 'app-1234.js'), 'console.log("ui")');
    writeFileSync(join(uiDir, '.env'), DOTFILE);
    writeFileSync(join(uiDir, 'assets', '.hidden'), DOTFILE);
    writeFileSync(join(base, 'secret.txt'), SECRET);
    agent = await startAgent({ server: 'http://127.0.0.1:9', profileDir: join(base, 'profile'), port: 0, interfaceAddress: '127.0.0.1', uiDir });
    origin = `http://127.0.0.1:${agent.port}`;
  });

  afterAll(async () => {
    await agent?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('serves the UI files with its security headers: the page never cached, hashed assets for ever', async () => {
    const page = await rawRequest(agent.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${agent.port} ws://localhost:${agent.port}`);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['set-cookie']).toBeUndefined();
    const script = await rawRequest(agent.port, '/assets/app-1234.js');
    expect(script.body).toBe('console.log("ui")');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await rawRequest(agent.port, '/index.html?x=1')).headers['cache-control']).toBe('no-store');
    expect((await rawRequest(agent.port, '/missing.js')).status).toBe(404);
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/assets/..%5c..%5csecret.txt',
    `/${encodeURIComponent(join(base, 'secret.txt'))}`,
    `/${join(base, 'secret.txt')}`,
    '/secret.txt%00.js',
    '/.env',
    '/%2eenv',
    '/assets/.hidden',
    '/assets/',
    '/assets',
  ])('gives nothing outside the UI files for %s', async (path) => {
    const answer = await rawRequest(agent.port, path);
    expect([400, 403, 404]).toContain(answer.status);
    expect(answer.body).not.toContain(SECRET);
    expect(answer.body).not.toContain(DOTFILE);
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('refuses another Host (DNS rebinding) before anything else, and every method but GET and HEAD', async () => {
    for (const path of ['/', '/assets/app-1234.js', '/ws', '/nothing']) {
      const answer = await rawRequest(agent.port, path, { headers: { host: `evil.example:${agent.port}` } });
      expect(answer.status, path).toBe(403);
      expect(answer.body).not.toContain('<script');
    }
    expect((await rawRequest(agent.port, '/', { headers: { host: `localhost:${agent.port}` } })).status).toBe(200);
    expect((await rawRequest(agent.port, '/', { method: 'HEAD' })).status).toBe(200);
    const post = await rawRequest(agent.port, '/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await rawRequest(agent.port, '/ws')).status).toBe(426);
  });

  it('refuses a WebSocket upgrade without its own Origin and Host, or on another path, with 403', async () => {
    const refused: Record<string, string>[] = [{}, { origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://127.0.0.1:${agent.port + 1}` }, { origin, host: `evil.example:${agent.port}` }];
    for (const headers of refused) {
      expect(await openSocket(agent.port, headers), JSON.stringify(headers)).toEqual({ status: 403 });
    }
    for (const path of ['/', '/index.html', '/ws/', '/ws/x', '/nothing']) expect(await openSocket(agent.port, { origin }, path), path).toEqual({ status: 403 });
    const opened = await openSocket(agent.port, { origin: `http://localhost:${agent.port}` });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    expect((await until(() => opened.frames[0]))?.type).toBe('challenge');
    opened.socket.close();
  });

  describe('an admitted tab', () => {
    let socket: WebSocket;
    let frames: AgentToUi[];
    let closed: Promise<number>;

    beforeAll(async () => {
      const opened = await openSocket(agent.port, { origin });
      if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
      ({ socket, frames, closed } = opened);
      const challenge = await until(() => frames.find((f) => f.type === 'challenge'));
      const tab = tabKey();
      const ticket = new URL(agent.url).hash.replace('#ticket=', '');
      socket.send(JSON.stringify({ type: 'enrol', ticket, publicKey: tab.publicKey, signature: tab.sign(tabProofText(origin, challenge.nonce)) }));
      await until(() => frames.find((f) => f.type === 'admitted'));
    });

    function reply(id: number) {
      return until(() => frames.find((f) => f.type === 'reply' && f.id === id));
    }

    it('is answered BAD_UI_REQUEST, with its id, for a request its schema refuses', async () => {
      const bad = [
        { id: 21, type: 'login', email: 'a@example.test' },
        { id: 22, type: 'nope' },
        { id: 23, type: 'older', code: 'ABCDE-12345', before: -1 },
        { id: 24, type: 'send', code: 'ABCDE-12345', text: 5, clientMsgId: 'm1' },
        { id: 25, type: 'create', name: 'x'.repeat(100_001) },
      ];
      for (const request of bad) socket.send(JSON.stringify(request));
      for (const request of bad) {
        expect(await reply(request.id), JSON.stringify(request).slice(0, 80)).toMatchObject({ ok: false, error: { code: 'BAD_UI_REQUEST' } });
      }
      // A request the schema accepts reaches the session, which refuses it for its own reason.
      socket.send(JSON.stringify({ id: 26, type: 'chats', sneaky: true }));
      expect(await reply(26)).toMatchObject({ ok: false, error: { code: 'NOT_LOGGED_IN' } });
    });

    it('is closed for a frame larger than any the UI sends', async () => {
      socket.send('x'.repeat(MAX_UI_FRAME_BYTES + 1));
      expect(await closed).toBe(1009);
    });
  });

  it('closes its sockets with 1001 when it stops, and then answers nothing', async () => {
    const opened = await openSocket(agent.port, { origin });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    await agent.close();
    expect(await opened.closed).toBe(1001);
    await expect(rawRequest(agent.port, '/')).rejects.toThrow();
  });
});

import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Gate, cookieFrom } from './gate.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('Gate', () => {
  const gate = new Gate();
  gate.listeningOn(4242);
  const cookie = gate.setCookieHeader().split(';')[0]!;

  it('prints an address on 127.0.0.1 with a long random secret', () => {
    expect(gate.launchUrl).toMatch(/^http:\/\/127\.0\.0\.1:4242\/\?s=[A-Za-z0-9_-]{32}$/);
    expect(new Gate().secret).not.toBe(gate.secret);
  });

  it('matches the secret exactly', () => {
    expect(gate.secretMatches(gate.secret)).toBe(true);
    expect(gate.secretMatches(`${gate.secret}x`)).toBe(false);
    expect(gate.secretMatches(gate.secret.slice(1))).toBe(false);
    expect(gate.secretMatches('')).toBe(false);
    expect(gate.secretMatches(null)).toBe(false);
  });

  it('sets an HttpOnly, SameSite=Strict cookie named after the port, whose value is not the secret', () => {
    const header = gate.setCookieHeader();
    expect(header).toMatch(/^chorus_agent_4242=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(header).not.toContain(gate.secret);
  });

  it('recognises its cookie among others, and nothing else', () => {
    expect(gate.hasCookie(request({ cookie }))).toBe(true);
    expect(gate.hasCookie(request({ cookie: `a=b; ${cookie}; c=d` }))).toBe(true);
    expect(gate.hasCookie(request({}))).toBe(false);
    expect(gate.hasCookie(request({ cookie: cookie.replace('4242', '4243') }))).toBe(false);
    expect(gate.hasCookie(request({ cookie: `chorus_agent_4242=${gate.secret}` }))).toBe(false);
    expect(gate.hasCookie(request({ cookie: `${cookie}x` }))).toBe(false);
  });

  it('accepts only its own Host', () => {
    for (const host of ['127.0.0.1:4242', 'localhost:4242', 'LOCALHOST:4242']) expect(gate.hostAllowed(request({ host })), host).toBe(true);
    for (const host of ['127.0.0.1', 'localhost', '127.0.0.1:4243', 'evil.example:4242', '[::1]:4242', '127.0.0.2:4242', '']) {
      expect(gate.hostAllowed(request({ host })), host).toBe(false);
    }
    expect(gate.hostAllowed(request({}))).toBe(false);
  });

  it('accepts only its own Origin on the WebSocket', () => {
    for (const origin of ['http://127.0.0.1:4242', 'http://localhost:4242']) expect(gate.originAllowed(request({ origin }))).toBe(true);
    for (const origin of ['null', 'http://127.0.0.1:4243', 'https://127.0.0.1:4242', 'http://evil.example', 'http://127.0.0.1:4242/', '']) {
      expect(gate.originAllowed(request({ origin })), origin).toBe(false);
    }
    expect(gate.originAllowed(request({}))).toBe(false);
  });
});

describe('cookieFrom', () => {
  it('finds a cookie by exact name', () => {
    expect(cookieFrom('a=1; bb=2;c = 3', 'bb')).toBe('2');
    expect(cookieFrom('a=1; bb=2;c = 3', 'c')).toBe('3');
    expect(cookieFrom('ab=1', 'a')).toBeUndefined();
    expect(cookieFrom(undefined, 'a')).toBeUndefined();
    expect(cookieFrom('novalue; a=x=y', 'a')).toBe('x=y');
  });
});

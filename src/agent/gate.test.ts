import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_STATE_FILE } from './agent-state.js';
import { Gate } from './gate.js';
import { LaunchTickets, TICKET_LIFETIME_MS } from './launch-tickets.js';
import { TabKeys, signatureValid } from './tab-keys.js';
import { type TabPublicKey, tabProofText } from './ui-protocol.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

function tabKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const pub: TabPublicKey = { x: jwk.x!, y: jwk.y! };
  return { publicKey: pub, sign: (text: string) => sign('sha256', Buffer.from(text), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url') };
}

const ORIGIN = 'http://127.0.0.1:4242';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function profileDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-gate-'));
  dirs.push(dir);
  return dir;
}

async function openGate(dir = profileDir(), now?: () => number): Promise<Gate> {
  const gate = new Gate(new LaunchTickets(now));
  gate.listeningOn(4242, await TabKeys.open(dir, 4242));
  return gate;
}

function ticketOf(url: string): string {
  return new URL(url).hash.replace('#ticket=', '');
}

describe('Gate', () => {
  let gate: Gate;
  beforeEach(async () => {
    gate = await openGate();
  });

  it('prints a launch link whose one-time ticket rides in the fragment, never in the query', () => {
    const url = gate.launchUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:4242\/#ticket=[A-Za-z0-9_-]{32}$/);
    expect(new URL(url).search).toBe('');
    expect(gate.launchUrl()).not.toBe(url);
  });

  it('admits a tab once per launch link: a second use of the link, an unknown or expired ticket is refused', async () => {
    const ticket = ticketOf(gate.launchUrl());
    const tab = tabKey();
    const nonce = gate.newNonce();
    const enrol = { type: 'enrol', ticket, publicKey: tab.publicKey, signature: tab.sign(tabProofText(ORIGIN, nonce)) };
    expect(await gate.admit(enrol, ORIGIN, nonce)).toBe('admitted');
    const other = tabKey();
    const again = { ...enrol, publicKey: other.publicKey, signature: other.sign(tabProofText(ORIGIN, nonce)) };
    expect(await gate.admit(again, ORIGIN, nonce)).toBe('link-used');
    expect(await gate.admit({ ...again, ticket: 'A'.repeat(32) }, ORIGIN, nonce)).toBe('link-used');

    let now = 0;
    const aging = await openGate(profileDir(), () => now);
    const old = ticketOf(aging.launchUrl());
    now += TICKET_LIFETIME_MS;
    expect(await aging.admit({ ...again, ticket: old }, ORIGIN, nonce)).toBe('link-used');
  });

  it('spends a ticket even when its signature is wrong', async () => {
    const ticket = ticketOf(gate.launchUrl());
    const tab = tabKey();
    const nonce = gate.newNonce();
    expect(await gate.admit({ type: 'enrol', ticket, publicKey: tab.publicKey, signature: tab.sign('something else') }, ORIGIN, nonce)).toBe('refused');
    expect(await gate.admit({ type: 'enrol', ticket, publicKey: tab.publicKey, signature: tab.sign(tabProofText(ORIGIN, nonce)) }, ORIGIN, nonce)).toBe('link-used');
  });

  it('admits an enrolled key only with a signature over this nonce and this origin', async () => {
    const tab = tabKey();
    const first = gate.newNonce();
    const ticket = ticketOf(gate.launchUrl());
    expect(await gate.admit({ type: 'enrol', ticket, publicKey: tab.publicKey, signature: tab.sign(tabProofText(ORIGIN, first)) }, ORIGIN, first)).toBe('admitted');

    const nonce = gate.newNonce();
    const prove = (text: string) => ({ type: 'prove', publicKey: tab.publicKey, signature: tab.sign(text) });
    expect(await gate.admit(prove(tabProofText(ORIGIN, nonce)), ORIGIN, nonce)).toBe('admitted');
    // A signature made for another connection (replayed) or for a page on another port (relayed).
    expect(await gate.admit(prove(tabProofText(ORIGIN, first)), ORIGIN, nonce)).toBe('refused');
    expect(await gate.admit(prove(tabProofText('http://127.0.0.1:4243', nonce)), ORIGIN, nonce)).toBe('refused');
    // A key never enrolled, however well it signs.
    const stranger = tabKey();
    expect(await gate.admit({ type: 'prove', publicKey: stranger.publicKey, signature: stranger.sign(tabProofText(ORIGIN, nonce)) }, ORIGIN, nonce)).toBe('refused');
  });

  it('refuses anything that is not an admission', async () => {
    const nonce = gate.newNonce();
    const tab = tabKey();
    for (const message of [
      undefined,
      null,
      'prove',
      { type: 'login', email: 'a@b.c', password: 'x' },
      { type: 'prove' },
      { type: 'prove', publicKey: { x: 'short', y: 'short' }, signature: tab.sign(tabProofText(ORIGIN, nonce)) },
      { type: 'prove', publicKey: tab.publicKey, signature: 42 },
      { type: 'enrol', publicKey: tab.publicKey, signature: tab.sign(tabProofText(ORIGIN, nonce)) },
      { type: 'prove', publicKey: { x: tab.publicKey.y, y: tab.publicKey.x }, signature: tab.sign(tabProofText(ORIGIN, nonce)) },
    ]) {
      expect(await gate.admit(message, ORIGIN, nonce), JSON.stringify(message)).toBe('refused');
    }
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

describe('TabKeys', () => {
  it('remembers admitted tabs across a restart on the same port, in a file only the user can read, holding no secret', async () => {
    const dir = profileDir();
    const tab = tabKey();
    const keys = await TabKeys.open(dir, 5000);
    expect(await keys.enrol(tab.publicKey, tab.sign('enrol'), 'enrol')).toBe(true);
    const file = join(dir, AGENT_STATE_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ port: 5000, tabs: [{ x: tab.publicKey.x, y: tab.publicKey.y }] });

    const restarted = await TabKeys.open(dir, 5000);
    expect(await restarted.prove(tab.publicKey, tab.sign('again'), 'again')).toBe(true);
  });

  it('forgets them when the agent has to serve on another port (someone else may have held the old origin)', async () => {
    const dir = profileDir();
    const tab = tabKey();
    await (await TabKeys.open(dir, 5000)).enrol(tab.publicKey, tab.sign('enrol'), 'enrol');
    const moved = await TabKeys.open(dir, 5001);
    expect(moved.count).toBe(0);
    expect(await moved.prove(tab.publicKey, tab.sign('x'), 'x')).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, AGENT_STATE_FILE), 'utf8'))).toEqual({ port: 5001, tabs: [] });
    // Nor do they come back when the old port is free again.
    expect((await TabKeys.open(dir, 5000)).count).toBe(0);
  });

  it('keeps at most 32 tabs, dropping the least recently used', async () => {
    const dir = profileDir();
    const keys = await TabKeys.open(dir, 5000);
    const tabs = Array.from({ length: 34 }, tabKey);
    for (const tab of tabs) {
      await keys.enrol(tab.publicKey, tab.sign('e'), 'e');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(keys.count).toBe(32);
    expect(await keys.prove(tabs[0]!.publicKey, tabs[0]!.sign('p'), 'p')).toBe(false);
    expect(await keys.prove(tabs[33]!.publicKey, tabs[33]!.sign('p'), 'p')).toBe(true);
  });
});

describe('signatureValid', () => {
  it('never throws, whatever it is given', () => {
    const tab = tabKey();
    expect(signatureValid(tab.publicKey, tab.sign('t'), 't')).toBe(true);
    expect(signatureValid(tab.publicKey, tab.sign('t'), 'u')).toBe(false);
    expect(signatureValid({ x: 'A'.repeat(43), y: 'A'.repeat(43) }, tab.sign('t'), 't')).toBe(false);
    expect(signatureValid(tab.publicKey, 'A'.repeat(86), 't')).toBe(false);
    expect(signatureValid(tab.publicKey, '', 't')).toBe(false);
    expect(signatureValid(null as unknown as TabPublicKey, tab.sign('t'), 't')).toBe(false);
  });
});

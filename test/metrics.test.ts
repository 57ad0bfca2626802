import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpPortOf, waitFor } from './support/messaging.js';
import { rawFrameClient } from './support/raw-tcp.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.dispose());

/** The value of one sample line of the Prometheus text, e.g. `name{label="x"} 3`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /api/metrics', () => {
  it('counts commits, retries, refusals by code, datagrams and connections, and names no chat', async () => {
    const ada = await signUp(server.httpUrl, 'Ada');
    const call = http(server.httpUrl);
    const code: string = (await call('POST', '/api/chats', { token: ada.token, json: { name: 'Counted' } })).body.code;
    const c = await rawFrameClient(await tcpPortOf(server.httpUrl));
    await c.login(ada.token);
    for (let i = 0; i < 5; i++) c.send({ t: 'send', id: `m${i}`, chat: code, text: `counted ${i}` });
    c.send({ t: 'send', id: 'm0', chat: code, text: 'counted 0' }); // a retry: answered, not stored again
    c.send({ t: 'send', id: 'empty', chat: code, text: '' });
    c.send({ t: 'send', id: 'nowhere', chat: 'ZZZZZ-ZZZZZ', text: 'lost' });
    await waitFor(() => c.frames.filter((f) => f.t === 'ack' || f.t === 'error').length === 8, 'every answer');

    const response = await fetch(`${server.httpUrl}/api/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(sample(text, 'chorus_messages_committed_total')).toBe(5);
    expect(sample(text, 'chorus_message_retries_total')).toBe(1);
    expect(sample(text, 'chorus_acks_total')).toBe(6);
    expect(sample(text, 'chorus_sends_refused_total{code="INVALID_FIELD"}')).toBe(1);
    expect(sample(text, 'chorus_sends_refused_total{code="CHAT_NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'chorus_commits_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'chorus_commits_total')).toBeLessThanOrEqual(6);
    expect(sample(text, 'chorus_datagrams_sent_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'chorus_tcp_connections')).toBe(1);
    expect(sample(text, 'chorus_process_cpu_seconds_total')).toBeGreaterThan(0);
    for (const form of [code, code.replace('-', '')]) expect(text).not.toContain(form);
  });

  it('counts one membership event per change: a join, not a second join (which changes nothing), a leave', async () => {
    const owner = await signUp(server.httpUrl, 'Owner');
    const guest = await signUp(server.httpUrl, 'Guest');
    const call = http(server.httpUrl);
    const membershipEvents = async () => sample(await (await fetch(`${server.httpUrl}/api/metrics`)).text(), 'chorus_membership_events_total') ?? NaN;
    const code: string = (await call('POST', '/api/chats', { token: owner.token, json: { name: 'Comings and goings' } })).body.code;
    await expect.poll(membershipEvents).toBeGreaterThan(0); // the creator's own join
    const before = await membershipEvents();
    expect((await call('POST', `/api/chats/${code}/members`, { token: guest.token })).status).toBe(200);
    expect((await call('POST', `/api/chats/${code}/members`, { token: guest.token })).status).toBe(200);
    expect((await call('DELETE', `/api/chats/${code}/members/me`, { token: guest.token })).status).toBe(204);
    await expect.poll(membershipEvents).toBe(before + 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await membershipEvents()).toBe(before + 2);
  });
});

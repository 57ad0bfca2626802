import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sender } from '../src/client/sender.js';
import { recordingReceiver, waitFor } from './support/messaging.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * A new key epoch (here: a server restart) reaches receivers through the first datagram sealed
 * under it. What arrives while the new key is fetched is kept and read once it is in, so a burst
 * right after a restart comes from the multicast stream, not again over HTTP.
 */

let server: TestServer;
afterAll(async () => server?.dispose());

describe('a new key epoch in the middle of a burst', () => {
  let token: string;
  let code: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = (await signUp(server.httpUrl, 'Ada')).token;
    code = (await http(server.httpUrl)('POST', '/api/chats', { token, json: { name: 'Epochs' } })).body.code;
  });

  it('is read from the datagrams held while the key is fetched, with nothing fetched again', async () => {
    const { receiver, delivered } = await recordingReceiver(server.httpUrl, token);
    await receiver.join(code, { after: 0 });
    const epochBefore = (await http(server.httpUrl)('GET', `/api/chats/${code}`, { token })).body.multicast.keyEpoch;

    // Same data folder and ports, new process state: every chat starts a new key epoch.
    const { httpUrl, tcpPort, dataDir } = server;
    await server.close();
    server = await startTestServer({ httpPort: Number(new URL(httpUrl).port), tcpPort }, dataDir);
    expect((await http(server.httpUrl)('GET', `/api/chats/${code}`, { token })).body.multicast.keyEpoch).toBeGreaterThan(epochBefore);

    const sender = new Sender({ host: '127.0.0.1', port: tcpPort, token });
    await sender.connect();
    const count = 400;
    await Promise.all(Array.from({ length: count }, (_, i) => sender.send(code, `after restart ${i + 1}`)));
    sender.close();
    await waitFor(() => delivered.length >= count, `${count} deliveries`);
    receiver.close();

    expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(delivered.map((m) => m.text)).toEqual(Array.from({ length: count }, (_, i) => `after restart ${i + 1}`));
    expect(receiver.counts.heldForKey).toBeGreaterThan(0);
    expect(receiver.drops['unknown-key']).toBe(0);
    expect(receiver.counts.repairedMessages).toBe(0);
  });
});

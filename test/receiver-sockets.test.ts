import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MulticastJoinError } from '../src/client/receiver.js';
import { defaultServerConfig } from '../src/server/config.js';
import { CHAT_CODE, as, chorus, registerProfile, startChorus } from './support/cli.js';
import { connectedSender, recordingReceiver, waitFor } from './support/messaging.js';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * The receiver's sockets against the system's limits: Linux lets one socket join 20 groups
 * (igmp_max_memberships), so a port carrying more chats needs more sockets; and a port that
 * another program holds cannot be received on, which the person must be told in those words.
 */

const CHATS_ON_ONE_PORT = 22;

/** A UDP port free right now on loopback. */
async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A server whose every chat gets `port`. */
async function serverWithOnePort(port: number): Promise<TestServer> {
  const multicast = { ...defaultServerConfig().multicast, ports: { first: port, last: port } };
  return startTestServer({ multicast });
}

describe('a receiver with many chats on one port', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithOnePort(await freeUdpPort());
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it(`receives every one of ${CHATS_ON_ONE_PORT} chats live, past the 20 groups one socket may join`, async () => {
    const call = http(server.httpUrl);
    const ada = await signUp(server.httpUrl, 'Ada');
    const chats: { code: string; multicast: { group: string; port: number } }[] = [];
    for (let i = 0; i < CHATS_ON_ONE_PORT; i++) chats.push((await call('POST', '/api/chats', { token: ada.token, json: { name: `Room ${i}` } })).body);
    expect(new Set(chats.map((c) => c.multicast.port)).size).toBe(1);
    expect(new Set(chats.map((c) => c.multicast.group)).size).toBe(CHATS_ON_ONE_PORT);

    const { receiver, delivered } = await recordingReceiver(server.httpUrl, ada.token);
    const failures: string[] = [];
    receiver.onJoinFailure((chat, error) => failures.push(`${chat}: ${error.message}`));
    const sender = await connectedSender(server.httpUrl, ada.token);
    try {
      for (const chat of chats) await receiver.join(chat.code, { latest: 0 });
      expect(failures).toEqual([]);
      expect(receiver.socketCount).toBeGreaterThan(1);
      for (const chat of chats) await sender.send(chat.code, `hello ${chat.code}`);
      await waitFor(() => delivered.length >= CHATS_ON_ONE_PORT, 'a message in every chat');
      // Let a duplicate (the same datagram read from two sockets of the port) show.
      await new Promise((r) => setTimeout(r, 200));
      expect(delivered.map((m) => m.text).sort()).toEqual(chats.map((c) => `hello ${c.code}`).sort());
      // Live: through multicast, none fetched as a gap.
      expect(receiver.counts.repairedMessages).toBe(0);
    } finally {
      receiver.close();
      sender.close();
    }
  });
});

describe('a receiver whose chat port another program holds', () => {
  let server: TestServer;
  let port: number;
  let holder: ReturnType<typeof createSocket>;
  beforeAll(async () => {
    port = await freeUdpPort();
    // Another program bound the port without SO_REUSEADDR: nobody else may bind it.
    holder = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', resolve));
    server = await serverWithOnePort(port);
  });
  afterAll(async () => {
    holder?.close();
    await server?.dispose();
  });

  it('refuses to join with "port N is in use by another program", tells the join-failure listeners, and forgets the chat', async () => {
    const call = http(server.httpUrl);
    const ada = await signUp(server.httpUrl, 'Ada');
    const chat = (await call('POST', '/api/chats', { token: ada.token, json: { name: 'Taken' } })).body;
    const { receiver } = await recordingReceiver(server.httpUrl, ada.token);
    const failures: [string, MulticastJoinError][] = [];
    receiver.onJoinFailure((code, error) => failures.push([code, error]));
    try {
      const joining = receiver.join(chat.code, { latest: 0 });
      await expect(joining).rejects.toBeInstanceOf(MulticastJoinError);
      await expect(joining).rejects.toThrow(`port ${port} is in use by another program`);
      expect(failures.map(([code, error]) => [code, error.problem])).toEqual([[chat.code, 'port-in-use']]);
      expect(receiver.lastDelivered(chat.code)).toBeUndefined();
      expect(receiver.socketCount).toBe(0);
    } finally {
      receiver.close();
    }
  });

  it('makes chorus tail say the port is in use (not that the interface is wrong), and receive through the server instead', { timeout: 60_000 }, async () => {
    const profile = mkdtempSync(join(tmpdir(), 'chorus-port-taken-'));
    try {
      await registerProfile(profile, server.httpUrl, 'Bea');
      const code = CHAT_CODE.exec((await chorus(as(profile, 'create', 'Busy port'))).stdout)?.[1] ?? '';
      expect(code).not.toBe('');
      const tail = startChorus(as(profile, 'tail', code, '--history', '0'));
      await tail.waitFor(`chorus: ${code}: messages now come through the server`, 'stderr');
      expect(tail.output().stderr).toContain(`port ${port} is in use by another program`);
      expect(tail.output().stderr).not.toContain('--multicast-interface');
      await tail.waitFor('Following', 'stderr');
      expect((await chorus(as(profile, 'send', code, 'around the busy port'))).code).toBe(0);
      await tail.waitFor('around the busy port');
      tail.child.kill('SIGINT');
      expect((await tail.result).code).toBe(0);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

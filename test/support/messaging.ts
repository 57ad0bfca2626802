import { createSocket } from 'node:dgram';
import { publicKeyFromBase64 } from '../../src/protocol/crypto.js';
import { ApiClient } from '../../src/client/api.js';
import { type ChatMessage, Receiver, type ReceiverSource } from '../../src/client/receiver.js';
import { apiReceiverSource } from '../../src/client/receiver-source.js';
import { Sender } from '../../src/client/sender.js';
import { http } from './server.js';

/** The Receiver's source over the API client, as every client builds it. */
export function httpSource(baseUrl: string, token: string): ReceiverSource {
  return apiReceiverSource(new ApiClient({ baseUrl, token }));
}

export async function serverKeyOf(baseUrl: string) {
  const r = await http(baseUrl)('GET', '/api/server-key');
  return publicKeyFromBase64(r.body.publicKey);
}

export async function tcpPortOf(baseUrl: string): Promise<number> {
  return (await http(baseUrl)('GET', '/api/server')).body.tcpPort;
}

/** A receiver that records what it delivers. */
export async function recordingReceiver(baseUrl: string, token: string, options: { interfaceAddress?: string } = {}) {
  const receiver = new Receiver({
    source: httpSource(baseUrl, token),
    serverKey: await serverKeyOf(baseUrl),
    interfaceAddress: options.interfaceAddress ?? '127.0.0.1',
  });
  const delivered: ChatMessage[] = [];
  receiver.onMessage((m) => delivered.push(m));
  return { receiver, delivered };
}

export async function connectedSender(baseUrl: string, token: string, host = '127.0.0.1') {
  const sender = new Sender({ host, port: await tcpPortOf(baseUrl), token });
  await sender.connect();
  return sender;
}

/** Resolves when `check` holds, polling; rejects with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Joins a group on loopback and keeps every datagram that arrives: an eavesdropper's view. */
export async function captureGroup(group: string, port: number, interfaceAddress = '127.0.0.1') {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  const datagrams: Buffer[] = [];
  socket.on('message', (d) => datagrams.push(Buffer.from(d)));
  await new Promise<void>((resolve) => socket.bind(port, resolve));
  socket.addMembership(group, interfaceAddress);
  return { datagrams, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** Sends raw bytes to a group, as an attacker on the LAN could. */
export async function injectDatagrams(group: string, port: number, datagrams: Buffer[], interfaceAddress = '127.0.0.1') {
  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => socket.bind(0, interfaceAddress, resolve));
  socket.setMulticastInterface(interfaceAddress);
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  for (const d of datagrams) await new Promise<void>((resolve) => socket.send(d, port, group, () => resolve()));
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

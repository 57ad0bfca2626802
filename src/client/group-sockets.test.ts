import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { type Arrival, GroupSockets, MulticastJoinError } from './group-sockets.js';

/** Real sockets on loopback: what the system allows is what is tested. */

const open: GroupSockets[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function freePort(): Promise<number> {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function sockets(onDatagram: (d: Buffer, a: Arrival) => void = () => {}): GroupSockets {
  const s = new GroupSockets('127.0.0.1', onDatagram, () => {});
  open.push(s);
  return s;
}

const groupNo = (i: number) => `239.254.${Math.floor(i / 250)}.${(i % 250) + 1}`;

describe('GroupSockets', () => {
  it('opens another socket on the port when one is full, and closes each once its last group is left', async () => {
    const port = await freePort();
    const s = sockets();
    for (let i = 0; i < 45; i++) await s.join(groupNo(i), port);
    // Linux: 20 groups a socket (igmp_max_memberships); wherever the limit is, 45 fit.
    expect(s.socketCount).toBeGreaterThan(1);
    for (let i = 0; i < 45; i++) s.leave(groupNo(i), port);
    expect(s.socketCount).toBe(0);
  });

  it('keeps a group joined while any chat still uses it', async () => {
    const port = await freePort();
    const s = sockets();
    await s.join(groupNo(1), port);
    await s.join(groupNo(1), port);
    s.leave(groupNo(1), port);
    expect(s.socketCount).toBe(1);
    s.leave(groupNo(1), port);
    expect(s.socketCount).toBe(0);
    s.leave(groupNo(1), port); // one leave too many does nothing
  });

  it('tells each socket of the pool which groups it holds, so that a datagram is read once', async () => {
    const port = await freePort();
    const arrivals: { holds: boolean; first: boolean }[] = [];
    const target = groupNo(30);
    const s = sockets((_d, a) => arrivals.push({ holds: a.groups.has(target), first: a.first }));
    for (let i = 0; i <= 30; i++) await s.join(groupNo(i), port);
    const sender = createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    sender.setMulticastInterface('127.0.0.1');
    sender.setMulticastTTL(1);
    await new Promise<void>((resolve) => sender.send(Buffer.from('hello'), port, target, () => resolve()));
    sender.close();
    await expect.poll(() => arrivals.filter((a) => a.holds).length).toBe(1);
    expect(arrivals.filter((a) => a.first).length).toBe(1);
  });

  it('says a port another program holds is in use, and keeps no socket', async () => {
    const port = await freePort();
    const holder = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', resolve));
    try {
      const s = sockets();
      const joining = s.join(groupNo(1), port);
      await expect(joining).rejects.toBeInstanceOf(MulticastJoinError);
      await expect(joining).rejects.toMatchObject({ problem: 'port-in-use', port, syscall: 'bind', code: 'EADDRINUSE' });
      expect(s.socketCount).toBe(0);
    } finally {
      holder.close();
    }
  });

  it('says an interface address that is not this machine\'s is one', async () => {
    const s = new GroupSockets('192.0.2.7', () => {}, () => {});
    open.push(s);
    await expect(s.join(groupNo(1), await freePort())).rejects.toMatchObject({ problem: 'no-interface', syscall: 'addMembership' });
    expect(s.socketCount).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { MulticastJoinError } from '../client/receiver.js';
import { type CauseContext, type Check, type DoctorReport, canDeliver, humanReport, likelyCauses } from './doctor.js';

const base: CauseContext = { interfaceAddress: '127.0.0.1', interfaceName: 'lo', interfaceInternal: true, lanServer: false, group: '239.255.1.2', port: 24001 };

const check = (id: Check['id'], status: Check['status'], detail = 'd'): Check => ({ id, title: id, status, detail });

function reportWith(checks: Check[], rest: Partial<DoctorReport> = {}): DoctorReport {
  return { server: 'http://127.0.0.1:6789', chat: 'ABCDE-FGHJK', interface: { address: '127.0.0.1', name: 'lo' }, multicast: false, delivery: 'server', reason: 'r', verdict: 'v', hints: [], checks, ...rest };
}

describe('chorus doctor: the likely causes', () => {
  it('always names Wi-Fi, Docker, VPN and the firewall (with the chat\'s group and port)', () => {
    const hints = likelyCauses(base).join('\n');
    expect(hints).toMatch(/Wi-Fi/);
    expect(hints).toMatch(/Docker.*--network host/);
    expect(hints).toMatch(/VPN.*--multicast-interface/);
    expect(hints).toMatch(/firewall: allow incoming UDP to 239\.255\.1\.2 port 24001/);
  });

  it('puts first an address that is not this computer\'s, loopback for a server on the network, or a port another program holds', () => {
    expect(likelyCauses({ ...base, interfaceAddress: '10.9.9.9', interfaceName: null, interfaceInternal: false })[0]).toMatch(/^10\.9\.9\.9 is not an address of this computer: give --multicast-interface /);
    expect(likelyCauses({ ...base, lanServer: true })[0]).toMatch(/^multicast is received on loopback \(127\.0\.0\.1\).*--multicast-interface/);
    const taken = new MulticastJoinError('port-in-use', '239.255.1.2', 24001, 'bind', 'EADDRINUSE', 'port taken');
    expect(likelyCauses({ ...base, joinError: taken })[0]).toMatch(/^another program holds UDP port 24001/);
  });
});

describe('chorus doctor: the exit code and the lines', () => {
  it('can deliver unless the server, the session, its key or the TCP port failed', () => {
    expect(canDeliver(reportWith([check('http', 'ok'), check('join', 'fail'), check('probe', 'fail')]))).toBe(true);
    for (const id of ['http', 'session', 'server-key', 'tcp'] as const) expect(canDeliver(reportWith([check(id, 'fail')]))).toBe(false);
  });

  it('prints one line per check with ✓ ✗ –, the verdict, and what to try', () => {
    const lines = humanReport(
      reportWith([check('http', 'ok', 'answers'), check('tls', 'skip', 'plain'), check('probe', 'fail', 'no probe came back\u001b[2J')], {
        verdict: 'messages will come through the server',
        hints: ['try wired'],
      }),
    );
    expect(lines).toEqual([
      'Chorus doctor: http://127.0.0.1:6789, chat ABCDE-FGHJK',
      '  ✓ http   answers',
      '  – tls    plain',
      '  ✗ probe  no probe came back\uFFFD[2J',
      '',
      'Verdict: messages will come through the server.',
      'Likely causes, and what to try:',
      '  - try wired',
    ]);
  });
});

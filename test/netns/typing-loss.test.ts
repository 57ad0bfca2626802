// Typing indicators when their datagrams are lost (issue 13): the server in host A, Bea typing in
// B, Cal watching in C, each in its own network namespace on the test LAN. Events are never
// repaired, so a lost `typing off` must not leave "Bea is typing…" showing: C's namespace drops
// every EVENTS datagram (nftables, on the datagram's type byte) after Bea's `on` arrived, and the
// line must go by itself, TYPING_EXPIRY_MS after that `on`, not sooner (the `off` was lost) and
// not much later.
//
// Needs root, iproute2 and nftables; fails (does not skip) without them. Traffic stays inside the
// namespaces the test creates (10.213.0.0/24 exists only there).

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TYPING_EXPIRY_MS } from '../../src/protocol/limits.js';
import { ROOT, ReceiverProcess, type Setup, childEnv, startServer, tsx } from './chorus-lan.js';
import { type Lan, createLan, listNetns, requireRoot, toolPath } from './topology.js';

const PREFIX = 'chorus-typing';
const EVENTS_TABLE = 'chorus_events';

describe('typing when its datagrams are lost', { timeout: 90_000 }, () => {
  let lan: Lan | undefined;
  let dataDir: string | undefined;
  let server: ChildProcess | undefined;
  let typist: ChildProcess | undefined;
  let watcher: ReceiverProcess | undefined;

  afterAll(async () => {
    typist?.stdin?.end();
    watcher?.child.stdin?.end();
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await lan?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const left = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  });

  it(`a lost "typing off" leaves no ghost: the line goes ${TYPING_EXPIRY_MS / 1000} s after the last "on"`, async () => {
    requireRoot();
    lan = await createLan({ prefix: PREFIX, hosts: ['a', 'b', 'c'] });
    dataDir = mkdtempSync(join(tmpdir(), 'chorus-netns-'));
    const started = startServer(lan, lan.host('a'), dataDir);
    server = started.child;
    const { httpUrl, tlsFingerprint } = await started.ready;
    const run = await lan.exec('b', tsx('chorus-setup.ts', httpUrl, 'Bea', 'Cal'), { cwd: ROOT, env: childEnv({ CHORUS_FINGERPRINT: tlsFingerprint! }), timeoutMs: 60_000 });
    const setup = JSON.parse(run.stdout.trim()) as Setup;
    const c = lan.host('c');
    const cal = setup.users['Cal']!;
    watcher = new ReceiverProcess(
      c,
      lan.spawn(c, tsx('chorus-receive.ts', httpUrl, setup.chat, c.address), {
        cwd: ROOT,
        env: childEnv({ CHORUS_TOKEN: cal.token, CHORUS_FINGERPRINT: tlsFingerprint!, CHORUS_LINK: '1', CHORUS_SELF_ID: String(cal.id) }),
      }),
    );
    await watcher.waitReady();
    await watcher.until(() => watcher!.paths.length > 0, 'the delivery verdict', 10_000);
    expect(watcher.paths.map((p) => p.path)).toEqual(['multicast']);

    typist = lan.spawn('b', tsx('chorus-type.ts', lan.host('a').address, String(setup.tcpPort), setup.chat), {
      cwd: ROOT,
      env: childEnv({ CHORUS_TOKEN: setup.users['Bea']!.token, CHORUS_FINGERPRINT: tlsFingerprint! }),
    });
    let typed = '';
    typist.stdout!.setEncoding('utf8').on('data', (s: string) => (typed += s));
    while (!typed.includes('"ready"')) await new Promise((r) => setTimeout(r, 50));

    typist.stdin!.write('on\n');
    await watcher.until(() => watcher!.typing.at(-1)?.names.join() === 'Bea', '"Bea is typing"', 5000);
    const shownAt = watcher.typing.at(-1)!.at;

    // From now on C loses every EVENTS datagram (type byte 4 after the "CH" magic and the version).
    await lan.exec('c', [toolPath('nft'), '-f', '-'], {
      input: `table inet ${EVENTS_TABLE} {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    udp dport ${setup.multicast.port} @th,64,16 0x4348 @th,88,8 4 counter drop\n  }\n}\n`,
    });
    typist.stdin!.write('off\n');
    await watcher.until(() => watcher!.typing.at(-1)?.names.length === 0, 'the typing line to go', TYPING_EXPIRY_MS + 10_000);
    const goneAfter = watcher.typing.at(-1)!.at - shownAt;
    // Not at once (the "off" was lost), and not after much more than the expiry.
    expect(goneAfter).toBeGreaterThanOrEqual(TYPING_EXPIRY_MS - 1000);
    expect(goneAfter).toBeLessThanOrEqual(TYPING_EXPIRY_MS + 2000);
    const dropped = await lan.exec('c', [toolPath('nft'), 'list', 'table', 'inet', EVENTS_TABLE]);
    expect(dropped.stdout).toMatch(/counter packets [1-9]/);
  });
});

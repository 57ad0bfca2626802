import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHAT_CODE, type Running, as, chorus, registerProfile, startChorus } from './support/cli.js';
import { type TestServer, startTestServer } from './support/server.js';

/** `chorus tail` says when the server goes away and when it is back, and goes on delivering. */

const scratch = mkdtempSync(join(tmpdir(), 'chorus-tail-connection-'));
const started: Running[] = [];
let server: TestServer | undefined;

afterAll(async () => {
  for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await server?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('chorus tail while the server restarts', { timeout: 90_000 }, () => {
  it('says the connection was lost, then that it is back, and shows what is sent after', async () => {
    const dataDir = join(scratch, 'data');
    server = await startTestServer({}, dataDir);
    const { httpPort, tcpPort } = { httpPort: Number(new URL(server.httpUrl).port), tcpPort: server.tcpPort };
    const ada = join(scratch, 'ada');
    await registerProfile(ada, server.httpUrl, 'Ada');
    const code = CHAT_CODE.exec((await chorus(as(ada, 'create', 'Restarts'))).stdout)?.[1] ?? '';
    expect(code).not.toBe('');

    const tail = startChorus(as(ada, 'tail', code, '--history', '0'));
    started.push(tail);
    await tail.waitFor('Following', 'stderr');

    await server.close();
    await tail.waitFor('connection to the server lost; reconnecting', 'stderr');
    server = await startTestServer({ httpPort, tcpPort }, dataDir);
    await tail.waitFor('reconnected', 'stderr', 30_000);

    expect((await chorus(as(ada, 'send', code, 'after the restart'))).code).toBe(0);
    await tail.waitFor('Ada: after the restart');
    expect(tail.output().stderr.match(/connection to the server lost/g)).toHaveLength(1);
    tail.child.kill('SIGINT');
    expect((await tail.result).code).toBe(0);
  });
});

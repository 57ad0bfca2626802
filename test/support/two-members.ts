import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CHAT_CODE, as, chorus, registerProfile } from './cli.js';
import { type TestServer, startTestServer } from './server.js';

// Its own file, not in cli.ts: the bench imports cli.ts, and server.ts registers test hooks.

/** Ada and Bob, each with a profile of their own, registered on a fresh server, both in a chat Ada created. */
export interface TwoMembers {
  scratch: string;
  server: TestServer;
  ada: string;
  bob: string;
  code: string;
  /** Stops the server and removes the profiles. */
  dispose(): Promise<void>;
}

export async function twoMembersInAChat(scratchPrefix: string, chatName: string): Promise<TwoMembers> {
  const scratch = mkdtempSync(join(tmpdir(), scratchPrefix));
  const server = await startTestServer();
  const [ada, bob] = ['ada', 'bob'].map((name) => join(scratch, name)) as [string, string];
  await Promise.all([registerProfile(ada, server.httpUrl, 'Ada'), registerProfile(bob, server.httpUrl, 'Bob')]);
  const created = await chorus(as(ada, 'create', chatName));
  const code = CHAT_CODE.exec(created.stdout)?.[1] ?? '';
  expect(code).not.toBe('');
  expect((await chorus(as(bob, 'join', code))).code).toBe(0);
  return {
    scratch,
    server,
    ada,
    bob,
    code,
    dispose: async () => {
      await server.dispose();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

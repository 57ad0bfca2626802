import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_CODE, as, chorus, registerProfile } from '../support/cli.js';
import { type OneUser, startOneUser } from './support/one-user.js';
import { chatTitle, hasText, joinChat, openChat, register, visible } from './support/ui.js';

/**
 * The web client and the `chorus` command on one profile are one user's one account: a chat
 * created, joined or left with the command is the web's too (once the tab reconnects, at the
 * latest), and what the web shows of a chat moves the read position the command reads.
 */

const ADA = { name: 'Ada Lovelace', email: 'ada@same-profile.test', password: 'analytical engine' };

/** Runs `chorus --profile DIR ARGS…`; its stdout, or a failure with what it said. */
async function run(dir: string, ...args: string[]): Promise<string> {
  const result = await chorus(as(dir, ...args));
  if (result.code !== 0) throw new Error(`chorus ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function createWithCli(dir: string, name: string): Promise<string> {
  const code = CHAT_CODE.exec(await run(dir, 'create', name))?.[1];
  expect(code).toBeDefined();
  return code!;
}

describe('the web client and the CLI on one profile', () => {
  let world: OneUser;
  let scratch: string;
  const bob = () => join(scratch, 'bob');
  const ada = () => world.agent.profileDir;
  const chatList = () => world.user.page.getByRole('navigation', { name: 'Your chats' });

  beforeAll(async () => {
    world = await startOneUser();
    scratch = mkdtempSync(join(tmpdir(), 'chorus-same-profile-'));
    await Promise.all([register(world.user.page, ADA), registerProfile(bob(), world.server.httpUrl, 'Bob')]);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('lists chats created and joined with the CLI after a reload, receives their messages, and drops one left with the CLI', async () => {
    const { page } = world.user;
    const bobsChat = await createWithCli(bob(), "Bob's table");
    await run(bob(), 'send', bobsChat, 'hello from Bob');
    const made = await createWithCli(ada(), 'Made from CLI');
    await run(ada(), 'join', bobsChat);

    await page.reload();
    await visible(chatList().getByRole('button', { name: 'Made from CLI' }), 10_000);
    await visible(chatList().getByRole('button', { name: "Bob's table" }), 10_000);

    // Received, not just listed: a message sent now arrives live.
    await openChat(page, "Bob's table");
    await visible(page.getByRole('log').getByText('hello from Bob'));
    await run(bob(), 'send', bobsChat, 'sent after the reload');
    await visible(page.getByRole('log').getByText('sent after the reload'), 10_000);

    await run(ada(), 'leave', made);
    await page.reload();
    await hasText(chatTitle(page), "Bob's table");
    await chatList().getByRole('button', { name: 'Made from CLI' }).waitFor({ state: 'detached', timeout: 10_000 });
  }, 90_000);

  it('moves the read position on the server when a chat joined in the web shows its messages', async () => {
    const { page } = world.user;
    const code = await createWithCli(bob(), 'Second table');
    await run(bob(), 'send', code, 'the only message');
    await joinChat(page, code);
    await hasText(chatTitle(page), 'Second table');
    await visible(page.getByRole('log').getByText('the only message'));
    const readSeq = async () => {
      const chats = JSON.parse(await run(ada(), 'chats', '--json')) as { code: string; readSeq: number }[];
      return chats.find((c) => c.code === code)?.readSeq;
    };
    await expect.poll(readSeq, { timeout: 10_000, interval: 500 }).toBe(1);
  }, 60_000);
});

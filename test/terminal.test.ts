import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, chorus } from './support/cli.js';
import { type TwoMembers, twoMembersInAChat } from './support/two-members.js';
import type { TestServer } from './support/server.js';
import { Terminal } from './support/terminal.js';

/**
 * `chorus chat` in a real pseudo-terminal (tmux) at several widths, as a person sees it: whatever
 * is being typed, and however narrow the terminal, every incoming message stays on the screen.
 */

let scratch: string;
let server: TestServer;
let ada: string;
let bob: string;
let code = '';
let room: TwoMembers | undefined;
const terminals: Terminal[] = [];

beforeAll(async () => {
  room = await twoMembersInAChat('chorus-terminal-chat-', 'Terminal room');
  ({ scratch, server, ada, bob, code } = room);
});

afterAll(async () => {
  for (const terminal of terminals) terminal.kill();
  await room?.dispose();
});

function openChat(columns: number): Terminal {
  const terminal = Terminal.start(as(bob, 'chat', code, '--history', '0'), { columns });
  terminals.push(terminal);
  return terminal;
}

async function send(text: string): Promise<void> {
  const run = await chorus(as(ada, 'send', code, text));
  expect(run.code, run.stderr).toBe(0);
}

/** The screen with chat's own wrapping undone: each row break and the indent after it become `join`. */
function unwrapped(screen: string, join: string): string {
  return screen.replace(/\n {4}(?=\S)/g, join);
}

describe.each([40, 80, 120])('chorus chat at %i columns', { timeout: 90_000 }, (columns) => {
  it('shows every incoming message, whole, while a long draft wraps below them', async () => {
    const terminal = openChat(columns);
    await terminal.waitFor((screen) => screen.includes('Type a message'), 'the chat to open');
    // A draft longer than two rows of the terminal, not sent.
    const draft = `draft-${columns}-${'x'.repeat(columns * 2)}-end`;
    terminal.type(draft);
    await terminal.waitFor((screen) => screen.includes('-end'), 'the draft to be echoed');

    const long = `long-${columns} ${'word '.repeat(Math.ceil(columns / 2))}tail-${columns}`;
    const incoming = [`msg A ${columns}`, `msg B ${columns}`, long, `msg C ${columns}`];
    for (const text of incoming) await send(text);

    const screen = await terminal.waitFor((s) => s.includes(`msg C ${columns}`), 'the last message');
    // Settle: any redraw that would erase a line has happened by the time the last one is drawn.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const settled = terminal.joinedScreen();
    // A message wider than the terminal is wrapped by chat itself, between words, its later rows
    // indented by four spaces: undone, the rows are the message, every word whole.
    for (const text of incoming) expect(unwrapped(settled, ' '), `screen:\n${settled}`).toContain(`Ada: ${text}`);
    // The draft is still there, whole, on the last lines, below every message.
    expect(settled.trimEnd().endsWith(draft), `screen:\n${settled}`).toBe(true);
    expect(settled.indexOf(`msg C ${columns}`)).toBeLessThan(settled.lastIndexOf(draft));
    expect(screen).toContain(`msg C ${columns}`);

    // Sending the draft clears the input line and shows it once, as one message line.
    terminal.press('Enter');
    // One word wider than a row: cut where each row ends.
    await terminal.waitFor((s) => unwrapped(s, '').includes(`Bob: ${draft}`), 'the draft sent as a message');
    const after = await terminal.waitFor((s) => !s.includes('sending'), 'the prompt to stop counting');
    expect(unwrapped(after, '').split(draft).length - 1, `screen:\n${after}`).toBe(1);
    expect(after.trimEnd().endsWith('>'), `screen:\n${after}`).toBe(true);
    terminal.kill();
  });
});

describe('chorus register at a terminal', { timeout: 60_000 }, () => {
  it('asks again for a weak password or a confirmation that differs, saying why, then registers', async () => {
    const profile = join(scratch, 'grace');
    const terminal = Terminal.start(as(profile, 'register', '--name', 'Grace Hopper', '--email', 'grace@example.com', '--server', server.httpUrl), { columns: 100 });
    terminals.push(terminal);
    const count = (prompt: string) => (screen: string) => screen.split('\n').filter((row) => row.startsWith(prompt)).length;
    const prompts = count('Password:');
    const confirmations = count('Confirm password:');

    await terminal.waitFor((s) => prompts(s) === 1, 'the password prompt');
    terminal.type('short');
    terminal.press('Enter');
    await terminal.waitFor((s) => s.includes('Password must be at least 8 characters. Try another') && prompts(s) === 2, 'the length refusal');

    terminal.type('password123');
    terminal.press('Enter');
    await terminal.waitFor((s) => prompts(s) === 3, 'the common-password refusal');
    expect(terminal.joinedScreen()).toMatch(/Password .*common.*\. Try another/i);

    terminal.type('gracehopper');
    terminal.press('Enter');
    await terminal.waitFor((s) => s.includes('must not be built from your name or email address. Try another') && prompts(s) === 4, 'the own-name refusal');

    terminal.type('velvet kettle harbour');
    terminal.press('Enter');
    await terminal.waitFor((s) => confirmations(s) === 1, 'the confirmation prompt');
    terminal.type('velvet kettle harbor');
    terminal.press('Enter');
    await terminal.waitFor((s) => s.includes('The two passwords do not match. Try again') && prompts(s) === 5, 'the mismatch');

    terminal.type('velvet kettle harbour');
    terminal.press('Enter');
    await terminal.waitFor((s) => confirmations(s) === 2, 'the confirmation prompt again');
    terminal.type('velvet kettle harbour');
    terminal.press('Enter');
    const screen = await terminal.waitFor((s) => s.includes('Registered Grace Hopper <grace@example.com>'), 'the account');
    // Nothing typed was echoed.
    expect(screen).not.toContain('velvet');
    expect(screen).not.toContain('short');
    terminal.kill();
  });
});

describe('chorus send --stdin on a terminal', { timeout: 90_000 }, () => {
  it('shows how many are sent while the server paces them, then erases that line for the result', async () => {
    // 650 lines: the server takes a burst of 500 at once and then 50 a second, so this takes
    // about 3 s, and the progress line appears once the first second has passed.
    const lines = join(scratch, 'lines.txt');
    writeFileSync(lines, Array.from({ length: 650 }, (_, i) => `pasted line ${i + 1}`).join('\n'));
    const terminal = Terminal.start(as(ada, 'send', code, '--stdin'), { columns: 100, stdinFile: lines, keepScreen: true });
    terminals.push(terminal);
    const during = await terminal.waitFor((screen) => screen.includes(`Sending to ${code}: `), 'the progress line');
    expect(during).toMatch(new RegExp(`Sending to ${code}: \\d+ sent \\(\\d+ a second\\), \\d+ waiting…`));
    const after = await terminal.waitFor((screen) => screen.includes('Sent 650 messages'), 'the result');
    expect(after).not.toContain('Sending to');
    expect(after.split('\n').filter((row) => row.trim() !== '')).toEqual([`Sent 650 messages to ${code}.`]);
  });
});

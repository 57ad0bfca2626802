import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPING_IDLE_MS } from '../src/protocol/limits.js';
import { as, chorus } from './support/cli.js';
import { type TwoMembers, twoMembersInAChat } from './support/two-members.js';
import { Terminal } from './support/terminal.js';

/**
 * Typing indicators between two `chorus chat`s in real pseudo-terminals (tmux): what Bob sees
 * above his input while Ada types, stops, and sends.
 */

let ada: string;
let bob: string;
let code = '';
let room: TwoMembers | undefined;
const terminals: Terminal[] = [];

beforeAll(async () => {
  room = await twoMembersInAChat('chorus-terminal-typing-', 'Typing room');
  ({ ada, bob, code } = room);
});

afterAll(async () => {
  for (const terminal of terminals) terminal.kill();
  await room?.dispose();
});

function openChat(profile: string, ...extra: string[]): Terminal {
  const terminal = Terminal.start(as(profile, 'chat', code, '--history', '0', ...extra), { columns: 80 });
  terminals.push(terminal);
  return terminal;
}

const ready = (screen: string) => screen.includes('Type a message and press Enter');
const typingRow = (screen: string) => screen.split('\n').findIndex((row) => row.trimEnd() === 'Ada is typing…');

describe('chorus chat: who is typing', { timeout: 90_000 }, () => {
  it('shows "Ada is typing…" just above the input while Ada types, and removes it when she sends or stops', async () => {
    const ana = openChat(ada);
    const ben = openChat(bob);
    await ana.waitFor(ready, 'Ada\'s chat to start');
    await ben.waitFor(ready, 'Bob\'s chat to start');

    ana.type('hello the');
    const shown = await ben.waitFor((s) => typingRow(s) >= 0, '"Ada is typing…" on Bob\'s screen');
    const rows = shown.split('\n');
    expect(rows[typingRow(shown) + 1]?.trimEnd(), `screen:\n${shown}`).toBe('>');
    // Never for oneself.
    expect(ana.joinedScreen()).not.toContain('is typing');

    ana.type('re');
    ana.press('Enter');
    const sent = await ben.waitFor((s) => s.includes('Ada: hello there'), 'the message on Bob\'s screen');
    // The off came with the send: nobody is typing.
    // Before Ada's idle time could have ended it: it was the send.
    const cleared = typingRow(sent) < 0 ? sent : await ben.waitFor((s) => typingRow(s) < 0, 'the typing line gone after the send', TYPING_IDLE_MS - 500);
    expect(cleared).not.toContain('is typing');

    // A message arriving while the typing line shows is printed above it, once; the line stays just above the input.
    ana.type('and then');
    await ben.waitFor((s) => typingRow(s) >= 0, '"Ada is typing…" again');
    expect((await chorus(as(bob, 'send', code, 'from my other terminal'))).code).toBe(0);
    ana.type(' more');
    const both = await ben.waitFor((s) => s.includes('Bob: from my other terminal') && typingRow(s) >= 0, 'the message above the typing line');
    const bothRows = both.split('\n').map((row) => row.trimEnd());
    expect(bothRows.filter((row) => row === 'Ada is typing…'), `screen:\n${both}`).toHaveLength(1);
    expect(bothRows.filter((row) => row.endsWith('Bob: from my other terminal'))).toHaveLength(1);
    expect(bothRows.findIndex((row) => row.endsWith('Bob: from my other terminal'))).toBeLessThan(typingRow(both));
    expect(bothRows[typingRow(both) + 1]).toBe('>');

    // Then idle: the line goes once Ada has stopped for TYPING_IDLE_MS (with margin for the trip).
    await ben.waitFor((s) => typingRow(s) < 0, 'the typing line gone after Ada stopped', TYPING_IDLE_MS + 10_000);
    expect(ana.joinedScreen()).toContain('> and then');
  });

  it('reaches a chat that multicast does not reach: the server pushes the typing events', async () => {
    const ana = openChat(ada);
    // 192.0.2.7 (TEST-NET) is no interface of this machine: Bob's chat is pushed over TCP.
    const ben = openChat(bob, '--multicast-interface', '192.0.2.7');
    await ana.waitFor(ready, "Ada's chat to start");
    await ben.waitFor((s) => ready(s) && s.includes('messages now come through the server'), "Bob's chat on push");
    ana.type('over the server');
    // Typing is not stored: an `on` that reaches the server before Bob's watch does is not
    // pushed to him. As a person would, Ada types on after a pause (past TYPING_IDLE_MS, so her
    // next keystroke says `on` again) until Bob sees it; the first try is what nearly always shows.
    for (let attempt = 1; ; attempt++) {
      const seen = await ben.waitFor((s) => typingRow(s) >= 0, '"Ada is typing…" pushed to Bob', TYPING_IDLE_MS + 2000).then(() => true, () => false);
      if (seen) break;
      if (attempt === 3) throw new Error('"Ada is typing…" never reached Bob over the server in three bursts of typing');
      ana.type('.');
    }
    // Bob sends a line while the typing line shows: the entered line is replaced by the message, the typing line stays once.
    ben.type('me too');
    ben.press('Enter');
    const entered = await ben.waitFor((s) => s.includes('Bob: me too'), "Bob's own message");
    const rows = entered.split('\n').map((row) => row.trimEnd());
    expect(rows.filter((row) => row.includes('me too')), `screen:\n${entered}`).toHaveLength(1);
    expect(rows.filter((row) => row === 'Ada is typing…'), `screen:\n${entered}`).toHaveLength(typingRow(entered) >= 0 ? 1 : 0);
    ana.press('Enter');
    await ben.waitFor((s) => s.includes('Ada: over the server') && typingRow(s) < 0, 'the message, and no typing line');
  });
});

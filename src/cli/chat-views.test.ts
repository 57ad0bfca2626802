import { describe, expect, it } from 'vitest';
import type { Chat } from '../client/api.js';
import { chatsTable } from './chat-views.js';
import { textWidth } from './wrap.js';

const chat = (over: Partial<Chat> & Pick<Chat, 'code' | 'name'>): Chat => ({
  createdAt: '2026-11-24T10:00:00.000Z',
  createdBy: 1,
  latestSeq: 0,
  memberCount: 2,
  multicast: { group: '239.255.0.1', port: 40000, streamId: '0'.repeat(20), keyEpoch: 0, key: '' },
  readSeq: 0,
  unreadCount: 0,
  ...over,
});

describe('chats table', () => {
  it("shows the server's unread count: others' messages after the read position, not latest minus read", () => {
    // Read up to #3; #4 and #5 are one's own, #6 someone else's: one unread, not three.
    expect(chatsTable([chat({ code: 'ABCDE-12345', name: 'Team room', latestSeq: 6, readSeq: 3, unreadCount: 1 })])).toEqual([
      'CODE         NAME       MEMBERS  MESSAGES  UNREAD',
      'ABCDE-12345  Team room  2        6         1',
    ]);
  });

  it('lines up wide (CJK, emoji) names by the columns they take on screen', () => {
    const lines = chatsTable([chat({ code: 'ABCDE-12345', name: '日本語チャット' }), chat({ code: 'FGHJK-67890', name: 'Party 🎉🎉' }), chat({ code: 'MNPQR-11111', name: 'Plain' })]);
    expect(lines).toEqual([
      'CODE         NAME            MEMBERS  MESSAGES  UNREAD',
      'ABCDE-12345  日本語チャット  2        0         0',
      'FGHJK-67890  Party 🎉🎉      2        0         0',
      'MNPQR-11111  Plain           2        0         0',
    ]);
    // The MEMBERS column (the last three fields) starts at one screen column on every line.
    const membersAt = lines.map((line) => textWidth(line.slice(0, line.search(/\S+ +\S+ +\S+$/))));
    expect(membersAt).toEqual([29, 29, 29, 29]);
  });

  it('keeps within the terminal: a long name is cut with "…", the counts stay whole', () => {
    const name = `A chat whose name is as long as a name may be, ${'and then some more '.repeat(3)}`.trim();
    const lines = chatsTable([chat({ code: 'ABCDE-12345', name, latestSeq: 1234, unreadCount: 56 }), chat({ code: 'FGHJK-67890', name: '長い名前の長い長いチャット', unreadCount: 7 })], 60);
    for (const line of lines) expect(textWidth(line)).toBeLessThanOrEqual(60);
    expect(lines[1]).toMatch(/^ABCDE-12345 {2}A chat whose name i…  2 {8}1234 {6}56$/);
    expect(lines[2]).toMatch(/^FGHJK-67890 {2}長い名前の長い長い… +2 {8}0 {9}7$/);
    // Without a terminal (a pipe, a file), names are whole.
    expect(chatsTable([chat({ code: 'ABCDE-12345', name })])[1]).toContain(name);
  });
});

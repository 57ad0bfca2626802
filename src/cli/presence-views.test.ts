import { describe, expect, it } from 'vitest';
import type { Member } from '../client/api.js';
import { localMinute } from './output.js';
import { membersTable, positionText, receiptsSentence } from './presence-views.js';

const member = (over: Partial<Member> & Pick<Member, 'id' | 'name'>): Member => ({
  joinedAt: '2026-11-24T10:00:00.000Z',
  presence: 'offline',
  lastSeenAt: null,
  creator: false,
  ...over,
});

describe('members table', () => {
  it('marks the creator and oneself, says now for those connected, and private where receipts are off', () => {
    const lines = membersTable(
      [
        member({ id: 1, name: 'Ada', creator: true, presence: 'online', readSeq: 12 }),
        member({ id: 2, name: 'Ben', presence: 'away', readSeq: 0 }),
        member({ id: 3, name: 'Cleo', lastSeenAt: '2026-11-24T10:31:00.000Z' }),
        member({ id: 4, name: 'Dan\u001b[2J', readSeq: 3 }),
      ],
      2,
    );
    expect(lines).toEqual([
      'NAME           PRESENCE  LAST SEEN         READ',
      'Ada (creator)  online    now               #12',
      'Ben (you)      away      now               —',
      `Cleo           offline   ${localMinute('2026-11-24T10:31:00.000Z')}  private`,
      'Dan\uFFFD[2J        offline   unknown           #3',
    ]);
  });

  it('numbers members whose names look alike, as history numbers senders', () => {
    const lines = membersTable([member({ id: 1, name: 'alice', creator: true }), member({ id: 7, name: 'ɑlice' }), member({ id: 9, name: 'Bob' })], 7);
    expect(lines.slice(1).map((line) => line.split('  ')[0])).toEqual(['alice #1 (creator)', 'ɑlice #7 (you)', 'Bob']);
  });

  it('lines up wide names, and cuts long ones with "…" to keep within the terminal', () => {
    const lines = membersTable([member({ id: 1, name: '山田太郎', presence: 'online', readSeq: 2 }), member({ id: 2, name: `Bartholomew ${'the Magnificent '.repeat(4)}`, presence: 'online', readSeq: 2 })], 1, 47);
    expect(lines).toEqual([
      'NAME                  PRESENCE  LAST SEEN  READ',
      '山田太郎 (you)        online    now        #2',
      'Bartholomew the Mag…  online    now        #2',
    ]);
  });
});

describe('membersTable, narrow', () => {
  it('cuts a long name before the number that tells look-alikes apart and the marks, which stay whole', () => {
    const long = 'Maximilian Alexander Rosenberg';
    const lines = membersTable([member({ id: 6, name: long, creator: true }), member({ id: 7, name: long })], 7, 50);
    expect(lines.slice(1).map((line) => line.split('  ')[0])).toEqual(['Maximi… #6 (creator)', 'Maximilian… #7 (you)']);
    expect(lines.every((line) => line.length <= 50)).toBe(true);
  });
});

describe('sentences', () => {
  it('says what private mode means, and where a read position is', () => {
    expect(receiptsSentence(true)).toMatch(/^Read receipts: on\. Members of your chats see how far you have read/);
    expect(receiptsSentence(false)).toMatch(/^Read receipts: off \(private mode\)\. Nobody sees how far you have read; your read position still keeps your own unread counts/);
    expect(positionText(12, 15)).toBe('#12 of 15');
    expect(positionText(0, 3)).toBe('nothing read yet (3 so far)');
  });
});

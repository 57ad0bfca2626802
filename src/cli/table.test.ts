import { describe, expect, it } from 'vitest';
import { table } from './table.js';
import { textWidth } from './wrap.js';

/** Where each column starts on the screen, in terminal columns: aligned columns start at the same place on every line. */
const starts = (line: string) => [...line.matchAll(/(?<=^| {2})(?! )/g)].map((m) => textWidth(line.slice(0, m.index)));

describe('table', () => {
  it('lines up columns by how wide they show, not by how many characters they hold', () => {
    const lines = table(
      ['NAME', 'N'],
      [
        ['日本語チャット', '1'],
        ['Team 🎉', '2'],
        ['Cafe\u0301', '3'],
        ['Plain', '4'],
      ],
    );
    expect(lines).toEqual(['NAME            N', '日本語チャット  1', 'Team 🎉         2', 'Cafe\u0301            3', 'Plain           4']);
    for (const line of lines) expect(starts(line)).toEqual([0, 16]);
  });

  it('keeps within the width it is given: the column that gives way is cut with "…", the others whole', () => {
    const long = 'A very long chat name that goes on and on';
    const lines = table(['CODE', 'NAME', 'UNREAD'], [['ABCDE-12345', long, '3'], ['FGHJK-67890', '短い名前', '12']], { columns: 40, shrink: 1 });
    expect(lines).toEqual([
      'CODE         NAME                 UNREAD',
      'ABCDE-12345  A very long chat n…  3',
      'FGHJK-67890  短い名前             12',
    ]);
    for (const line of lines) expect(textWidth(line)).toBeLessThanOrEqual(40);
  });

  it('cuts wide names where they fit, never inside a character', () => {
    const lines = table(['NAME', 'N'], [['日本語のとても長いチャット名', '1'], [`${'👩‍👩‍👧‍👦'.repeat(8)} family`, '2']], { columns: 16, shrink: 0 });
    expect(lines[1]).toBe('日本語のとて…  1');
    expect(textWidth(lines[1]!)).toBeLessThanOrEqual(16);
    // Each family emoji stays whole (its joiners with it) or goes whole.
    expect(lines[2]).toMatch(/^(👩‍👩‍👧‍👦)*… +2$/u);
  });

  it('leaves a table that fits as it is, and never cuts below the header', () => {
    expect(table(['NAME', 'N'], [['Team', '1']], { columns: 80, shrink: 0 })).toEqual(['NAME  N', 'Team  1']);
    expect(table(['NAME', 'N'], [['Team room', '1']], { columns: 3, shrink: 0 })).toEqual(['NAME  N', 'Tea…  1']);
  });

  it('makes cells terminal-safe and keeps each on one line', () => {
    expect(table(['A', 'B'], [['x\u001b[2Jy', 'two\nlines']])).toEqual(['A       B', 'x\uFFFD[2Jy  two lines']);
  });
});

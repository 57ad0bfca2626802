import { describe, expect, it } from 'vitest';
import { textWidth, truncateToWidth, wrapText } from './wrap.js';

const widths = (text: string) => text.split('\n').map(textWidth);

describe('wrapText', () => {
  it('leaves a line that fits as it is', () => {
    expect(wrapText('[10:31] Ada: hello', 40)).toBe('[10:31] Ada: hello');
  });

  it('breaks between words, later rows indented, none wider than the terminal, no words lost', () => {
    const line = `[2026-12-01 06:16] Ada: ${'word '.repeat(30).trim()}`;
    const wrapped = wrapText(line, 40);
    expect(wrapped.split('\n')).toEqual([
      '[2026-12-01 06:16] Ada: word word word',
      '    word word word word word word word',
      '    word word word word word word word',
      '    word word word word word word word',
      '    word word word word word word',
    ]);
    expect(Math.max(...widths(wrapped))).toBeLessThanOrEqual(40);
    expect(wrapped.replace(/\n {4}/g, ' ')).toBe(line);
  });

  it('cuts a word wider than a row where the row ends', () => {
    expect(wrapText(`Ada: ${'x'.repeat(70)}`, 30).split('\n')).toEqual([`Ada: ${'x'.repeat(25)}`, `    ${'x'.repeat(26)}`, `    ${'x'.repeat(19)}`]);
  });

  it('keeps each line its own leading spaces; its wrapped rows take the indent, or those spaces where deeper', () => {
    expect(wrapText('  Enter sends the line. Commands:\n  A line starting with // sends it with one / less', 34).split('\n')).toEqual([
      '  Enter sends the line. Commands:',
      '  A line starting with // sends it',
      '    with one / less',
    ]);
    expect(wrapText('        deeply indented text that wraps around', 30).split('\n')).toEqual(['        deeply indented text', '        that wraps around']);
  });

  it('keeps line breaks, and the indent a message line already has, not doubled', () => {
    expect(wrapText('Ada: first line\n    second line is long enough to wrap here', 30).split('\n')).toEqual([
      'Ada: first line',
      '    second line is long enough',
      '    to wrap here',
    ]);
  });

  it('counts wide characters as two columns and combining marks as none', () => {
    expect(textWidth('日本語')).toBe(6);
    expect(textWidth('😀')).toBe(2);
    expect(textWidth('e\u0301')).toBe(1);
    const wrapped = wrapText(`Ada: ${'日本語 '.repeat(10).trim()}`, 24);
    expect(Math.max(...widths(wrapped))).toBeLessThanOrEqual(24);
    expect(wrapped.split('\n')[0]).toBe('Ada: 日本語 日本語');
  });

  it('counts what terminals draw as an emoji as two columns: emoji by default, by VS16, keycaps, flags, ZWJ sequences', () => {
    for (const emoji of ['✅', '⭐', '✨', '❌', '☕', '⌚', '⚡', '🆗', '❤️', '#️⃣', '🇯🇵', '👨‍👩‍👧‍👦']) expect([emoji, textWidth(emoji)]).toEqual([emoji, 2]);
    // The same symbols as text, without VS16: one column, as terminals draw them.
    expect(textWidth('❤ © ™ ↔')).toBe(7);
    const wrapped = wrapText(`Ada: ${'✅ '.repeat(30).trim()}`, 24);
    expect(Math.max(...widths(wrapped))).toBeLessThanOrEqual(24);
    // A word wider than a row is cut between whole emoji, never inside a ZWJ sequence.
    const family = '👨‍👩‍👧‍👦';
    expect(wrapText(`Ada: ${family.repeat(12)}`, 24).split('\n').every((row) => !row.includes('\u200d\n') && textWidth(row) <= 24)).toBe(true);
  });

  it('does not wrap in a terminal too narrow for it to help', () => {
    const line = 'Ada: a message of some length';
    expect(wrapText(line, 20)).toBe(line);
  });
});

describe('truncateToWidth', () => {
  it('leaves text that fits, and cuts the rest to the width with "…", counting wide characters as two', () => {
    expect(truncateToWidth('Team room', 9)).toBe('Team room');
    expect(truncateToWidth('Team room', 8)).toBe('Team ro…');
    expect(truncateToWidth('日本語チャット', 8)).toBe('日本語…');
    expect(truncateToWidth('日本語チャット', 7)).toBe('日本語…');
  });

  it('never cuts inside a character made of several code points', () => {
    expect(truncateToWidth('Cafe\u0301 au lait', 5)).toBe('Cafe\u0301…');
    expect(truncateToWidth('🇫🇷🇫🇷🇫🇷', 4)).toBe('🇫🇷…');
  });
});

import { describe, expect, it } from 'vitest';
import { checkedName, nameProblem, normalizeName } from './display-names.js';

describe('display names', () => {
  it.each([
    ['alice\u200b', 'U+200B'], // zero-width space: passes for "alice"
    ['\u202egnp.exe', 'U+202E'], // right-to-left override: shows as "exe.png"
    ['bob\u2066', 'U+2066'], // left-to-right isolate
    ['al\u00adice', 'U+00AD'], // soft hyphen
    ['a\u200db', 'U+200D'], // zero-width joiner
    ['car\ufeffol', 'U+FEFF'], // zero-width no-break space (a BOM inside a name)
    ['bell\u0007', 'U+0007'],
    ['line\u2028break', 'U+2028'],
  ])('refuses %j, naming the character', (name, codePoint) => {
    const problem = nameProblem('user', normalizeName(name));
    expect(problem).toMatchObject({ code: 'INVALID_FIELD', field: 'name' });
    expect(problem?.message).toContain(codePoint);
  });

  it('refuses NUL and lone surrogates, which the databases would not store as given', () => {
    expect(nameProblem('chat', 'room\u0000')?.message).toBe('Chat name must not contain the NUL character');
    expect(nameProblem('chat', 'room\ud800')?.message).toBe('Chat name is not well-formed Unicode text');
    expect(nameProblem('user', '\udc00x')?.message).toBe('Name is not well-formed Unicode text');
  });

  it('normalises to NFC and trims, so one name typed two ways is one name', () => {
    const composed = 'Zo\u00eb';
    const decomposed = 'Zoe\u0308';
    expect(checkedName('user', `  ${decomposed} `)).toBe(composed);
    expect(checkedName('user', composed)).toBe(composed);
  });

  it('takes letters of every script, emoji and punctuation', () => {
    for (const name of ['Zoë', 'שלום', 'مرحبا', '中文 名字', 'Ada 😀', "O'Brien-Smith", 'Ꭰ Cherokee', 'x'.repeat(64)]) {
      expect(nameProblem('user', name)).toBeUndefined();
    }
  });

  it('counts length in characters: 64 for a user, 100 for a chat', () => {
    expect(nameProblem('user', 'x'.repeat(65))?.message).toBe('Name must be at most 64 characters');
    expect(nameProblem('user', '😀'.repeat(64))).toBeUndefined();
    expect(nameProblem('chat', 'x'.repeat(100))).toBeUndefined();
    expect(nameProblem('chat', 'x'.repeat(101))?.message).toBe('Chat name must be at most 100 characters');
    expect(nameProblem('chat', normalizeName('   '))?.message).toBe('Chat name must not be empty');
  });
});

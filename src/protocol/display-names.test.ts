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
    ['alice\u2065', 'U+2065'], // unassigned, but default-ignorable: shows as nothing
    ['\u3164', 'U+3164'], // Hangul filler: a name that shows as no name
    ['bob\uffa0', 'U+FFA0'], // halfwidth Hangul filler
    ['\u115fcarol', 'U+115F'], // Hangul choseong filler
    ['\u2800', 'U+2800'], // braille pattern blank
    ['dave\u{1d159}', 'U+1D159'], // musical null notehead, drawn blank
    ['al\u034fice', 'U+034F'], // combining grapheme joiner
    ['alice\ufe0f', 'U+FE0F'], // a variation selector on a letter changes nothing
    ['ana \u{1f469}\u200d', 'U+200D'], // a joiner with no emoji after it
    ['\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}', 'U+E0067'], // tags, which can hide ASCII text
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

  it('refuses code points Unicode has not assigned yet, which may become anything', () => {
    expect(nameProblem('user', 'alice\u0378')?.message).toBe('Name must not contain characters Unicode has not assigned yet (found U+0378)');
    expect(nameProblem('chat', 'room\uffff')?.message).toBe('Chat name must not contain characters Unicode has not assigned yet (found U+FFFF)');
  });

  it('takes letters of every script, emoji and punctuation', () => {
    for (const name of ['Zoë', 'שלום', 'مرحبا', '中文 名字', 'Ada 😀', "O'Brien-Smith", 'Ꭰ Cherokee', 'x'.repeat(64)]) {
      expect(nameProblem('user', name)).toBeUndefined();
    }
  });

  it('takes Devanagari with its combining marks, Hangul syllables, and ideographic and Mongolian variation sequences', () => {
    const kanjiVariant = '\u845b\u{e0100}\u98fe'; // 葛飾 with the registered form of 葛 used in the place name
    const mongolianVariant = '\u182d\u180b\u1820'; // a Mongolian letter and the free variation selector choosing its form
    for (const name of ['नमस्ते', 'हिन्दी', '김민준', 'Ana 김', kanjiVariant, mongolianVariant]) {
      expect(nameProblem('user', name), name).toBeUndefined();
    }
  });

  it('takes emoji built with invisible characters: presentation selectors, joiners, skin tones, keycaps, flags', () => {
    const names = [
      'Ana 👩\u200d💻', // woman technologist: two emoji and a joiner
      '❤\ufe0f', // red heart, in its emoji form
      '🏳\ufe0f\u200d🌈 Pride',
      '👨\u200d👩\u200d👧\u200d👦',
      '🧑🏽\u200d🦰 Sam',
      '👍🏽',
      '1\ufe0f\u20e3 Club',
      '🇫🇷 Jean',
      '\u{1f02c}', // reserved for emoji, not yet assigned: a phone newer than the server may offer it
    ];
    for (const name of names) expect(nameProblem('user', normalizeName(name)), name).toBeUndefined();
  });

  it('counts length in characters: 64 for a user, 100 for a chat', () => {
    expect(nameProblem('user', 'x'.repeat(65))?.message).toBe('Name must be at most 64 characters');
    expect(nameProblem('user', '😀'.repeat(64))).toBeUndefined();
    expect(nameProblem('chat', 'x'.repeat(100))).toBeUndefined();
    expect(nameProblem('chat', 'x'.repeat(101))?.message).toBe('Chat name must be at most 100 characters');
    expect(nameProblem('chat', normalizeName('   '))?.message).toBe('Chat name must not be empty');
  });
});

import { describe, expect, it } from 'vitest';
import { firstInvisible, isBlankText, withoutInvisible } from './invisible-text.js';

describe('invisible text', () => {
  it('finds default-ignorable characters, assigned or not, and the blank braille pattern and null notehead', () => {
    for (const char of ['\u200b', '\u200d', '\u00ad', '\u2065', '\u3164', '\uffa0', '\u115f', '\ufe0f', '\u{e0067}', '\u2800', '\u{1d159}']) {
      expect(firstInvisible(`a${char}b`), JSON.stringify(char)).toBe(char);
    }
    expect(firstInvisible('Ana María 😀 김민준 नमस्ते')).toBeUndefined();
  });

  it('removes them, and calls a text blank that holds nothing else but white space', () => {
    expect(withoutInvisible('a\u2065l\u3164i\u2800ce')).toBe('alice');
    expect(isBlankText('')).toBe(true);
    expect(isBlankText(' \u3000\n\u200b\u2800')).toBe(true);
    expect(isBlankText(' . ')).toBe(false);
    expect(isBlankText('\u0001')).toBe(false);
  });
});

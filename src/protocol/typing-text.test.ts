import { describe, expect, it } from 'vitest';
import { typingSentence } from './typing-text.js';

describe('typingSentence', () => {
  it('names one or two people, in the order given, and stops naming beyond', () => {
    expect(typingSentence([])).toBeUndefined();
    expect(typingSentence(['Ben'])).toBe('Ben is typing…');
    expect(typingSentence(['Ben', 'Cleo'])).toBe('Ben and Cleo are typing…');
    expect(typingSentence(['Ben', 'Cleo', 'Dan'])).toBe('Several people are typing…');
  });
});

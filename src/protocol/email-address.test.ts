import { describe, expect, it } from 'vitest';
import { EMAIL_LENGTH, isEmailAddress, normalizeEmail } from './email-address.js';

describe('email addresses', () => {
  it('are kept trimmed, NFC and in lower case, so one address is one account', () => {
    expect(normalizeEmail('  Ada@Example.COM ')).toBe('ada@example.com');
    expect(normalizeEmail('Jose\u0301@example.com')).toBe('jos\u00e9@example.com');
  });

  it('have one @, something before it and a dotted domain after, no spaces or hidden characters', () => {
    for (const good of ['ada@example.com', 'a.b+c@mail.example.co.uk', 'jos\u00e9@example.com']) expect(isEmailAddress(good)).toBe(true);
    for (const bad of ['ada', 'ada@', '@example.com', 'ada@localhost', 'a da@example.com', 'ada@@example.com', 'ada@example..com', 'ada\u200b@example.com', 'ada@exam\u202eple.com']) {
      expect(isEmailAddress(bad), bad).toBe(false);
    }
  });

  it(`are at most ${EMAIL_LENGTH.max} characters`, () => {
    const local = (n: number) => 'a'.repeat(n - '@example.com'.length);
    expect(isEmailAddress(`${local(EMAIL_LENGTH.max)}@example.com`)).toBe(true);
    expect(isEmailAddress(`${local(EMAIL_LENGTH.max + 1)}@example.com`)).toBe(false);
  });
});

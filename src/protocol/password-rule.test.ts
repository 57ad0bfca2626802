import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-rule.js';

const ADA = { name: 'Ada Lovelace', email: 'ada.lovelace@example.test' };

describe('passwordProblem', () => {
  it.each(['password', '12345678', 'qwertyuiop', 'Password1!', 'iloveyou', 'trustno1'])('refuses %j as a commonly used password', (password) => {
    expect(passwordProblem(password, ADA)).toMatchObject({
      code: 'INVALID_FIELD',
      field: 'password',
      message: expect.stringMatching(/^Password is too common: it is on lists of passwords attackers try first/),
    });
  });

  it.each(['lovelace1815', 'ada.lovelace@example.test', 'AdaLovelace!', 'ada lovelace 2024'])('refuses %j as built from the name or email', (password) => {
    expect(passwordProblem(password, ADA)?.message).toBe('Password must not be built from your name or email address');
  });

  it.each(['aaaaaaaaaaaa', '19801231', 'abcdefghijk'])('refuses %j as too easy to guess', (password) => {
    expect(passwordProblem(password, ADA)?.message).toMatch(/^Password is (too easy to guess|too common)/);
  });

  it('keeps the length rule: 8 to 1024 characters', () => {
    expect(passwordProblem('short', ADA)?.message).toBe('Password must be at least 8 characters');
    expect(passwordProblem('p'.repeat(1025), ADA)?.message).toBe('Password must be at most 1024 characters');
  });

  it('refuses a lone surrogate, which two different passwords would hash the same as', () => {
    expect(passwordProblem('analytical engine \ud800', ADA)?.message).toBe('Password is not well-formed Unicode text');
  });

  it.each(['correct horse battery', 'analytical engine', 'long enough pw', 'Tr0ub4dor&3', 'on computable numbers', 'mañana será otro día'])(
    'takes %j',
    (password) => {
      expect(passwordProblem(password, ADA)).toBeUndefined();
    },
  );

  it('judges a password by whose it is: a name in it matters only for its owner', () => {
    expect(passwordProblem('lovelace1815', { name: 'Grace Hopper', email: 'grace@example.test' })).toBeUndefined();
  });
});

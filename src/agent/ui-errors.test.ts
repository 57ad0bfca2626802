import { describe, expect, it } from 'vitest';
import { ApiError, unreachable } from '../client/api.js';
import { ChorusError, chorusError } from '../protocol/errors.js';
import { isSessionEnded, mayMeanSessionEnded, toUiError } from './ui-errors.js';

describe('toUiError: every failure as the UI shows it', () => {
  it("a server's refusal, over HTTP or TCP: its code, its message as it came, its field", () => {
    expect(toUiError(new ApiError(409, 'EMAIL_TAKEN', 'An account with this email address already exists', 'email', undefined, true))).toEqual({
      code: 'EMAIL_TAKEN',
      message: 'An account with this email address already exists',
      field: 'email',
    });
    expect(toUiError(chorusError('CHAT_NOT_FOUND', 'ABCDE-12345'))).toEqual({ code: 'CHAT_NOT_FOUND', message: 'No chat with code ABCDE-12345' });
    // A server's lowercase message is not rewritten: only a client's own clauses are.
    expect(toUiError(new ChorusError('BAD_REQUEST', 'hello first'))).toEqual({ code: 'BAD_REQUEST', message: 'hello first' });
  });

  it("the client's own failures, written as clauses for the CLI, become sentences", () => {
    expect(toUiError(unreachable('http://127.0.0.1:1', 'connection refused'))).toEqual({
      code: 'UNREACHABLE',
      message: 'Cannot reach the server at http://127.0.0.1:1 (connection refused).',
    });
    expect(toUiError(unreachable('http://127.0.0.1:1', 'no answer within 30 s', { silent: true }))).toEqual({
      code: 'UNREACHABLE',
      message: 'The server at http://127.0.0.1:1 did not answer (no answer within 30 s).',
    });
    const changed = toUiError(chorusError('CERTIFICATE_CHANGED', 'https://10.0.0.5:6789', 'AA:BB', 'CC:DD'));
    expect(changed.code).toBe('CERTIFICATE_CHANGED');
    expect(changed.message).toMatch(/^The server's certificate changed: expected AA:BB, got CC:DD \(.*\)\.$/);
    expect(toUiError(chorusError('NOT_LOGGED_IN'))).toEqual({ code: 'NOT_LOGGED_IN', message: 'Log in first.' });
    expect(toUiError(chorusError('ALREADY_LOGGED_IN', 'Ada'))).toEqual({ code: 'ALREADY_LOGGED_IN', message: 'Already logged in as Ada; log out first.' });
  });

  it('anything else is a bug in the client, said as one (INTERNAL)', () => {
    expect(toUiError(new TypeError('x is undefined'))).toEqual({ code: 'INTERNAL', message: 'Something went wrong in the Chorus client: x is undefined' });
    expect(toUiError('boom')).toEqual({ code: 'INTERNAL', message: 'Something went wrong in the Chorus client: boom' });
  });
});

describe('whether a failure ends the session', () => {
  it('only an explicit HTTP answer that the session is over ends it', () => {
    expect(isSessionEnded(new ApiError(401, 'SESSION_ENDED', 'gone', undefined, undefined, true))).toBe(true);
    expect(isSessionEnded(new ApiError(401, 'UNAUTHENTICATED', 'a bare 401', undefined, undefined, false))).toBe(false);
    expect(isSessionEnded(new ChorusError('SESSION_ENDED'))).toBe(false);
    expect(isSessionEnded(unreachable('http://x'))).toBe(false);
  });

  it('a refusal over TCP may mean it, and is confirmed first', () => {
    expect(mayMeanSessionEnded(new ChorusError('SESSION_ENDED'))).toBe(true);
    expect(mayMeanSessionEnded(new ChorusError('UNAVAILABLE'))).toBe(false);
    expect(mayMeanSessionEnded(unreachable('http://x'))).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { ChorusError, ERRORS, type ErrorCode, WIRE_ERROR_CODES, chorusError, errorMessage, isErrorCode, isWireCode, wireCode } from './errors.js';
import { FrameDecoder, FrameError, encodeFrame, validateFrame } from './frames.js';

const CODES = Object.keys(ERRORS) as ErrorCode[];
const LOCAL = ['UNREACHABLE', 'CERTIFICATE_CHANGED', 'SERVER_KEY_CHANGED', 'NOT_LOGGED_IN', 'ALREADY_LOGGED_IN', 'BAD_UI_REQUEST', 'UNKNOWN_CHAT', 'LINK_LOST', 'PROFILE_INVALID', 'UI_NOT_BUILT'] as const;

/** Details enough for any template: strings and numbers both print. */
const SAMPLE_DETAILS = ['ABCDE-12345', 'AA:BB', 'CC:DD'];

describe('the error catalogue', () => {
  it('gives every code a title and a message; every wire code an HTTP status, no local code one', () => {
    for (const code of CODES) {
      const { title, status, wire } = ERRORS[code];
      expect(title.trim(), code).not.toBe('');
      const message = (errorMessage as (code: ErrorCode, ...details: unknown[]) => string)(code, ...SAMPLE_DETAILS);
      expect(message.trim(), code).not.toBe('');
      expect(message, code).not.toContain('undefined');
      if (wire) expect(status! >= 400 && status! < 600, code).toBe(true);
      else expect(status, code).toBeUndefined();
    }
  });

  it('marks what only a client raises as local, and everything a server sends as wire', () => {
    expect(CODES.filter((code) => !ERRORS[code].wire).sort()).toEqual([...LOCAL].sort());
    expect(WIRE_ERROR_CODES).toEqual(CODES.filter((code) => !(LOCAL as readonly string[]).includes(code)));
    for (const code of LOCAL) {
      expect(isErrorCode(code)).toBe(true);
      expect(isWireCode(code)).toBe(false);
      expect(wireCode(code)).toBe('INTERNAL');
    }
    expect(isWireCode('CHAT_NOT_FOUND')).toBe(true);
    expect(wireCode('CHAT_NOT_FOUND')).toBe('CHAT_NOT_FOUND');
    expect(isWireCode('toString')).toBe(false);
    expect(isErrorCode('NOPE')).toBe(false);
  });

  it('fills a template with its details: one text per code', () => {
    expect(errorMessage('CHAT_NOT_FOUND', 'ABCDE-12345')).toBe('No chat with code ABCDE-12345');
    expect(errorMessage('UNREACHABLE', 'http://127.0.0.1:1')).toBe('cannot reach the server at http://127.0.0.1:1');
    expect(errorMessage('UNREACHABLE', 'http://127.0.0.1:1', 'connection refused')).toBe('cannot reach the server at http://127.0.0.1:1 (connection refused)');
    expect(errorMessage('NOT_LOGGED_IN')).toBe('Log in first.');
  });
});

describe('ChorusError', () => {
  it('carries the code, the status from the catalogue, the field and the wait', () => {
    const error = new ChorusError('TOO_MANY_REQUESTS', 'Slow down', 'email', 30);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'ChorusError', code: 'TOO_MANY_REQUESTS', status: 429, message: 'Slow down', field: 'email', retryAfterSeconds: 30 });
  });

  it("without a message, says the catalogue's (or the title, when the template needs details)", () => {
    expect(new ChorusError('EMAIL_TAKEN').message).toBe('An account with this email address already exists');
    expect(new ChorusError('CHAT_NOT_FOUND').message).toBe('No such chat');
    expect(chorusError('CHAT_NOT_FOUND', 'ABCDE-12345').message).toBe('No chat with code ABCDE-12345');
  });

  it('a local code has no HTTP status', () => {
    expect(chorusError('UNREACHABLE', 'http://x').status).toBeUndefined();
  });
});

describe('the frame decoder and local codes', () => {
  const frame = (t: 'error' | 'refusal', code: string) =>
    t === 'error' ? { t, code, message: 'x' } : { t, about: 'watch', chat: 'ABCDE-FGHJK', code, message: 'x' };
  const bytes = (value: unknown) => {
    const json = Buffer.from(JSON.stringify(value));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(json.length);
    return Buffer.concat([length, json]);
  };

  it('takes every wire code in an error or refusal frame', () => {
    for (const code of WIRE_ERROR_CODES) {
      expect(validateFrame(frame('error', code))).toMatchObject({ code });
      expect(validateFrame(frame('refusal', code))).toMatchObject({ code });
    }
  });

  it('refuses a code local to a client, in either frame, as a malformed frame', () => {
    for (const code of LOCAL) {
      for (const t of ['error', 'refusal'] as const) {
        expect(() => validateFrame(frame(t, code)), `${t} ${code}`).toThrow(FrameError);
        const decoder = new FrameDecoder();
        expect(() => decoder.push(bytes(frame(t, code))), `${t} ${code}`).toThrow(/not a Chorus wire error code/);
      }
    }
  });

  it('the encoder and decoder agree on a wire code', () => {
    const decoded = new FrameDecoder().push(encodeFrame({ t: 'error', code: 'CHAT_NOT_FOUND', message: errorMessage('CHAT_NOT_FOUND', 'ABCDE-12345') }));
    expect(decoded).toEqual([{ t: 'error', code: 'CHAT_NOT_FOUND', message: 'No chat with code ABCDE-12345' }]);
  });
});

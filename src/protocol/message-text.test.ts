import { describe, expect, it } from 'vitest';
import { encodeFrame } from './frames.js';
import { MAX_CHAT_INPUT_LENGTH, MAX_CLIENT_MSG_ID_LENGTH, MAX_TEXT_BYTES, MAX_TEXT_JSON_BYTES } from './limits.js';
import { jsonFormProblem, messageTextProblem } from './message-text.js';

describe('messageTextProblem', () => {
  it('takes any non-empty text up to the limit, counted in UTF-8 bytes', () => {
    expect(messageTextProblem('hello')).toBeUndefined();
    expect(messageTextProblem('é'.repeat(MAX_TEXT_BYTES / 2))).toBeUndefined();
  });

  it('refuses empty text and text over the limit, naming the field, for the server and clients alike', () => {
    expect(messageTextProblem('')).toMatchObject({ code: 'INVALID_FIELD', field: 'text' });
    expect(messageTextProblem('é'.repeat(MAX_TEXT_BYTES / 2 + 1))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'text' });
  });

  it('refuses text that shows nothing: only spaces, line breaks and invisible characters', () => {
    for (const blank of [' ', '\n\t ', '\u200b', '\u3164', ' \u2800 ', '\u2065\u200d\ufe0f', '\u00ad\u202e']) {
      expect(messageTextProblem(blank), JSON.stringify(blank)).toMatchObject({
        code: 'INVALID_FIELD',
        field: 'text',
        message: 'A message must not be empty: it holds only spaces or invisible characters',
      });
    }
    expect(messageTextProblem('')?.message).toBe('A message must not be empty');
  });

  it('takes emoji built with invisible characters, and text around invisible ones', () => {
    for (const text of ['👩\u200d💻', '❤\ufe0f', ' 👍🏽 ', 'ok\u200b', '\u2800x']) {
      expect(messageTextProblem(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('refuses NUL (PostgreSQL cannot store it) and lone surrogates, for the server and clients alike', () => {
    expect(messageTextProblem('a\u0000b')).toMatchObject({ code: 'INVALID_FIELD', field: 'text', message: expect.stringContaining('U+0000') });
    expect(messageTextProblem('\u0000')).toMatchObject({ code: 'INVALID_FIELD' });
    expect(messageTextProblem('a\ud800')).toMatchObject({ code: 'INVALID_FIELD', message: expect.stringContaining('well-formed') });
    expect(messageTextProblem('\u0001 😀 \u001f')).toBeUndefined();
  });

  it('refuses a text under the limit that no frame could carry, and only such a text', () => {
    const controls = '\u0001'.repeat(MAX_TEXT_BYTES);
    expect(messageTextProblem(controls)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(() => encodeFrame({ t: 'send', id: 'x'.repeat(MAX_CLIENT_MSG_ID_LENGTH), chat: 'C'.repeat(MAX_CHAT_INPUT_LENGTH), text: controls })).toThrow();
    const fits = '\u0001'.repeat(1000);
    expect(messageTextProblem(fits)).toBeUndefined();
    expect(() => encodeFrame({ t: 'send', id: 'x'.repeat(MAX_CLIENT_MSG_ID_LENGTH), chat: 'C'.repeat(MAX_CHAT_INPUT_LENGTH), text: fits })).not.toThrow();
    // The heaviest text the rule takes, all control characters up to the JSON limit, still fits a frame.
    const heaviest = '\u0001'.repeat(MAX_TEXT_JSON_BYTES / 6);
    expect(messageTextProblem(heaviest)).toBeUndefined();
    expect(() => encodeFrame({ t: 'send', id: 'x'.repeat(MAX_CLIENT_MSG_ID_LENGTH), chat: 'C'.repeat(MAX_CHAT_INPUT_LENGTH), text: heaviest })).not.toThrow();
  });
});

describe('jsonFormProblem', () => {
  it('counts a text in its JSON form: control characters (6 bytes each) past MAX_TEXT_JSON_BYTES are refused, on the server too', () => {
    // 10,850 × U+0001 fit a frame and the UTF-8 limit, yet weigh 65 KB in every history page.
    const amplified = '\u0001'.repeat(10_850);
    expect(Buffer.byteLength(amplified)).toBeLessThan(MAX_TEXT_BYTES);
    expect(jsonFormProblem(amplified)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'text' });
    expect(messageTextProblem(amplified)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'text' });
    const fits = '\u0001'.repeat(Math.floor(MAX_TEXT_JSON_BYTES / 6));
    expect(jsonFormProblem(fits)).toBeUndefined();
    expect(messageTextProblem(fits)).toBeUndefined();
  });

  it('takes every text at the UTF-8 limit whose escapes at most double it: quotes, backslashes, newlines', () => {
    for (const ch of ['x', '"', '\\', '\n', 'é']) {
      // Ending in x's of the same size: newlines alone would be a blank message.
      const size = Buffer.byteLength(ch);
      const text = ch.repeat(MAX_TEXT_BYTES / size - 1) + 'x'.repeat(size);
      expect(messageTextProblem(text), JSON.stringify(ch)).toBeUndefined();
    }
  });
});
